# tarn run: the quickstart pipeline end to end, dry run, parameters, jobs,
# reruns, and the transaction (a failing model leaves the branch untouched
# and its run branch aborted and unmergeable).
EX="$HERE/../../examples/quickstart"
expect_ok tarn table import transactions --from "$EX/data/transactions.csv"
expect_ok tarn table import countries --from "$EX/data/countries.csv"
BEFORE=$(head_of main)
# dry run: the DAG and the pushed-down scan (its parameter bound, not
# spliced), nothing runs or changes
expect_out "scan default.transactions columns [id, usd, country] where country IN ('IT', 'FR', 'DE') AND usd >= \$min_usd" \
    tarn run -p "$EX" --dry-run
expect_out 'parameters: $min_usd = 0.0' tarn run -p "$EX" --dry-run
expect_eq "$BEFORE" "$(head_of main)" "main after a dry run"
expect_json 'j == []' tarn -O json job ls
# a real run: one commit on main with both materialized outputs
expect_json 'j["outcome"] == "success" and [t["name"] for t in j["tasks"]] == ["euro_selection", "usd_by_country", "no_negative_usd", "country_report"] and all(t["outcome"] == "success" for t in j["tasks"])' \
    tarn -O json run -p "$EX"
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
EXPECTED=$(count "SELECT count(DISTINCT country) FROM transactions WHERE country IN ('IT','FR','DE')")
expect_eq "$EXPECTED" "$(count 'SELECT count(*) FROM usd_by_country')" "usd_by_country rows"
expect_eq "$(count "SELECT round(sum(usd), 2) FROM transactions WHERE country IN ('IT','FR','DE')")" \
    "$(count 'SELECT round(sum(usd), 2) FROM country_report')" "country_report total"
expect_json 'j[0]["parents"] == ["'"$BEFORE"'"] and j[0]["properties"]["job_id"] == "'"$JOB"'" and "usd_by_country" in j[0]["properties"]["models"]' \
    tarn -O json commit -n 1
# user prints are labelled model @ file:line
expect_out "euro_selection @ models.py:" tarn job logs "$JOB"
expect_json 'j["status"] == "success" and j["branch"] == "main"' tarn -O json job get "$JOB"
# the run branch is gone after success
expect_no_out "tarn-run" tarn branch ls
# parameters reach filters
expect_ok tarn run -p "$EX" --param min_usd=4000
expect_eq "$(count "SELECT round(sum(usd), 2) FROM transactions WHERE country IN ('IT','FR','DE') AND usd >= 4000")" \
    "$(count 'SELECT round(sum(usd), 2) FROM usd_by_country')" "usd_by_country with min_usd=4000"
expect_fail 1 "parameter 'min_usd' is a float: 'lots' is not one" tarn run -p "$EX" --param min_usd=lots
expect_fail 1 "unknown parameter 'nope'" tarn run -p "$EX" --param nope=1
# rerun: same code, same input commit
expect_json 'j["outcome"] == "success"' tarn -O json job rerun "$JOB"
expect_eq "$(count 'SELECT round(sum(usd), 2) FROM usd_by_country' --ref main~2)" \
    "$(count 'SELECT round(sum(usd), 2) FROM usd_by_country')" "rerun gives the first run's result"

# a failing model: main untouched, run branch aborted and never merged
mkdir -p bad
cat >bad/models.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def first(data=tarn.Model("transactions", columns=["id"])):
    return data

@tarn.model(materialize=True)
@tarn.python("3.11")
def second(data=tarn.Model("first")):
    print("about to fail")
    raise ValueError("boom")
PY
HEAD=$(head_of main)
expect_fail 1 "ValueError: boom" tarn run -p bad
expect_eq "$HEAD" "$(head_of main)" "main after a failed run"
expect_fail 1 "not found" tarn table get first
expect_json_rc 1 'j["outcome"] == "failed" and j["tasks"][0]["outcome"] == "success" and j["tasks"][1]["outcome"] == "failed"' \
    tarn -O json run -p bad
RB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_branch"])')
expect_json 'any(b["name"] == "'"$RB"'" and b["aborted"] for b in j)' tarn -O json branch ls
expect_fail 1 "failed run" tarn branch merge "$RB"
expect_fail 1 "failed run" tarn table import x --from "$EX/data/countries.csv" --branch "$RB"
expect_eq "$HEAD" "$(head_of main)" "main after trying to merge a failed run"
# crashes and bad return values are reported, not fatal
cat >bad/models.py <<'PY'
import os, tarn

@tarn.model()
@tarn.python("3.11")
def crash(data=tarn.Model("countries")):
    os.kill(os.getpid(), 11)
PY
expect_fail 1 "signal 11" tarn run -p bad
cat >bad/models.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def not_a_table(data=tarn.Model("countries")):
    return 42
PY
expect_fail 1 "cannot make a tarn.Table from int" tarn run -p bad
expect_eq "$HEAD" "$(head_of main)" "main after crashing runs"
# --no-transaction writes directly
cat >bad/models.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def direct(data=tarn.Model("countries", filter="region = 'EU'")):
    return data
PY
expect_ok tarn run -p bad --no-transaction
expect_eq 5 "$(count 'SELECT count(*) FROM direct')" "direct rows"
