#!/usr/bin/env bash
# tests/lib/with_postgres.sh COMMAND... — runs COMMAND with a throwaway
# PostgreSQL server up (tests/lib/postgres.sh) and TARN_TEST_CATALOG set to
# its URL; each test that uses it gives every lakehouse its own schema
# (?schema=...). The server is stopped afterwards, whatever happens.
set -u
. "$(dirname "$0")/postgres.sh"
pg_start || exit 1
export TARN_TEST_CATALOG="$PG_URL"
"$@"
rc=$?
pg_stop
exit $rc
