# tests/cli/lib.sh — helpers for end-to-end cases of the `tarn` command.
#
# A case file (tests/cli/cases/NAME.sh) is sourced by run.sh inside a fresh
# temporary folder on which `tarn init` has already run. `tarn` is a function
# calling the binary under test. Every helper runs one command, checks one
# observable thing (exit code, stdout/stderr text, JSON) and, on failure,
# prints what it ran and what it saw, and counts the failure; run.sh marks
# the case failed if any helper failed or the case itself exited non-zero.
#
#   expect_ok CMD...                       exit 0
#   expect_fail CODE "substring" CMD...    exit CODE, substring in stdout+stderr
#   expect_out "substring" CMD...          exit 0, substring in stdout
#   expect_no_out "substring" CMD...       exit 0, substring NOT in stdout
#   expect_json 'EXPR' CMD...              exit 0, stdout is JSON j and EXPR holds
#   expect_json_rc CODE 'EXPR' CMD...      same, exit CODE
#   expect_eq EXPECTED ACTUAL "what"       two strings equal
#   count 'SQL' [ARGS...]                  prints the first value of a query
#   head_of REF                            prints the commit REF resolves to
#   on_s3                                  true when the lakehouse keeps its data on S3
#   data_files                             the store's data file keys (data/...), one a line
#   put_object KEY FILE                    puts FILE into the store as KEY (a stray object)
#   has_object KEY                         true if the store holds KEY
#   on_remote                              true when commands go through a server
#   local_section "why"                    false through a server: skips a part
#   local_only "why"                       through a server (TARN_TEST_REMOTE=1):
#                                          ends the case as skipped, saying why
#   catalog_sql 'SQL'                      runs SQL on this lakehouse's catalog
#                                          (SQLite file or PostgreSQL schema)
#
# After each helper, $OUT, $ERR and $RC hold the last command's stdout,
# stderr and exit code.

PY=/usr/bin/python3
tarn() { "$TARN_BIN" "$@"; }

_fail() {
    # the line of the case file that called the failing helper
    local i line="?"
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then line="${BASH_LINENO[$((i - 1))]}"; break; fi
    done
    echo "    line $line: $*" >&2
    echo x >>"$TARN_CASE_FAILS"
}

_run() {
    OUT=$("$@" 2>"$TARN_CASE_TMP/stderr")
    RC=$?
    ERR=$(cat "$TARN_CASE_TMP/stderr")
}

_show() {
    echo "      ran: $*" >&2
    echo "      exit $RC; stdout: $(printf '%s' "$OUT" | head -c 600)" >&2
    echo "      stderr: $(printf '%s' "$ERR" | head -c 600)" >&2
}

expect_ok() {
    _run "$@"
    if [ "$RC" -ne 0 ]; then _fail "expected exit 0"; _show "$@"; return 1; fi
}

expect_fail() {
    local code="$1" sub="$2"; shift 2
    _run "$@"
    if [ "$RC" -ne "$code" ]; then _fail "expected exit $code"; _show "$@"; return 1; fi
    case "$OUT$ERR" in
        *"$sub"*) ;;
        *) _fail "expected message containing '$sub'"; _show "$@"; return 1 ;;
    esac
}

expect_out() {
    local sub="$1"; shift
    _run "$@"
    if [ "$RC" -ne 0 ]; then _fail "expected exit 0"; _show "$@"; return 1; fi
    case "$OUT" in
        *"$sub"*) ;;
        *) _fail "expected stdout containing '$sub'"; _show "$@"; return 1 ;;
    esac
}

expect_no_out() {
    local sub="$1"; shift
    _run "$@"
    if [ "$RC" -ne 0 ]; then _fail "expected exit 0"; _show "$@"; return 1; fi
    case "$OUT" in
        *"$sub"*) _fail "expected stdout NOT containing '$sub'"; _show "$@"; return 1 ;;
    esac
}

_check_json() {
    local expr="$1"
    printf '%s' "$OUT" | $PY -c '
import json, sys
j = json.load(sys.stdin)
ok = eval(sys.argv[1])
sys.exit(0 if ok else 3)' "$expr" 2>"$TARN_CASE_TMP/pyerr"
}

expect_json_rc() {
    local code="$1" expr="$2"; shift 2
    _run "$@"
    if [ "$RC" -ne "$code" ]; then _fail "expected exit $code"; _show "$@"; return 1; fi
    if ! _check_json "$expr"; then
        _fail "JSON check failed: $expr ($(tail -1 "$TARN_CASE_TMP/pyerr"))"; _show "$@"; return 1
    fi
}

