# tarn run borrows a warm Python parent from the warm runtime (a per-user
# process started on first use) and gives it back: the next run reuses it.
# Each run's models still see that run's own environment, and a run killed
# mid-model takes its borrowed parent and the model with it; the runtime
# lives on and lends a new one.
local_only "models see the environment of the process that runs them, through a server the server's (tests/python/test_remote.py: server runs borrow warm parents)"
mkdir -p proj
cat >proj/m.py <<'PY'
import os
import time

import tarn


@tarn.model(materialize=True, cache_strategy="NONE")  # reads os.environ: never reused
@tarn.python("3.11")
def seen():
    if os.environ.get("MODEL_SLEEP"):
        print("sleeping", flush=True)
        time.sleep(float(os.environ["MODEL_SLEEP"]))
    return {"v": [os.environ.get("MODEL_VALUE", "unset")]}
PY
zygotes() { # STATE: the pids of the runtime's zygotes in that state
    tarn -O json runtime status 2>/dev/null |
        $PY -c 'import json,sys; print(" ".join(str(z["pid"]) for z in json.load(sys.stdin)["zygotes"] if z["state"] == sys.argv[1]))' "$1"
}
wait_for() { # CMD...: until it succeeds, at most 10 s
    local i
    for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
    return 1
}
idle_soon() { [ -n "$(zygotes idle)" ]; }

expect_fail 1 "no warm runtime" tarn runtime status
MODEL_VALUE=first expect_ok tarn run -p proj
expect_eq first "$(count 'SELECT v FROM seen')" "what the first run's model saw"
wait_for idle_soon
FIRST=$(zygotes idle)
expect_eq 1 "$(echo "$FIRST" | wc -w)" "idle zygotes after the first run"
MODEL_VALUE=second expect_ok tarn run -p proj
expect_eq second "$(count 'SELECT v FROM seen')" "the second run's model sees the second run's environment"
wait_for idle_soon
expect_eq "$FIRST" "$(zygotes idle)" "the second run borrowed the first run's zygote and gave it back"

# killed while its model runs: the borrowed zygote goes with it, the
# runtime does not
MODEL_SLEEP=60 "$TARN_BIN" run -p proj >run.out 2>&1 &
RUN=$!
wait_for grep -q sleeping run.out
LENT=$(zygotes lent)
expect_eq "$FIRST" "$LENT" "the running run borrowed the idle zygote"
kill -9 "$RUN"
wait "$RUN" 2>/dev/null
gone() { ! kill -0 "$LENT" 2>/dev/null && [ -z "$(zygotes lent)" ]; }
wait_for gone
expect_ok gone
expect_no_out "$LENT" tarn -O json runtime status
MODEL_VALUE=third expect_ok tarn run -p proj
expect_eq third "$(count 'SELECT v FROM seen')" "a run after the killed one"

# TARN_RUNTIME=off: the run starts its own parent
expect_ok tarn runtime stop
TARN_RUNTIME=off MODEL_VALUE=fourth expect_ok tarn run -p proj
expect_eq fourth "$(count 'SELECT v FROM seen')" "a run without the warm runtime"
expect_fail 1 "no warm runtime" tarn runtime status
