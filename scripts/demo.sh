#!/usr/bin/env bash
# `make demo`: tarn's main job on the embedded default, start to finish —
# a fresh local lakehouse, the sample data, a branch, an append on it, a
# query on both refs, the diff and the merge; then the example pipeline
# (examples/quickstart) run as one transaction, a query of its result and
# the log.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
TARN="$PWD/$BUILD/tarn"
DATA="$PWD/examples/quickstart/data"
DEMO="$PWD/$BUILD/demo"

rm -rf "$DEMO"
mkdir -p "$DEMO"
cd "$DEMO"
export TARN_AUTHOR=demo
step() {
  printf '\n\033[1m$ tarn'
  for a in "$@"; do
    case "$a" in *[[:space:]\*\'\"\$\(\)]*) printf " '%s'" "$a" ;; *) printf ' %s' "$a" ;; esac
  done
  printf '\033[0m\n'
  "$TARN" "$@"
}

step init .
step table import transactions --from "$DATA/transactions.csv"
step table import countries --from "$DATA/countries.csv"
step table ls
step checkout -b late-data
step table import transactions --from "$DATA/transactions_late.csv" --mode append
step query "SELECT c.region, count(*) AS n, round(sum(t.usd), 2) AS usd
            FROM transactions t JOIN countries c USING (country)
            GROUP BY c.region ORDER BY usd DESC"
step query "SELECT count(*) AS rows_on_main FROM transactions" --ref main
step branch diff main late-data
step checkout main
step branch merge late-data -m "Add late transactions"
step query "SELECT count(*) AS rows_on_main FROM transactions"
step run -p "$PWD/../../examples/quickstart" --param min_usd=100
step query "SELECT * FROM country_report"
step job ls
step commit -n 3
printf '\nThe demo lakehouse is in %s (cd there and try: %s query "SELECT * FROM transactions" --max-rows 5)\n' "$DEMO" "$TARN"