expect_json() {
    local expr="$1"; shift
    expect_json_rc 0 "$expr" "$@"
}

expect_eq() {
    if [ "$1" != "$2" ]; then _fail "$3: expected '$1', got '$2'"; return 1; fi
}

# count SQL [query options...]: the first value of the first row.
count() {
    local sql="$1"; shift
    "$TARN_BIN" -O json query "$sql" "$@" 2>/dev/null |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])' 2>/dev/null || echo "ERROR"
}

# head_of REF: the commit hash REF names (from `tarn commit REF -n 1`).
head_of() {
    "$TARN_BIN" -O json commit "$1" -n 1 2>/dev/null |
        $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])' 2>/dev/null || echo "ERROR"
}

# csv FILE LINES...: writes a CSV file, one argument per line.
csv() {
    local f="$1"; shift
    printf '%s\n' "$@" >"$f"
}

# The object store, whichever it is (tests/cli/run_s3.sh: s3rver keeps
# bucket `lake` under $S3_DATA, one file per object).
on_s3() { [ "${TARN_TEST_STORAGE:-}" = s3 ]; }

data_files() {
    if on_s3; then
        local dir="$S3_DATA/lake/$TARN_TEST_PREFIX"
        [ -d "$dir/data" ] || return 0
        (cd "$dir" && find data -name '*._S3rver_object' | sed 's/\._S3rver_object$//' | sort)
    else
        [ -d .tarn/objects/data ] || return 0
        (cd .tarn/objects && find data -type f | sort)
    fi
}

put_object() {
    if on_s3; then
        curl -sf -X PUT --data-binary "@$2" "$S3_ENDPOINT/lake/$TARN_TEST_PREFIX/$1" >/dev/null
    else
        mkdir -p "$(dirname ".tarn/objects/$1")" && cp "$2" ".tarn/objects/$1"
    fi
}

del_object() {
    if on_s3; then rm -f "$S3_DATA/lake/$TARN_TEST_PREFIX/$1"._S3rver_*; else rm -f ".tarn/objects/$1"; fi
}

has_object() {
    if on_s3; then [ -f "$S3_DATA/lake/$TARN_TEST_PREFIX/$1._S3rver_object" ]; else [ -f ".tarn/objects/$1" ]; fi
}

# on_remote: true when the case talks to a server (TARN_TEST_REMOTE=1);
# TARN_TEST_USER is then its token's user.
on_remote() { [ "${TARN_TEST_REMOTE:-}" = 1 ]; }

# local_section WHY: false through a server (the part it guards is left
# out, and run.sh reports WHY); true otherwise. Use as
#   if local_section "why"; then ...; fi
local_section() {
    if on_remote; then
        printf '%s\n' "$*" >>"$TARN_CASE_TMP/skipped_parts"
        return 1
    fi
}

# local_only WHY: the rest of the case needs the lakehouse's own host (its
# files, its environment, several lakehouses): through a server the case
# stops here and run.sh reports it skipped with WHY.
local_only() {
    if [ "${TARN_TEST_REMOTE:-}" = 1 ]; then
        printf 'from line %s on, through a server: %s\n' "${BASH_LINENO[0]}" "$*" >"$TARN_CASE_TMP/skip"
        exit 0
    fi
}

# active_head: the file that keeps the active branch, read: .tarn/HEAD, or
# through a server the client's own (under $XDG_STATE_HOME/tarn/remotes/).
active_head() {
    if [ "${TARN_TEST_REMOTE:-}" = 1 ]; then cat "$XDG_STATE_HOME"/tarn/remotes/*/HEAD; else cat .tarn/HEAD; fi
}

# catalog_sql SQL: the rows SQL returns from the current lakehouse's catalog,
# '|'-separated: sqlite3 on .tarn/catalog.db, or psql on the schema its
# config names (tests that look at the catalog's tables run on both).
catalog_sql() {
    local url
    url=$(sed -n 's/^catalog *= *//p' .tarn/config 2>/dev/null | tail -1)
    if [ -z "$url" ]; then sqlite3 .tarn/catalog.db "$1"; return; fi
    local schema=tarn base=${url%%\?*}
    case "$url" in *schema=*) schema=${url##*schema=}; schema=${schema%%&*} ;; esac
    PGOPTIONS="-csearch_path=$schema" psql -X -q -A -t "$base" -c "$1"
}
