#!/usr/bin/env bash
# bench/import_bench.sh BUILD_DIR — `tarn table import` against DuckDB
# alone writing the same Parquet (COPY ... TO ... (FORMAT parquet,
# COMPRESSION zstd), as tarn writes every data file) from the same source:
# a 1M-row CSV and the 10M-row Parquet file of bench/run.sh
# (bench/out/data/fact.parquet; run that first). Whole processes, median of
# BENCH_REPS (5), interleaved. Prints a markdown table.
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARN="$BUILD/tarn"
BASE="$BUILD/bench/duckdb_baseline"
OUT="$ROOT/bench/out/import"
SRC="$ROOT/bench/out/data/fact.parquet"
REPS=${BENCH_REPS:-5}
[ -f "$SRC" ] || { echo "bench: $SRC missing (run bench/run.sh first)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT/lake" || exit 1
(cd "$OUT/lake" && "$TARN" init >/dev/null) || exit 1
"$BASE" query 1 "COPY (SELECT * FROM read_parquet('$SRC') ORDER BY id LIMIT 1000000) TO '$OUT/fact1m.csv' (HEADER)" >/dev/null || exit 1

ms() { # CMD... -> wall ms of one run
    local s e
    s=$(date +%s%N); "$@" >/dev/null 2>"$OUT/err" || { echo "bench: failed: $* ($(tail -1 "$OUT/err"))" >&2; exit 1; }; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
}
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
echo "| import (whole process, ms, median of $REPS) | tarn table import | DuckDB alone writing the same Parquet | ratio (goal <= 1.15) |"
echo "|---|---:|---:|---:|"
for src in "$OUT/fact1m.csv" "$SRC"; do
    case "$src" in *.csv) reader="read_csv('$src')" label="1M-row CSV ($(du -m "$src" | cut -f1) MiB)" ;;
                   *) reader="read_parquet('$src')" label="10M-row Parquet file" ;; esac
    tt="" dt=""
    for r in $(seq 1 "$REPS"); do
        tt="$tt $(cd "$OUT/lake" && ms "$TARN" table import "imp_$r" --from "$src")"
        dt="$dt $(ms "$BASE" query 1 "COPY (SELECT * FROM $reader) TO '$OUT/copy.parquet' (FORMAT parquet, COMPRESSION zstd)")"
        (cd "$OUT/lake" && "$TARN" table rm "imp_$r" >/dev/null 2>&1)
    done
    t=$(echo "$tt" | tr ' ' '\n' | grep . | median)
    d=$(echo "$dt" | tr ' ' '\n' | grep . | median)
    echo "| $label | $t | $d | $(awk -v a="$t" -v b="$d" 'BEGIN {printf "%.2f", a / b}') |"
done
rm -rf "$OUT"
