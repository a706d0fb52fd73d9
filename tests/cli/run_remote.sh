#!/usr/bin/env bash
# tests/cli/run_remote.sh TARN_BINARY [CASE...] — the end-to-end CLI cases
# again, every command talking to a `tarn serve` of the case's lakehouse
# (see TARN_TEST_REMOTE in tests/cli/run.sh).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export TARN_TEST_REMOTE=1
bash "$HERE/run.sh" "$@"
