#!/usr/bin/env bash
# `make test`: every test tarn has, against the sanitizer build (ASan +
# UBSan) in $1 — C unit tests and fuzz regressions (CTest), end-to-end CLI
# cases (on the local folder, on S3 with s3rver, with the catalog in
# PostgreSQL, then every command through a `tarn serve`), crash, concurrency
# and fault tests — then the Python tests against the regular build (CPython
# cannot load an ASan library without preloading it), the client's again
# through a server.
set -uo pipefail
cd "$(dirname "$0")/.."
TEST_BUILD=${1:-build-test}
BUILD=${2:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TARN_AUTHOR=tests

failed=()
run() {
  local name=$1 started=$SECONDS; shift
  printf '\n=== %s\n' "$name"
  if "$@"; then printf '=== %s: ok (%ds)\n' "$name" $((SECONDS - started)); else
    printf '=== %s: FAILED (%ds)\n' "$name" $((SECONDS - started)); failed+=("$name"); fi
}

mkdir -p "$TEST_BUILD/test-tmp"
# Runs borrow warm Python parents from a warm runtime of the tests' own.
export TARN_RUNTIME_DIR="$PWD/$TEST_BUILD/test-tmp/runtime"
mkdir -p "$TARN_RUNTIME_DIR" && chmod 700 "$TARN_RUNTIME_DIR"
# Runs keep their source scans under $XDG_CACHE_HOME/tarn: the tests', not
# the user's (the CLI cases and pytest keep one per case and session).
export XDG_CACHE_HOME="$PWD/$TEST_BUILD/test-tmp/cache"
# Pipelines run Python workers; CPython cannot load the ASan build of the
# extension, so workers use the regular build's package.
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUCKDB_HOME="${DUCKDB_HOME:-$PWD/.deps/duckdb}" >/dev/null &&
  cmake --build "$BUILD" -j "$(nproc)" >/dev/null || { echo "regular build failed"; exit 1; }
export TARN_PYTHONPATH="$PWD/$BUILD/python"
run "unit tests (ctest)" ctest --test-dir "$TEST_BUILD" --output-on-failure -j2
[ -x tests/cli/run.sh ] || chmod +x tests/cli/run.sh 2>/dev/null || true
[ -f tests/cli/run.sh ] && run "cli cases" bash tests/cli/run.sh "$PWD/$TEST_BUILD/tarn"
# The same cases with every lakehouse's data on S3 (s3rver on a loopback port).
[ -f tests/cli/run_s3.sh ] && run "cli cases on S3" bash tests/cli/run_s3.sh "$PWD/$TEST_BUILD/tarn"
# The same cases with the catalog in PostgreSQL (a throwaway server).
[ -f tests/cli/run.sh ] && run "cli cases (postgresql catalog)" \
  bash tests/lib/with_postgres.sh bash tests/cli/run.sh "$PWD/$TEST_BUILD/tarn"
[ -f tests/cli/run_remote.sh ] && run "cli cases through a server" bash tests/cli/run_remote.sh "$PWD/$TEST_BUILD/tarn"
for t in tests/fault/*_test.sh; do
  [ -f "$t" ] && run "$(basename "$t" .sh)" bash "$t" "$PWD/$TEST_BUILD/tarn"
done
# Many hosts again, with the data in a bucket: PostgreSQL and S3 together.
[ -f tests/fault/multihost_test.sh ] && run "multihost_test on S3" \
  env MULTIHOST_STORAGE=s3 MULTIHOST_N=20 bash tests/fault/multihost_test.sh "$PWD/$TEST_BUILD/tarn"
if [ -d tests/python ] && ls tests/python/test_*.py >/dev/null 2>&1; then
  run "python tests (pytest)" env PYTHONPATH="$PWD/$BUILD/python" TARN_BUILD="$PWD/$BUILD" \
    /usr/bin/python3 -m pytest -q tests/python
  # The client's tests again, each lakehouse served and reached by URL.
  run "python client tests through a server" env TARN_TEST_REMOTE=1 PYTHONPATH="$PWD/$BUILD/python" \
    TARN_BUILD="$PWD/$BUILD" /usr/bin/python3 -m pytest -q -rs tests/python/test_client.py \
    tests/python/test_bauplan_client.py tests/python/test_bauplan_project.py tests/python/test_import.py \
    tests/python/test_trust_client.py tests/python/test_reuse.py
  # The server's own tests once more with its catalog in PostgreSQL.
  run "server tests (postgresql catalog)" env PYTHONPATH="$PWD/$BUILD/python" TARN_BUILD="$PWD/$BUILD" \
    bash tests/lib/with_postgres.sh /usr/bin/python3 -m pytest -q tests/python/test_serve.py
fi

"$TEST_BUILD/tarn" runtime stop >/dev/null 2>&1
"$BUILD/tarn" runtime stop >/dev/null 2>&1
echo
if [ ${#failed[@]} -eq 0 ]; then
  echo "all test suites passed"
  exit 0
fi
echo "failed suites: ${failed[*]}"
exit 1
