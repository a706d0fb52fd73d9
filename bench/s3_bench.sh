#!/usr/bin/env bash
# bench/s3_bench.sh BUILD_DIR — a lakehouse on S3 (s3rver on a loopback
# port), against the physical limit and the local folder. Uses the 10M-row
# table bench/run.sh generates (bench/out/data/fact.parquet; generated here
# when missing). Prints a markdown table (also to bench/out/s3_results.md):
#
# 1. import of the 10M-row Parquet file: S3 vs a local-folder lakehouse;
# 2. the first query on a cold cache: one that reads no row (so the
#    command is process start, catalog and fetch) vs `curl` downloading the
#    very same objects from the same server to a file (the physical limit on
#    loopback); and the scan-aggregate, cold;
# 3. the same query on a warm cache vs the local-folder lakehouse;
# 4. a selective scan (a pipeline input with a filter) of a 400-file table:
#    files fetched / files in the table.
# Each timing is the whole command, median of BENCH_REPS (default 5).
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARN="$BUILD/tarn"
OUT="$ROOT/bench/out"
REPS=${BENCH_REPS:-5}
ROWS=${BENCH_ROWS:-10000000}
log() { echo "s3 bench: $*" >&2; }
. "$ROOT/tests/s3/server.sh"
WORK="$OUT/s3"
rm -rf "$WORK"
mkdir -p "$WORK" "$OUT/data"
trap 's3_server_stop' EXIT
s3_server_start "$WORK/server" || exit 1
export XDG_CACHE_HOME="$WORK/cache"
unset TARN_HOME TARN_FAULT

if [ "$(cat "$OUT/data/rows" 2>/dev/null)" != "$ROWS" ]; then
    log "generating $ROWS rows with DuckDB"
    rm -f "$OUT/data/"*.parquet
    "$BUILD/bench/duckdb_baseline" gen "$OUT/data" "$ROWS" || exit 1
    echo "$ROWS" >"$OUT/data/rows"
fi
FACT="$OUT/data/fact.parquet"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# 1. imports: S3 and local, alternating, each into a fresh lakehouse
ti_s3="" ti_local=""
for r in 1 2 3; do
    mkdir -p "$WORK/s3lake$r" "$WORK/local$r"
    (cd "$WORK/s3lake$r" && "$TARN" init --storage "s3://lake/bench$r" --endpoint "$S3_ENDPOINT" >/dev/null) || exit 1
    (cd "$WORK/local$r" && "$TARN" init >/dev/null) || exit 1
    s=$(date +%s%N); (cd "$WORK/s3lake$r" && "$TARN" table import fact --from "$FACT" >/dev/null) || exit 1
    ti_s3="$ti_s3 $(ms "$s")"
    s=$(date +%s%N); (cd "$WORK/local$r" && "$TARN" table import fact --from "$FACT" >/dev/null) || exit 1
    ti_local="$ti_local $(ms "$s")"
done
ti_s3=$(echo "$ti_s3" | median); ti_local=$(echo "$ti_local" | median)
log "import: S3 $ti_s3 ms, local $ti_local ms"
S3LAKE="$WORK/s3lake1"
LOCAL="$WORK/local1"

# the objects of the table, and their bytes
KEYS=$(s3_objects lake bench1/data/default.fact/)
NFILES=$(echo "$KEYS" | grep -c .)
BYTES=$(cd "$S3LAKE" && "$TARN" -O json table get fact | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["size_bytes"])')
log "fact: $NFILES objects, $BYTES bytes"

SQL="SELECT category, count(*) AS n, sum(a) AS total, avg(a) AS mean, max(ts) AS latest FROM fact GROUP BY category ORDER BY category"
q() { (cd "$1" && "$TARN" query "$SQL" --all-rows --format csv >/dev/null) || log "query failed in $1"; }
# curl writes the bytes to a file on the cache's file system, as the cache must
curl_all() {
    for k in $KEYS; do curl -sf -o "$WORK/curl.out" "$S3_ENDPOINT/lake/$k" || log "curl $k failed"; done
    rm -f "$WORK/curl.out"
}

