# On S3, the local cache stays within cache.max_gb: a query's files are
# fetched and kept while it reads them, and what earlier commands left is
# evicted to make room (never a file a reader holds); every answer is
# right whatever was evicted. Locally there is no cache: answers only.
for i in 0 1 2; do
    printf 'id,v\n' >"t$i.csv"
    for k in $(seq 1 200); do echo "$((i * 1000 + k)),$k" >>"t$i.csv"; done
    expect_ok tarn table import "t$i" --from "t$i.csv"
done
entries() { find "${XDG_CACHE_HOME:-/nonexistent}/tarn/v1" -type f -name '*.parquet' 2>/dev/null | wc -l; }
if on_s3; then
    rm -rf "${XDG_CACHE_HOME:-/nonexistent}/tarn"
    # room for one file of these, not two (the bound is in GB: 1.5 files)
    expect_ok tarn query "SELECT sum(id) FROM t0"
    one=$(find "${XDG_CACHE_HOME:-/nonexistent}/tarn/v1" -type f -name '*.parquet' -exec stat -c %s {} + | sort -n | tail -1)
    echo "cache.max_gb = $(awk -v b="$one" 'BEGIN {printf "%.12f", 1.5 * b / 1073741824}')" >>.tarn/config
    for round in 1 2; do
        for i in 0 1 2; do
            expect_json "j['rows'] == [[$((200 * 1000 * i + 20100))]]" tarn -O json query "SELECT sum(id) FROM t$i"
            expect_eq 1 "$(entries)" "cache entries after reading t$i (round $round): only the file just read"
        done
    done
    # a bound that holds them all keeps them all
    echo "cache.max_gb = 1" >>.tarn/config
    for i in 0 1 2; do expect_ok tarn query "SELECT sum(id) FROM t$i"; done
    expect_eq 3 "$(entries)" "cache entries under a bound that holds every file"
else
    echo "    (not on S3: no cache, the answers alone are checked)" >&2
    for i in 0 1 2; do
        expect_json "j['rows'] == [[$((200 * 1000 * i + 20100))]]" tarn -O json query "SELECT sum(id) FROM t$i"
    done
fi

# A data file gone from the bucket (deleted behind tarn's back): a cold
# query fails naming the bucket, the key and the status, and changes
# nothing; the other tables still read.
if on_s3; then
    obj=$(ls "$S3_DATA/lake/$TARN_TEST_PREFIX"/data/default.t1/*._S3rver_object)
    rm -f "$obj" "${obj%._S3rver_object}"._S3rver_metadata.json
    rm -rf "${XDG_CACHE_HOME:-/nonexistent}/tarn"
    head=$(tarn -O json branch get main 2>/dev/null)
    expect_fail 1 "404" tarn query "SELECT sum(id) FROM t1"
    case "$ERR" in *"s3://lake/$TARN_TEST_PREFIX/data/default.t1/"*) ;; *) _fail "the message names the object: $ERR" ;; esac
    expect_eq "$head" "$(tarn -O json branch get main 2>/dev/null)" "main after the failed query"
    expect_json "j['rows'] == [[20100]]" tarn -O json query "SELECT sum(id) FROM t0"
fi
