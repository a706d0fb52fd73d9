#!/usr/bin/env bash
# tests/cli/run.sh TARN_BINARY [CASE...] — end-to-end cases of the `tarn`
# command. Each tests/cli/cases/*.sh runs in a fresh temporary lakehouse
# (`cd $(mktemp -d) && tarn init`) with the helpers of tests/cli/lib.sh.
# Prints one line per case, then `N passed, N failed`; exit 1 on failure.
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
unset TARN_HOME TARN_FAULT

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=("$HERE"/cases/*.sh)

passed=0 failed=0
for c in "${cases[@]}"; do
    [ -f "$c" ] || c="$HERE/cases/$c.sh"
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
        passed=$((passed + 1))
        echo "ok   $name (${secs}s)"
        rm -rf "$dir"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($nfail failed checks, exit $rc; kept $dir)"
        sed 's/^/  /' "$dir/tmp/log"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
