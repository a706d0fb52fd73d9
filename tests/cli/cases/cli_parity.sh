# The command line people coming from Bauplan expect: rename, prune of
# aborted run branches, info, version, did-you-mean, a per-process active
# branch (TARN_BRANCH), the author from the user, --no-trunc, merge -m on
# a fast-forward. (Bauplan issue, point 12.)
csv a.csv id 1 2 3

# branch rename / tag rename
expect_ok tarn branch create exp
expect_ok tarn checkout exp
expect_json 'j["name"] == "alice.exp" and j["old_name"] == "exp"' tarn -O json branch rename exp alice.exp
expect_json 'any(b["name"] == "alice.exp" and b["active"] for b in j) and not any(b["name"] == "exp" for b in j)' \
    tarn -O json branch ls
expect_fail 1 "does not exist" tarn branch rename exp other
expect_fail 1 "already exists" tarn branch rename alice.exp main
expect_fail 1 "belong to runs" tarn branch rename alice.exp tarn-run/x
expect_ok tarn checkout main
expect_ok tarn tag create v1
expect_ok tarn tag rename v1 release-1
expect_json '[t["name"] for t in j] == ["release-1"]' tarn -O json tag ls
expect_fail 1 "does not exist" tarn tag rename v1 v2

# did-you-mean: commands, subcommands, refs
expect_fail 2 "did you mean 'branch'" tarn brnch ls
expect_fail 2 "did you mean 'branch rename'" tarn branch renme a b
expect_fail 1 "did you mean 'main'" tarn query "SELECT 1" --ref mian
expect_fail 1 "did you mean 'release-1'" tarn branch create x --from-ref release1

# info and version
expect_json 'j["branch"] == "main" and j["catalog"]["backend"] == "sqlite" and j["version"]' tarn -O json info
expect_out "lakehouse" tarn info
expect_out "tarn " tarn version
expect_json 'j["version"]' tarn -O json version

# TARN_BRANCH: each process its own active branch, .tarn/HEAD untouched
expect_ok tarn branch create agent-a
TARN_BRANCH=agent-a tarn table import only_a --from a.csv >/dev/null
expect_json '"default.only_a" in [t["name"] for t in j]' tarn -O json table ls --ref agent-a
expect_json '"default.only_a" not in [t["name"] for t in j]' tarn -O json table ls
_run env TARN_BRANCH=agent-a "$TARN_BIN" -O json info
expect_eq agent-a "$(echo "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["branch"])')" "active branch under TARN_BRANCH"
_run env TARN_BRANCH=agent-a "$TARN_BIN" checkout main
expect_eq 1 "$RC" "checkout under TARN_BRANCH is refused"
case "$ERR" in *"export TARN_BRANCH=main"*) ;; *) _fail "checkout under TARN_BRANCH: $ERR" ;; esac
expect_eq main "$(active_head)" ".tarn/HEAD"
_run env TARN_BRANCH='bad name' "$TARN_BIN" table ls
expect_eq 1 "$RC" "an invalid TARN_BRANCH is an error"

# the author is the user, not "tarn" (through a server: the token's user,
# whoever the client process runs as)
_run env -u TARN_AUTHOR USER=ada "$TARN_BIN" table import who --from a.csv
if on_remote; then
    expect_json 'j[0]["author"] == "'"$TARN_TEST_USER"'"' tarn -O json commit -n 1
else
    expect_json 'j[0]["author"] == "ada"' tarn -O json commit -n 1
fi

# --no-trunc
LONGV=$(printf 'x%.0s' $(seq 100))
expect_out "xxx..." tarn query "SELECT '$LONGV' AS v"
expect_no_out "$LONGV" tarn query "SELECT '$LONGV' AS v"
expect_out "$LONGV" tarn query "SELECT '$LONGV' AS v" --no-trunc
expect_json 'len(j["rows"][0][0]) == 100' tarn -O json query "SELECT '$LONGV' AS v"

# merge -m on a fast-forward makes a merge commit with the message
expect_ok tarn branch create ff
expect_ok tarn table import ff_t --from a.csv --branch ff
expect_json 'j["fast_forward"] == False' tarn -O json branch merge ff -m "bring ff in"
expect_json 'j[0]["message"] == "bring ff in" and len(j[0]["parents"]) == 2' tarn -O json commit -n 1
expect_ok tarn branch create ff2
expect_ok tarn table import ff2_t --from a.csv --branch ff2
expect_json 'j["fast_forward"] == True' tarn -O json branch merge ff2

# branch prune --aborted
local_only "TARN_FAULT fails a run in the process that runs it, which through a server is the server's"
EX="$HERE/../../examples/quickstart"
expect_ok tarn table import transactions --from "$EX/data/transactions.csv"
expect_ok tarn table import countries --from "$EX/data/countries.csv"
TARN_FAULT=run:before-merge tarn run -p "$EX" >/dev/null 2>&1
expect_ok tarn job ls
RB=$(tarn -O json branch ls | $PY -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin) if b["name"].startswith("tarn-run/")][0])')
expect_json 'j["branches"] == [] and j["count"] == 0' tarn -O json branch prune --aborted --older-than 7d
expect_json 'j["branches"] == ["'"$RB"'"] and j["dry_run"]' tarn -O json branch prune --aborted --dry-run
expect_json 'j["branches"] == ["'"$RB"'"] and not j["dry_run"]' tarn -O json branch prune --aborted
expect_no_out "tarn-run/" tarn branch ls
expect_fail 2 "--aborted" tarn branch prune
expect_fail 2 "duration" tarn branch prune --aborted --older-than soon
