#!/usr/bin/env bash
# tests/cli/run.sh TARN_BINARY [CASE...] — end-to-end cases of the `tarn`
# command. Each tests/cli/cases/*.sh runs in a fresh temporary lakehouse
# (`cd $(mktemp -d) && tarn init`) with the helpers of tests/cli/lib.sh.
# With TARN_TEST_CATALOG set (a postgresql:// URL), each case's lakehouse
# gets a schema of its own in that database (`tarn init --catalog`), so the
# same cases run against the PostgreSQL catalog.
# Cases run TARN_TEST_JOBS at a time (default: the number of cores); each
# prints one line when it ends, then `N passed, N failed`; exit 1 on failure.
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
unset TARN_HOME TARN_FAULT TARN_CATALOG TARN_STORAGE

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=("$HERE"/cases/*.sh)

# Cases are independent (a fresh lakehouse each): TARN_TEST_JOBS of them
# (default: the number of cores) run at once; each prints when it ends.
jobs=${TARN_TEST_JOBS:-$(nproc)}
results=$(mktemp -d "${TMPDIR:-/tmp}/tarn-cli-results.XXXXXX")

remote() { [ "${TARN_TEST_REMOTE:-}" = 1 ]; }

# remote_start DIR: in the initialised DIR/lake, make an admin token and
# serve it; sets SERVER_PID and SERVER_ENV (the variables a case gets).
remote_start() {
    local d="$1" tok user="${TARN_AUTHOR:-${USER:-$(id -un)}}"
    tok=$(cd "$d/lake" && "$TARN_BIN" -O json token create "$user" --admin |
        /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || return 1
    (cd "$d/lake" && exec "$TARN_BIN" serve --listen 127.0.0.1:0 --port-file "$d/tmp/port" \
        --iceberg-register-root "$d/lake") \
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

# lake_init DIR NAME: `tarn init` of DIR/lake as the pass asks (S3 prefix,
# PostgreSQL schema); exports what the case needs to find its store.
lake_init() {
    local dir="$1" name="$2" sep init_args=()
    if [ "${TARN_TEST_STORAGE:-}" = s3 ]; then
        TARN_TEST_PREFIX="$name-$(basename "$dir" | sed 's/.*\.//')"
        init_args=(--storage "s3://lake/$TARN_TEST_PREFIX" --endpoint "$S3_ENDPOINT")
        export TARN_TEST_PREFIX XDG_CACHE_HOME="$dir/cache"
    fi
    if [ -n "${TARN_TEST_CATALOG:-}" ]; then
        sep='?'; case "$TARN_TEST_CATALOG" in *'?'*) sep='&' ;; esac
        init_args+=(--catalog "$TARN_TEST_CATALOG${sep}schema=c_${name}_$(basename "$dir" | sed 's/.*\.//' | tr 'A-Z' 'a-z')")
    fi
    (cd "$dir/lake" && "$TARN_BIN" init "${init_args[@]}" >/dev/null 2>"$dir/tmp/init.err")
}

run_case() {
    local c="$1" name dir start rc nfail secs
    name=$(basename "$c" .sh)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tarn-cli-$name.XXXXXX")
    mkdir -p "$dir/lake" "$dir/tmp"
    : >"$dir/tmp/fails"
    start=$(date +%s.%N)
    SERVER_PID= SERVER_ENV=
    trap remote_stop EXIT
    # each case has a warm runtime of its own (its server's runs too),
    # stopped when it ends
    export TARN_RUNTIME_DIR="$dir/tmp/runtime"
    # and a cache folder of its own (kept source scans, S3 data files)
    export XDG_CACHE_HOME="$dir/cache"
    if ! lake_init "$dir" "$name"; then
        { echo "FAIL $name (tarn init failed; kept $dir)"; sed 's/^/  /' "$dir/tmp/init.err"; } |
            tee "$results/$name.fail"
        return
    fi
    if remote && ! remote_start "$dir"; then
        { echo "FAIL $name (the server did not start; kept $dir)"; sed 's/^/  /' "$dir/tmp/serve.log" 2>/dev/null; } |
            tee "$results/$name.fail"
        remote_stop
        return
    fi
    (
        cd "$dir/lake" || exit 99
        export TARN_CASE_FAILS="$dir/tmp/fails" TARN_CASE_TMP="$dir/tmp"
        # shellcheck disable=SC2086
        remote && export $SERVER_ENV
        # shellcheck source=lib.sh
        . "$HERE/lib.sh"
        # shellcheck disable=SC1090
        . "$c"
    ) 2>"$dir/tmp/log"
    rc=$?
    remote_stop
    TARN_RUNTIME_DIR="$dir/tmp/runtime" "$TARN_BIN" runtime stop >/dev/null 2>&1
    nfail=$(wc -l <"$dir/tmp/fails")
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    if [ -s "$dir/tmp/skip" ] && [ "$rc" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        echo "skip $name ($(cat "$dir/tmp/skip"))"
        rm -rf "$dir"
        : >"$results/$name.skip"
    elif [ "$rc" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        {
            echo "ok   $name (${secs}s)"
            [ -s "$dir/tmp/skipped_parts" ] && sed 's/^/       a part skipped through a server: /' "$dir/tmp/skipped_parts"
        }
        rm -rf "$dir"
        : >"$results/$name.ok"
    else
        {
            echo "FAIL $name ($nfail failed checks, exit $rc; kept $dir)"
            sed 's/^/  /' "$dir/tmp/log"
            if remote; then echo "  server log:"; tail -20 "$dir/tmp/serve.log" | sed 's/^/    /'; fi
        } | tee "$results/$name.fail"
    fi
}

running=0
for c in "${cases[@]}"; do
    [ -f "$c" ] || c="$HERE/cases/$c.sh"
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_case "$c" &
    running=$((running + 1))
done
wait
passed=$(find "$results" -name '*.ok' | wc -l)
failed=$(find "$results" -name '*.fail' | wc -l)
skipped=$(find "$results" -name '*.skip' | wc -l)
rm -rf "$results"
echo "$passed passed, $failed failed$(remote && echo ", $skipped skipped")"
[ "$failed" -eq 0 ]
