# A `tarn run` killed after committing its outputs on the run branch but
# before merging: the target branch is untouched, the run's commit can never
# be merged (by the run branch's name or by its hash), and the job is then
# recorded as failed with its run branch aborted.
local_only "TARN_FAULT kills a run in the process that runs it, which through a server is the server's"
EX="$HERE/../../examples/quickstart"
expect_ok tarn table import transactions --from "$EX/data/transactions.csv"
expect_ok tarn table import countries --from "$EX/data/countries.csv"
HEAD=$(head_of main)
TARN_FAULT=run:before-merge tarn run -p "$EX" >/dev/null 2>&1
expect_eq 137 "$?" "exit status of the killed run (SIGKILL)"
expect_eq "$HEAD" "$(head_of main)" "main after the killed run"
RB=$(tarn -O json branch ls | $PY -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin) if "tarn-run" in b["name"]][0])')
RUN_COMMIT=$(head_of "$RB")
expect_json 'j[0]["properties"]["job_id"] != ""' tarn -O json commit "$RB" -n 1
expect_fail 1 "has not succeeded" tarn branch merge "$RB"
expect_fail 1 "has not succeeded" tarn branch merge "$RUN_COMMIT"
expect_eq "$HEAD" "$(head_of main)" "main after trying to merge the killed run"
# the job of the killed run is settled as failed, its run branch aborted
expect_json 'j[0]["status"] == "failed"' tarn -O json job ls
expect_json 'any(b["name"] == "'"$RB"'" and b["aborted"] for b in j)' tarn -O json branch ls
expect_fail 1 "failed run" tarn branch merge "$RB"
# the next run works
expect_ok tarn run -p "$EX"
expect_eq 3 "$(count 'SELECT count(*) FROM usd_by_country')" "outputs of the next run"
# A model's supervisor killed after the model returned its result, before
# it told how the model's processes ended: nothing vouches that they are
# gone, so the run commits nothing, though every result was in.
HEAD=$(head_of main)
TARN_FAULT=worker:before-end expect_fail 1 "was killed by signal 9 (Killed) before it could report how the model ended" tarn run -p "$EX"
expect_eq "$HEAD" "$(head_of main)" "main after a run whose supervisor vanished"
expect_json 'j[0]["status"] == "failed"' tarn -O json job ls
expect_ok tarn run -p "$EX"
