# How failures are told: @tarn.python("3.1") is not satisfied by 3.11; a
# model that kills its worker's parent is not reported as "exited with
# status 0"; a long traceback keeps its end (the exception) in the message
# and all of it in the job's log.
csv t.csv id 1
expect_ok tarn table import t --from t.csv
mkdir -p proj
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.1")
def old_python(data=tarn.Model("t")):
    return data
PY
expect_fail 1 "asks for Python 3.1, but no interpreter provides it" tarn run -p proj

cat >proj/m.py <<'PY'
import os, signal, tarn

@tarn.model()
@tarn.python("3.11")
def parricide(data=tarn.Model("t")):
    os.kill(os.getppid(), signal.SIGKILL)
    return data
PY
# confined, its parent is out of its reach
expect_fail 1 "PermissionError" tarn run -p proj
case "$ERR" in *"status 0"*) _fail "reported as a clean exit: $ERR" ;; esac
# unconfined, it can kill its supervisor: told as such (and its scratch
# folder, in this TMPDIR, is removed all the same)
echo "run.confine = off" >>.tarn/config
mkdir -p scratch
export TMPDIR=$PWD/scratch
expect_fail 1 "killed by signal 9" tarn run -p proj
case "$ERR" in *"status 0"*) _fail "reported as a clean exit: $ERR" ;; esac
case "$ERR" in *"the model may have killed it"*) ;; *) _fail "the message does not say what may have happened" ;; esac
# ... or the warm parent of all workers
cat >proj/m.py <<'PY'
import os, signal, tarn

def parent_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])

@tarn.model()
@tarn.python("3.11")
def regicide(data=tarn.Model("t")):
    os.kill(parent_of(os.getppid()), signal.SIGKILL)
    # Returning at once would race the news of the parent's death: the
    # result may arrive first, and the run (rightly) succeed.
    import time; time.sleep(1)
    return data
PY
expect_fail 1 "parent process died while model 'regicide' ran" tarn run -p proj
case "$ERR" in *"status 0"*) _fail "reported as a clean exit: $ERR" ;; esac
sed -i '/^run.confine/d' .tarn/config
sed -i 's/os.kill(parent_of(os.getppid()), signal.SIGKILL)/pass/' proj/m.py
expect_ok tarn run -p proj   # the next warm parent removes what the killed one left
expect_eq "" "$(ls scratch)" "scratch folders left behind"
unset TMPDIR

cat >proj/m.py <<'PY'
import tarn

def ping(n):  # ping and pong alternate, so Python does not fold the frames
    if n == 0:
        raise ValueError("the real reason, at the end of a long traceback")
    return pong(n - 1)

def pong(n):
    return ping(n - 1)

@tarn.model()
@tarn.python("3.11")
def long_trace(data=tarn.Model("t")):
    return ping(40)
PY
expect_json_rc 1 '"ValueError: the real reason, at the end of a long traceback" in j["error"] and "earlier lines not shown here" in j["error"] and j["error"].startswith("model '"'"'long_trace'"'"'")' \
    tarn -O json run -p proj
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
expect_out "long_trace @ m.py | Traceback (most recent call last):" tarn job logs "$JOB"
case "$OUT" in *'in long_trace'*) ;; *) _fail "the log lacks the traceback's first frame" ;; esac
