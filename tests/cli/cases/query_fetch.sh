# On S3, tarn query fetches into the local cache only the data files whose
# statistics can match the statement's filter (the others are never
# downloaded); everywhere, the answer is the same as without pruning.
for i in 0 1 2 3; do
    printf 'id,v\n' >"p$i.csv"
    for k in 1 2 3 4 5; do echo "$((i * 100 + k)),$i" >>"p$i.csv"; done
    mode=append; [ "$i" = 0 ] && mode=create
    expect_ok tarn table import p --from "p$i.csv" --mode "$mode"
done
cached() { find "${XDG_CACHE_HOME:-/nonexistent}/tarn" -type f -name '*.parquet' 2>/dev/null | wc -l; }
rm -rf "${XDG_CACHE_HOME:-/nonexistent}/tarn"
expect_json 'j["rows"] == [[203, 2]]' tarn -O json query "SELECT id, v FROM p WHERE id = 203"
if on_s3; then
    expect_eq 1 "$(cached)" "data files fetched for a filter one file can match"
    # answered from statistics: nothing to fetch
    expect_json 'j["rows"] == [[20, 1, 305]]' tarn -O json query "SELECT count(*), min(id), max(id) FROM p"
    expect_eq 1 "$(cached)" "data files fetched for an answer the statistics give"
    expect_json 'j["rows"] == [[25]]' tarn -O json query "SELECT sum(v) FROM p WHERE id > 200"
    expect_eq 2 "$(cached)" "data files fetched after a filter two files can match (one already cached)"
    expect_json 'j["rows"] == [[30]]' tarn -O json query "SELECT sum(v) FROM p"
    expect_eq 4 "$(cached)" "data files fetched once a query needs every file"
    # A statement with no filter and no aggregate starts fetching every
    # file of the table it names before it is parsed (the download overlaps
    # DuckDB's start); its answer is the same.
    rm -rf "${XDG_CACHE_HOME:-/nonexistent}/tarn"
    expect_json 'len(j["rows"]) == 0 and len(j["columns"]) == 2' tarn -O json query "SELECT * FROM p LIMIT 0"
    expect_eq 4 "$(cached)" "data files fetched for a statement with no filter"
    # so even one that DuckDB then refuses has had them fetched (and fails as before)
    rm -rf "${XDG_CACHE_HOME:-/nonexistent}/tarn"
    expect_fail 1 "syntax error" tarn query "SELECT * FROM p LIMIT"
    expect_eq 4 "$(cached)" "data files fetched before the statement was parsed"
    expect_fail 1 'column "nope" not found' tarn query "SELECT nope FROM p"
else
    echo "    (not on S3: nothing is fetched, the answers alone are checked)" >&2
    expect_json 'j["rows"] == [[25]]' tarn -O json query "SELECT sum(v) FROM p WHERE id > 200"
fi
