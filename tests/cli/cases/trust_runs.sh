# A run's outcome is never wrong: killed right after its merge it is a
# success (so nobody retries an APPEND twice); a live run is never judged
# dead by a process that cannot see it; env gc leaves a running pipeline's
# packages alone. (Trust issue, points 4, 5, 6.)
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv
mkdir -p app
cat >app/m.py <<'PY'
import tarn

@tarn.model(materialization_strategy="APPEND")
@tarn.python("3.11")
def grow(data=tarn.Model("t")):
    return data.to_pandas()
PY

local_only "TARN_FAULT kills a run in the process that runs it, which through a server is the server's"
# 4. Killed right after the merge's transaction: the job succeeded, its
# rows are on main once, its run branch is gone.
TARN_FAULT=run:after-merge tarn run -p app >/dev/null 2>&1
expect_eq 137 "$?" "exit status of the run killed after its merge"
expect_json 'j[0]["status"] == "success" and j[0]["commit"]' tarn -O json job ls
expect_eq "$(tarn -O json job ls | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["commit"])')" \
    "$(head_of main)" "main is at the job's commit"
expect_eq 2 "$(count 'SELECT count(*) FROM grow')" "rows appended once"
expect_no_out "tarn-run/" tarn branch ls
# killed inside the merge's transaction: nothing merged, the job failed
TARN_FAULT=run:before-merge-commit tarn run -p app >/dev/null 2>&1
expect_eq 137 "$?" "exit status of the run killed inside its merge"
expect_eq 2 "$(count 'SELECT count(*) FROM grow')" "rows after the run killed inside its merge"
expect_json 'j[0]["status"] == "failed" and not j[0]["commit"]' tarn -O json job ls

# 5. A read from another PID namespace does not fail a live run.
cat >app/m.py <<'PY'
import time
import tarn

@tarn.model(materialization_strategy="APPEND")
@tarn.python("3.11")
def grow(data=tarn.Model("t")):
    time.sleep(4)
    return data.to_pandas()
PY
tarn run -p app >"$TARN_CASE_TMP/slow.out" 2>&1 &
RUN_PID=$!
for _ in $(seq 50); do
    tarn -O json job ls | $PY -c 'import json,sys; sys.exit(json.load(sys.stdin)[0]["status"] != "running")' && break
    sleep 0.1
done
if unshare -Urpf --mount-proc true 2>/dev/null; then
    OTHER=$(unshare -Urpf --mount-proc "$TARN_BIN" -O json job ls)
    expect_eq running "$(echo "$OTHER" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')" \
        "the job seen from another PID namespace"
else
    echo "    (no PID namespaces here: the other-namespace read is skipped)" >&2
fi
expect_json 'j[0]["status"] == "running"' tarn -O json job ls
wait $RUN_PID
expect_eq 0 "$?" "the slow run's exit status"
expect_json 'j[0]["status"] == "success"' tarn -O json job ls
expect_eq 4 "$(count 'SELECT count(*) FROM grow')" "rows after the slow run"

# 6. env gc --keep-days 0 during a run keeps what the run uses.
mkdir -p wheels
$PY - <<'PY'
import os, sys
sys.path.insert(0, os.environ["TARN_PYTHONPATH"])
from tarn.envs import build_wheel
build_wheel("wheels", "slowpkg", "1.0", {"slowpkg/__init__.py": "VALUE = 7\n"})
PY
export TARN_FIND_LINKS="$PWD/wheels"
cat >app/m.py <<'PY'
import time
import tarn

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11", pip={"slowpkg": "1.0"})
def pinned(data=tarn.Model("t")):
    time.sleep(3)
    import slowpkg
    return {"value": [slowpkg.VALUE]}
PY
tarn run -p app >"$TARN_CASE_TMP/env.out" 2>&1 &
RUN_PID=$!
for _ in $(seq 50); do
    tarn -O json job ls | $PY -c 'import json,sys; j=json.load(sys.stdin)[0]; sys.exit(j["status"] != "running")' && break
    sleep 0.1
done
expect_json 'j["packages"] == [] and j["environments"] == []' tarn -O json env gc --keep-days 0
wait $RUN_PID
expect_eq 0 "$?" "the pinned run's exit status ($(tail -2 "$TARN_CASE_TMP/env.out"))"
expect_eq 7 "$(count 'SELECT value FROM pinned')" "the value the package gave"

# A branch with a name of up to 255 characters can be run on (the run's
# own branch is named after the job, not after it).
LONG=$(printf 'b%.0s' $(seq 250))
expect_ok tarn branch create "$LONG"
cat >app/m.py <<'PY'
import tarn

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11")
def small(data=tarn.Model("t")):
    return data.to_pandas()
PY
expect_ok tarn run -p app --ref "$LONG"
expect_eq 2 "$(count 'SELECT count(*) FROM small' --ref "$LONG")" "rows of a run on a 250-character branch"
