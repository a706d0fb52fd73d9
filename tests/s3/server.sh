# tests/s3/server.sh — sourced by the tests that need an S3 endpoint: starts
# s3rver (npm, pinned by scripts/setup.sh into .deps/node) on a free
# loopback port with buckets `lake` and `source`, and stops it again.
#
#   s3_server_start DIR     data in DIR; sets S3_ENDPOINT (http://127.0.0.1:PORT),
#                           S3_DATA (DIR) and S3_PID, exports the test credentials
#   s3_server_stop          stops it (call from an EXIT trap)
#   s3_put BUCKET KEY FILE  uploads FILE as KEY (s3rver accepts unsigned requests)
#   s3_objects BUCKET PREFIX  lists the keys under PREFIX, one a line
#
# s3rver knows one key pair, S3RVER/S3RVER; it does not check signatures
# (tests/unit/sigv4_test.c checks the signer against AWS's vectors).

S3_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
S3RVER_JS="$S3_ROOT/.deps/node/node_modules/s3rver/bin/s3rver.js"

s3_server_start() {
    local dir="$1" i
    [ -f "$S3RVER_JS" ] || { echo "s3rver missing: run scripts/setup.sh" >&2; return 1; }
    mkdir -p "$dir"
    S3_DATA="$dir"
    # s3rver makes continuation tokens with a cipher OpenSSL 3 keeps in its legacy provider
    # --service-endpoint: BUCKET.s3.localhost (which curl resolves to
    # loopback) is virtual-hosted addressing; 127.0.0.1 stays path-style.
    node --openssl-legacy-provider "$S3RVER_JS" -d "$dir" -a 127.0.0.1 -p 0 --silent \
        --service-endpoint localhost --configure-bucket lake --configure-bucket source >"$dir.log" 2>&1 &
    S3_PID=$!
    for i in $(seq 1 100); do
        S3_ENDPOINT=$(sed -n 's/^S3rver listening on \(127\.0\.0\.1:[0-9]*\).*/http:\/\/\1/p' "$dir.log" | head -1)
        [ -n "$S3_ENDPOINT" ] && break
        kill -0 "$S3_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$S3_ENDPOINT" ]; then
        echo "s3rver did not start: $(cat "$dir.log")" >&2
        s3_server_stop
        return 1
    fi
    export S3_ENDPOINT S3_DATA S3_PID
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
}

s3_server_stop() {
    if [ -n "${S3_PID:-}" ]; then
        kill "$S3_PID" 2>/dev/null
        wait "$S3_PID" 2>/dev/null
        S3_PID=
    fi
}

s3_put() {
    curl -sf -X PUT --data-binary "@$3" "$S3_ENDPOINT/$1/$2" >/dev/null
}

s3_objects() {
    local dir="$S3_DATA/$1"
    [ -d "$dir" ] || return 0
    (cd "$dir" && find . -name '*._S3rver_object' | sed -e 's|^\./||' -e 's|\._S3rver_object$||' | sort) |
        grep "^$2" || true
}

# The fault-injecting proxy in front of the server (tests/s3/faultproxy.py):
#   s3_proxy_start CONTROL_FILE   sets PROXY_ENDPOINT and PROXY_PID
#   s3_proxy_faults RATE MODES    e.g. 0.3 drop,500,503,429,truncate (0 "" to stop)
#   s3_proxy_stop
s3_proxy_start() {
    S3_PROXY_CONTROL="$1"
    : >"$S3_PROXY_CONTROL"
    /usr/bin/python3 "$S3_ROOT/tests/s3/faultproxy.py" "${S3_ENDPOINT##*:}" "$S3_PROXY_CONTROL" \
        >"$S3_PROXY_CONTROL.out" 2>&1 &
    PROXY_PID=$!
    local i port=""
    for i in $(seq 1 100); do
        port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$S3_PROXY_CONTROL.out")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "the fault proxy did not start: $(cat "$S3_PROXY_CONTROL.out")" >&2; return 1; }
    PROXY_ENDPOINT="http://127.0.0.1:$port"
    export PROXY_ENDPOINT PROXY_PID S3_PROXY_CONTROL
}

s3_proxy_faults() {
    printf 'rate = %s\nmodes = %s\nstall = %s\nseed = %s\n' "$1" "$2" "${3:-4}" "${4:-1}" >"$S3_PROXY_CONTROL"
}

s3_proxy_stop() {
    if [ -n "${PROXY_PID:-}" ]; then
        kill "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null
        PROXY_PID=
    fi
}