# 2. cold cache vs curl, 3. warm cache vs local
fetch_only() { (cd "$S3LAKE" && "$TARN" query "SELECT * FROM fact LIMIT 0" >/dev/null) || log "query failed"; }
tc="" tcurl="" tw="" tl="" tfo=""
for r in $(seq 1 "$REPS"); do
    rm -rf "$XDG_CACHE_HOME/tarn/v1"
    sync
    s=$(date +%s%N); q "$S3LAKE"; tc="$tc $(ms "$s")"
    rm -rf "$XDG_CACHE_HOME/tarn/v1"
    sync
    s=$(date +%s%N); fetch_only; tfo="$tfo $(ms "$s")"
    sync
    s=$(date +%s%N); curl_all; tcurl="$tcurl $(ms "$s")"
done
q "$S3LAKE"; q "$LOCAL"
for r in $(seq 1 "$REPS"); do
    s=$(date +%s%N); q "$S3LAKE"; tw="$tw $(ms "$s")"
    s=$(date +%s%N); q "$LOCAL"; tl="$tl $(ms "$s")"
done
tc=$(echo "$tc" | median); tcurl=$(echo "$tcurl" | median); tfo=$(echo "$tfo" | median)
tw=$(echo "$tw" | median); tl=$(echo "$tl" | median)
# what the cold query spent fetching: its time beyond the same query warm
tf=$(awk -v c="$tc" -v w="$tw" 'BEGIN {printf "%d", c - w}')
log "cold $tc ms (beyond warm: $tf ms), a query reading no row $tfo ms, vs curl $tcurl ms; warm $tw ms vs local $tl ms"

# 4. a 400-file table, and a scan whose filter only 2 files can satisfy
NSEL=400
mkdir -p "$WORK/parts"
/usr/bin/python3 - "$WORK/parts" "$NSEL" <<'EOF'
import sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{d}/p{i:03d}.csv", "w") as f:
        f.write("id,v\n")
        f.writelines(f"{i * 1000 + j},{j * 0.5}\n" for j in range(1000))
EOF
(cd "$S3LAKE" && for i in $(seq 0 $((NSEL - 1))); do
    f=$(printf '%s/parts/p%03d.csv' "$WORK" "$i")
    mode=append; [ "$i" = 0 ] && mode=create
    "$TARN" table import sel --from "$f" --mode $mode >/dev/null || { log "import of part $i failed"; exit 1; }
done) || exit 1
mkdir -p "$WORK/proj"
cat >"$WORK/proj/pick.py" <<'EOF'
import tarn

@tarn.model()
@tarn.python("3.11")
def picked(data=tarn.Model("sel", columns=["id", "v"], filter="id BETWEEN 123500 AND 124400")):
    assert data.num_rows == 901, data.num_rows
    return data
EOF
rm -rf "$XDG_CACHE_HOME/tarn/v1"
before=$(find "$XDG_CACHE_HOME/tarn/v1" -type f 2>/dev/null | wc -l)
(cd "$S3LAKE" && "$TARN" run -p "$WORK/proj" >"$WORK/run.txt" 2>&1) || { log "selective run failed: $(cat "$WORK/run.txt")"; exit 1; }
fetched=$(( $(find "$XDG_CACHE_HOME/tarn/v1" -type f | wc -l) - before ))
plan=$(grep -o '([0-9]* of [0-9]* files)' "$WORK/run.txt" | head -1)
log "selective scan: $fetched files fetched of $NSEL $plan"

{
    echo "| lakehouse on S3 (s3rver, loopback) | S3 | baseline | ratio | goal |"
    echo "|---|---:|---:|---:|---:|"
    echo "| import of the $ROWS-row Parquet file (ms) vs the local folder | $ti_s3 | $ti_local | $(ratio "$ti_s3" "$ti_local") | |"
    echo "| first query on a cold cache that reads no row (\`SELECT * FROM fact LIMIT 0\`: process, catalog, fetch; ms) vs \`curl\` of the same $NFILES object(s), $BYTES bytes, to a file | $tfo | $tcurl | $(ratio "$tfo" "$tcurl") | ≤ 1.3 |"
    echo "| first scan-aggregate on a cold cache (ms; beyond the same query warm: $tf ms) vs \`curl\` alone | $tc | $tcurl | $(ratio "$tc" "$tcurl") | |"
    echo "| same query, warm cache (ms) vs the local-folder lakehouse | $tw | $tl | $(ratio "$tw" "$tl") | ≤ 1.05 |"
    echo "| selective scan of a $NSEL-file table: files fetched / files in the table | $fetched / $NSEL | | | only matching files |"
} | tee "$OUT/s3_results.md"
