# Limits: @tarn.resources(memory=, timeout=, cpus=) and their defaults in
# .tarn/config (run.memory_limit_mb, run.timeout_s, run.cpus). A model over
# a limit fails saying which limit, not "killed by signal 9"; bad values
# are refused before anything runs.
csv t.csv id 1
expect_ok tarn table import t --from t.csv
mkdir -p proj
HEAD=$(head_of main)
cat >proj/m.py <<'PY'
import tarn
import numpy as np

@tarn.model()
@tarn.resources(memory="256M")
@tarn.python("3.11")
def hog(data=tarn.Model("t")):
    x = np.ones(2 * 1024**3 // 8)  # 2 GiB
    return {"n": [len(x)]}
PY
expect_fail 1 "model 'hog' exceeded its memory limit (256 MiB)" tarn run -p proj
cat >proj/m.py <<'PY'
import time, tarn

@tarn.model()
@tarn.resources(timeout=1)
@tarn.python("3.11")
def sleeper(data=tarn.Model("t")):
    print("going to sleep")
    time.sleep(600)
    return data
PY
expect_fail 1 "model 'sleeper' exceeded its time limit (1 s)" timeout 60 "$TARN_BIN" run -p proj
case "$ERR" in *"going to sleep"*) ;; *) _fail "its last words come with the message" ;; esac
# defaults from .tarn/config, for models that declare nothing
cat >proj/m.py <<'PY'
import time, tarn

@tarn.model()
@tarn.python("3.11")
def slow(data=tarn.Model("t")):
    time.sleep(600)
    return data
PY
printf 'run.timeout_s = 1\nrun.cpus = 1\n' >>.tarn/config   # run.cpus is checked below
expect_fail 1 "model 'slow' exceeded its time limit (1 s)" timeout 60 "$TARN_BIN" run -p proj
case "$ERR" in *"run.timeout_s in .tarn/config"*) ;; *) _fail "the message names the setting" ;; esac
sed -i '/^run\.timeout_s/d' .tarn/config
cat >proj/m.py <<'PY'
import tarn
import numpy as np

@tarn.model()
@tarn.python("3.11")
def hog(data=tarn.Model("t")):
    return {"n": [len(np.ones(2 * 1024**3 // 8))]}
PY
echo 'run.memory_limit_mb = 300' >>.tarn/config
expect_fail 1 "model 'hog' exceeded its memory limit (300 MiB)" tarn run -p proj
sed -i '/^run\.memory_limit_mb/d' .tarn/config
cat >proj/m.py <<'PY'
import os, tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def cpus(data=tarn.Model("t")):
    return {"n": [len(os.sched_getaffinity(0))]}

@tarn.model(materialize=True)
@tarn.resources(cpus=2, memory=1024, timeout=60)
@tarn.python("3.11")
def two_cpus(data=tarn.Model("t")):
    return {"n": [len(os.sched_getaffinity(0))]}
PY
expect_ok tarn run -p proj
expect_eq 1 "$(count 'SELECT n FROM cpus')" "CPUs of a model under run.cpus = 1"
WANT=$($PY -c 'import os; print(min(2, len(os.sched_getaffinity(0))))')
expect_eq "$WANT" "$(count 'SELECT n FROM two_cpus')" "CPUs of a model declaring cpus=2"
HEAD=$(head_of main)
# bad values: refused at plan time, naming the file and the value
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.resources(memory="lots")
@tarn.python("3.11")
def bad(data=tarn.Model("t")):
    return data
PY
expect_fail 1 "m.py:4: ValueError: memory='lots'" tarn run -p proj
sed -i 's/memory="lots"/timeout=-5/' proj/m.py
expect_fail 1 "timeout=-5: give a positive number of seconds" tarn run -p proj
sed -i 's/timeout=-5/memory=8/' proj/m.py
expect_fail 1 "less than 16 MiB" tarn run -p proj
sed -i 's/@tarn.resources(memory=8)/@tarn.resources()/' proj/m.py
echo 'run.timeout_s = soon' >>.tarn/config
expect_fail 1 "run.timeout_s in .tarn/config must be a number of seconds" tarn run -p proj
sed -i 's/^run\.timeout_s = soon/run.confine = sometimes/' .tarn/config
expect_fail 1 "run.confine in .tarn/config must be 'auto' or 'off'" tarn run -p proj
sed -i '/^run\.confine/d' .tarn/config
expect_json 'j == [] or all(x["status"] != "running" for x in j)' tarn -O json job ls
expect_eq "$HEAD" "$(head_of main)" "main after refused runs"
