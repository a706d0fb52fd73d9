# A model that starts a background process (a daemon holding its output
# pipe) does not hang the run: when the task ends, everything it started
# is killed. The same holds with fewer kernel features (Landlock only, no
# namespaces) and unconfined (run.confine = off).
csv t.csv id 1
expect_ok tarn table import t --from t.csv
mkdir -p proj
run_daemon_case() {
    local mark="1000.$RANDOM$RANDOM"
    cat >proj/m.py <<PY
import os, tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def spawner(data=tarn.Model("t")):
    pid = os.fork()
    if pid == 0:            # a daemon: new session, double fork, keeps stdout
        os.setsid()
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", "$mark"])
        os._exit(0)
    os.waitpid(pid, 0)
    print("daemon started")
    return {"ok": [True]}
PY
    # bounded: the old behaviour waited for the daemon (1000 s)
    expect_ok timeout 60 "$TARN_BIN" run -p proj
    if pgrep -f "sleep $mark" >/dev/null; then
        _fail "the daemon outlived its task ($1)"
        pkill -f "sleep $mark"
    fi
}
run_daemon_case "default"
TARN_CONFINE_WITHOUT=namespaces run_daemon_case "Landlock only"
echo "run.confine = off" >>.tarn/config
run_daemon_case "unconfined"
