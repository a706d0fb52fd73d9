# The warm runtime: its socket lives in a folder of the user's alone (0700),
# it answers status and stop (text and -O json), exits by itself after its
# idle time, and a folder others may enter is refused with a clear error
# while runs go on without it.
expect_out "Show the warm runtime" tarn runtime --help
expect_out "--idle" tarn runtime serve --help
expect_out "usage: tarn runtime status" tarn runtime status --help
expect_out "usage: tarn runtime stop" tarn runtime stop --help
expect_fail 2 "" tarn runtime frob
expect_fail 2 "--idle" tarn runtime serve --idle soon
expect_fail 1 "no warm runtime" tarn runtime status
expect_fail 1 "no warm runtime" tarn runtime stop

wait_for() { # CMD...: until it succeeds, at most 10 s
    local i
    for i in $(seq 1 100); do "$@" && return 0; sleep 0.1; done
    return 1
}
serving() { "$TARN_BIN" runtime status >/dev/null 2>&1; }

"$TARN_BIN" runtime serve --idle 2 >serve.out 2>&1 &
SERVER=$!
wait_for serving
expect_eq 700 "$(stat -c %a "$TARN_RUNTIME_DIR")" "the runtime folder's mode"
expect_json "j['pid'] == $SERVER and j['idle_seconds'] == 2 and j['zygotes'] == [] and j['socket'].startswith('$TARN_RUNTIME_DIR/')" \
    tarn -O json runtime status
SOCK=$(tarn -O json runtime status | $PY -c 'import json,sys; print(json.load(sys.stdin)["socket"])')
[ -S "$SOCK" ] || _fail "no socket at $SOCK"
expect_out "warm runtime $SERVER" tarn runtime status
expect_out "scan results kept in memory: 0 (0.0 of" tarn runtime status
expect_json "j['scans']['entries'] == 0 and j['scans']['max_bytes'] > 0" tarn -O json runtime status
expect_fail 1 "already running" tarn runtime serve --idle 2

# idle for 2 s with no borrower: it exits, and removes its socket
ended() { ! kill -0 "$SERVER" 2>/dev/null; }
wait_for ended
expect_ok ended
wait "$SERVER"
expect_eq 0 "$?" "the idle runtime's exit status"
[ -e "$SOCK" ] && _fail "the socket outlived the runtime"
expect_fail 1 "no warm runtime" tarn runtime status

"$TARN_BIN" runtime serve --idle 60 >/dev/null 2>&1 &
SERVER=$!
wait_for serving
expect_json "j == {'stopped': True}" tarn -O json runtime stop
wait_for ended
expect_ok ended

# a runtime folder others may enter: refused, nothing listens there, and a
# run goes on with a parent of its own
mkdir -p open && chmod 755 open
TARN_RUNTIME_DIR=$PWD/open expect_fail 1 "not a folder of this user's alone" tarn runtime serve --idle 1
expect_eq "" "$(ls open)" "files in the refused folder"
mkdir -p proj
cat >proj/m.py <<'PY'
import tarn


@tarn.model(materialize=True)
@tarn.python("3.11")
def one():
    return {"v": [1]}
PY
TARN_RUNTIME_DIR=$PWD/open expect_ok tarn run -p proj
expect_eq 1 "$(count 'SELECT v FROM one')" "the run without a warm runtime"
expect_eq "" "$(ls open)" "files in the refused folder after a run"
