#!/usr/bin/env bash
# tests/fault/s3_kill_test.sh TARN_BINARY — a lakehouse on S3 (s3rver) and
# tarn processes killed with SIGKILL while they upload or download.
#
# 1. Killed after the parts of a multipart upload went up, before it was
#    completed; and after an upload, before its commit: every branch is as
#    before, and `tarn gc --grace 0` leaves exactly the referenced objects
#    in the bucket and no local temporary.
# 2. Killed halfway through a download into the cache: no cache entry is
#    partial (every entry is whole Parquet, the catalog's size), and the
#    next query fetches again and is right.
# 3. Imports of a 12 MB file (multipart) killed within 2 s at random, 6
#    times: main is before or after, never between; the cache stays whole.
# Ends with `N passed, N failed`.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
. "$HERE/../s3/server.sh"
trap 's3_server_stop' EXIT
s3_server_start "$WORK/s3" || { bad "s3rver starts"; finish; }
export XDG_CACHE_HOME="$WORK/cache"
CACHE="$WORK/cache/tarn"

tarn init --storage s3://lake/kills --endpoint "$S3_ENDPOINT" >/dev/null || { bad "init on S3"; finish; }
printf 's3.multipart_threshold_mb = 5\ns3.part_size_mb = 5\n' >>.tarn/config
printf 'id,v\n' >small.csv
for i in $(seq 1 40); do echo "$i,$i" >>small.csv; done
tarn query "SELECT range AS id, md5(range::VARCHAR) || md5((range * 7)::VARCHAR) AS h FROM range(200000)" \
    --output big.parquet >/dev/null || bad "writing big.parquet"
tarn table import t --from small.csv >/dev/null || bad "base import"
tarn table import big --from big.parquet >/dev/null || bad "base import of big"

bucket_objects() { s3_objects lake kills/data/ | wc -l; }
referenced() { tarn -O json gc --dry-run --grace 0 | $PY -c 'import json,sys; print(json.load(sys.stdin)["referenced"])'; }
cache_whole() {
    $PY - "$CACHE" <<'EOF'
import os, sys
bad = 0
for root, _, files in os.walk(os.path.join(sys.argv[1], "v1")):
    for f in files:
        with open(os.path.join(root, f), "rb") as h:
            head = h.read(4)
            h.seek(-4, 2)
            bad += head != b"PAR1" or h.read(4) != b"PAR1"
sys.exit(1 if bad else 0)
EOF
}

# 1. killed inside an upload, and between upload and commit
for point in s3:multipart-parts-uploaded import:after-publish; do
    before=$(snapshot big)
    { TARN_FAULT="$point" "$TARN_BIN" table import big --from big.parquet --mode append >/dev/null 2>&1; } 2>/dev/null
    rc=$?
    [ "$rc" -eq 137 ] && ok "$point: killed" || bad "$point: exit $rc, wanted 137"
    [ "$(snapshot big)" = "$before" ] && ok "$point: every branch as before" || bad "$point: a branch changed"
    check "$point: the cache is whole" cache_whole
    tarn gc --grace 0 >/dev/null || bad "$point: gc"
    [ "$(bucket_objects)" = "$(referenced)" ] && ok "$point: gc left exactly the referenced objects" ||
        bad "$point: $(bucket_objects) objects in the bucket, $(referenced) referenced"
    [ -z "$(ls .tarn/objects/tmp 2>/dev/null)" ] && ok "$point: no local temporary left" ||
        bad "$point: temporaries left: $(ls .tarn/objects/tmp)"
done
[ "$(rows main big)" = 200000 ] && ok "big still reads" || bad "big reads $(rows main big) rows"

# 2. killed halfway through a download
rm -rf "$CACHE/v1"
{ TARN_FAULT=s3:mid-download "$TARN_BIN" query "SELECT count(*) FROM big" >/dev/null 2>&1; } 2>/dev/null
rc=$?
[ "$rc" -eq 137 ] && ok "mid-download: killed" || bad "mid-download: exit $rc, wanted 137"
check "mid-download: no partial cache entry" cache_whole
[ -n "$(ls "$CACHE/tmp" 2>/dev/null)" ] && ok "mid-download: the partial file is a temporary" ||
    bad "mid-download: no temporary (was the kill halfway?)"
[ "$(rows main big)" = 200000 ] && ok "mid-download: the next query fetches again, right" ||
    bad "mid-download: next query gave $(rows main big)"
check "mid-download: the cache is whole" cache_whole

# 3. random kills of multipart imports
for i in 1 2 3 4 5 6; do
    old=$(rows main big)
    "$TARN_BIN" table import big --from big.parquet --mode append >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v r=$RANDOM 'BEGIN {printf "%.2f", (r % 120) / 100}')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    now=$(rows main big)
    if [ "$now" = "$old" ] || [ "$now" = "$((old + 200000))" ]; then
        ok "random kill $i: main before or after ($old -> $now rows)"
    else
        bad "random kill $i: main has $now rows (was $old)"
    fi
done
check "after random kills: the cache is whole" cache_whole
tarn gc --grace 0 >/dev/null || bad "gc after random kills"
[ "$(bucket_objects)" = "$(referenced)" ] && ok "after random kills, gc left exactly the referenced objects" ||
    bad "after random kills: $(bucket_objects) objects, $(referenced) referenced"
s3_server_stop
finish
