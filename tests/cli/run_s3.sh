#!/usr/bin/env bash
# tests/cli/run_s3.sh TARN_BINARY [CASE...] — the end-to-end CLI cases again,
# each lakehouse keeping its data on S3 (an s3rver started here on a free
# loopback port and stopped on exit, whatever happens).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../s3/server.sh"
data=$(mktemp -d "${TMPDIR:-/tmp}/tarn-s3rver.XXXXXX")
trap 's3_server_stop; rm -rf "$data" "$data.log"' EXIT
s3_server_start "$data/s3" || exit 1
export TARN_TEST_STORAGE=s3
bash "$HERE/run.sh" "$@"
