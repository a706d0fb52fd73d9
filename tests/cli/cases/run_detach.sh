# A detached run returns once its job is recorded and runs on in its own
# session; `tarn job stop` ends it within a second: its workers and what
# they started are killed, a running query is interrupted, nothing is
# committed, its run branch stays aborted and the job ends "cancelled".
# Through a server the same: the server runs it on without its client.
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv
mkdir -p proj
cat >proj/m.py <<'PY'
import subprocess
import time

import tarn

@tarn.model(materialization_strategy="REPLACE")
def slow(data=tarn.Model("t")):
    subprocess.Popen(["sleep", "31337"])
    print("child started", flush=True)
    time.sleep(600)
    return data

@tarn.model(materialization_strategy="REPLACE")
def after(data=tarn.Model("slow")):
    return data
PY
# wait_log JOB TEXT: until the job's log holds TEXT (at most 60 s)
wait_log() {
    for _ in $(seq 600); do
        tarn job logs "$1" 2>/dev/null | grep -qF "$2" && return 0
        sleep 0.1
    done
    _fail "job $1 never logged '$2'"
}
H=$(head_of main)
expect_json 'j["status"] == "running" and j["detached"] is True' tarn -O json run -p proj --detach
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
expect_json 'j["status"] == "running"' tarn -O json job get "$JOB"
wait_log "$JOB" "slow @ m.py:9 | child started"
pgrep -f "sleep 31337" >/dev/null || _fail "the model's child is not running"
expect_out "job $JOB cancelled" tarn job stop "$JOB"
expect_json 'j["status"] == "cancelled" and [(t["name"], t["outcome"]) for t in j["tasks"]] == [("slow", "cancelled"), ("after", "skipped")] and "was cancelled" in j["error"]' \
    tarn -O json job get "$JOB"
for _ in $(seq 50); do pgrep -f "sleep 31337" >/dev/null || break; sleep 0.1; done
pgrep -f "sleep 31337" >/dev/null && _fail "the model's child outlived the cancel"
expect_eq "$H" "$(head_of main)" "main after a cancelled run"
expect_out "tarn-run/$JOB" tarn branch ls
case "$OUT" in *"tarn-run/$JOB"*"(aborted)"*) ;; *) _fail "the run branch is not aborted: $OUT" ;; esac
expect_out "cancel requested" tarn job logs "$JOB"
expect_fail 1 "job $JOB is not running (it ended: cancelled)" tarn job stop "$JOB"
expect_fail 1 "no job 'ffffffff'" tarn job stop ffffffff

# a SQL model's query is interrupted
rm proj/m.py
printf -- '-- tarn: materialize=true\nSELECT count(*) AS n FROM range(100000000) a, range(100000000) b\n' >proj/q.sql
expect_ok tarn run -p proj --detach
JOB=$(printf '%s' "$OUT" | sed -n 's/^job \([0-9a-f]*\) started.*/\1/p')
wait_log "$JOB" "on branch 'main'"
sleep 1
expect_out "job $JOB cancelled" tarn job stop "$JOB"
expect_json '[(t["name"], t["outcome"]) for t in j["tasks"]] == [("q", "cancelled")]' tarn -O json job get "$JOB"
expect_eq "$H" "$(head_of main)" "main after a cancelled query"

# a run that cannot start says why at once, detached or not
expect_fail 1 "project folder" tarn run -p nowhere --detach
expect_fail 2 "cannot be a --dry-run" tarn run -p proj --detach --dry-run
