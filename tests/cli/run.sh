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

run_case() {
    local c="$1" name dir start rc nfail secs
    name=$(basename "$c" .sh)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tarn-cli-$name.XXXXXX")
    mkdir -p "$dir/lake" "$dir/tmp"
    : >"$dir/tmp/fails"
    start=$(date +%s.%N)
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
        if [ -n "${TARN_TEST_CATALOG:-}" ]; then
            sep='?'; case "$TARN_TEST_CATALOG" in *'?'*) sep='&' ;; esac
            init_args+=(--catalog "$TARN_TEST_CATALOG${sep}schema=c_${name}_$(basename "$dir" | sed 's/.*\.//' | tr 'A-Z' 'a-z')")
        fi
        if ! "$TARN_BIN" init "${init_args[@]}" >/dev/null 2>"$dir/tmp/init.err"; then
            echo "    tarn init failed: $(cat "$dir/tmp/init.err")" >&2
            exit 98
        fi
        # shellcheck disable=SC1090
        . "$c"
    ) 2>"$dir/tmp/log"
    rc=$?
    nfail=$(wc -l <"$dir/tmp/fails")
    secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    if [ "$rc" -eq 0 ] && [ "$nfail" -eq 0 ]; then
        echo "ok   $name (${secs}s)"
        rm -rf "$dir"
        : >"$results/$name.ok"
    else
        { echo "FAIL $name ($nfail failed checks, exit $rc; kept $dir)"; sed 's/^/  /' "$dir/tmp/log"; } |
            tee "$results/$name.fail"
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
rm -rf "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
