#!/usr/bin/env bash
# tests/cli/run.sh TARN_BINARY [CASE...] — end-to-end cases of the `tarn`
# command. Each tests/cli/cases/*.sh runs in a fresh temporary lakehouse
# (`cd $(mktemp -d) && tarn init`) with the helpers of tests/cli/lib.sh.
# Prints one line per case, then `N passed, N failed`; exit 1 on failure.
# With TARN_TEST_STORAGE=s3 (and S3_ENDPOINT, see tests/cli/run_s3.sh) each
# lakehouse keeps its data in a fresh prefix of bucket `lake` instead, read
# through a cache of its own.
# With TARN_TEST_REMOTE=1 (tests/cli/run_remote.sh) each case's lakehouse is
# served by a `tarn serve` of its own on a free loopback port, started after
# `tarn init` and stopped after the case whatever happens, and every `tarn`
# command of the case talks to it (TARN_REMOTE, TARN_TOKEN of an admin
# token for the case's user). A case that cannot apply through a server
# says why with `local_only` and is counted as skipped.
set -u
if [ $# -lt 1 ]; then echo "usage: $0 TARN_BINARY [CASE...]" >&2; exit 2; fi
TARN_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$TARN_BIN" ] || { echo "$0: $1 is not executable" >&2; exit 2; }
shift
HERE=$(cd "$(dirname "$0")" && pwd)
export TARN_BIN
unset TARN_HOME TARN_FAULT

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=("$HERE"/cases/*.sh)

remote() { [ "${TARN_TEST_REMOTE:-}" = 1 ]; }

# remote_start DIR: init DIR/lake, make an admin token, serve it; sets
# SERVER_PID and SERVER_ENV (the variables a case gets).
remote_start() {
    local d="$1" tok user="${TARN_AUTHOR:-${USER:-$(id -un)}}"
    (cd "$d/lake" && "$TARN_BIN" init >/dev/null) || return 1
    tok=$(cd "$d/lake" && "$TARN_BIN" -O json token create "$user" --admin |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || return 1
    (cd "$d/lake" && exec "$TARN_BIN" serve --listen 127.0.0.1:0 --port-file "$d/tmp/port") \
        >"$d/tmp/serve.log" 2>&1 &
    SERVER_PID=$!
    local i
    for i in $(seq 300); do
        [ -s "$d/tmp/port" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    [ -s "$d/tmp/port" ] || return 1
    SERVER_ENV="TARN_REMOTE=http://127.0.0.1:$(cat "$d/tmp/port") TARN_TOKEN=$tok XDG_STATE_HOME=$d/state"
    SERVER_ENV="$SERVER_ENV TARN_TEST_USER=$user"
}

remote_stop() {
    [ -n "${SERVER_PID:-}" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}
trap remote_stop EXIT

passed=0 failed=0 skipped=0
for c in "${cases[@]}"; do
    [ -f "$c" ] || c="$HERE/cases/$c.sh"
    name=$(basename "$c" .sh)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tarn-cli-$name.XXXXXX")
    mkdir -p "$dir/lake" "$dir/tmp"
    : >"$dir/tmp/fails"
    start=$(date +%s.%N)
    SERVER_ENV=
    if remote && ! remote_start "$dir"; then
        failed=$((failed + 1))
        echo "FAIL $name (the server did not start; kept $dir)"
        sed 's/^/  /' "$dir/tmp/serve.log" 2>/dev/null
        remote_stop
        continue
    fi
    (
        cd "$dir/lake" || exit 99
        export TARN_CASE_FAILS="$dir/tmp/fails" TARN_CASE_TMP="$dir/tmp"
        # shellcheck source=lib.sh
        . "$HERE/lib.sh"
        init_args=()
        if [ "${TARN_TEST_STORAGE:-}" = s3 ]; then
            TARN_TEST_PREFIX="$name-$(basename "$dir" | sed 's/.*\.//')"
            init_args=(--storage "s3://lake/$TARN_TEST_PREFIX" --endpoint "$S3_ENDPOINT")
            export TARN_TEST_PREFIX XDG_CACHE_HOME="$dir/cache"
        fi
        if remote; then
            # shellcheck disable=SC2086
            export $SERVER_ENV
        elif ! "$TARN_BIN" init "${init_args[@]}" >/dev/null 2>"$dir/tmp/init.err"; then
            echo "    tarn init failed: $(cat "$dir/tmp/init.err")" >&2
            exit 98
        fi
        # shellcheck disable=SC1090
        . "$c"
    ) 2>"$dir/tmp/log"
    rc=$?
    remote_stop
    nfail=$(wc -l <"$dir/tmp/fails")
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    if [ -s "$dir/tmp/skip" ] && [ "$rc" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        skipped=$((skipped + 1))
        echo "skip $name ($(cat "$dir/tmp/skip"))"
        rm -rf "$dir"
    elif [ "$rc" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
        [ -s "$dir/tmp/skipped_parts" ] && sed 's/^/       a part skipped through a server: /' "$dir/tmp/skipped_parts"
        rm -rf "$dir"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($nfail failed checks, exit $rc; kept $dir)"
        sed 's/^/  /' "$dir/tmp/log"
        if remote; then echo "  server log:"; tail -20 "$dir/tmp/serve.log" | sed 's/^/    /'; fi
    fi
done
echo "$passed passed, $failed failed$(remote && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
