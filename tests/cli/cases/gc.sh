# gc: --dry-run lists, then deletes; files of a deleted branch go; data
# still referenced by a branch, tag or commit stays queryable.
ndata() { data_files | wc -l; }
# on S3, listings come two keys a page: gc follows the continuation tokens;
# and it deletes one key a request (batches of DeleteObjects)
on_s3 && printf 's3.list_page_size = 2\ns3.delete_batch_size = 1\n' >>.tarn/config
csv a.csv id 1 2
expect_ok tarn table import keep --from a.csv
expect_ok tarn branch create tmp
expect_ok tarn table import scratch --from a.csv --branch tmp
expect_ok tarn table import scratch --from a.csv --branch tmp --mode append
expect_ok tarn tag create old
expect_ok tarn table import keep --from a.csv --mode replace     # old file only reachable from tag/history
sleep 1
expect_json 'j["count"] == 0 and j["files"] == []' tarn -O json gc --grace 0
expect_eq 4 "$(ndata)" "data files, all referenced"
expect_ok tarn branch rm tmp
# default grace period: the deleted branch's files stay, its recent past is kept
expect_json 'j["count"] == 0 and j["referenced"] == 4' tarn -O json gc --dry-run
expect_json 'j["count"] == 2 and len(j["files"]) == 2 and all("scratch" in f for f in j["files"]) and j["dry_run"] is True and j["bytes"] > 0' \
    tarn -O json gc --dry-run --grace 0
expect_out "scratch" tarn gc --dry-run --grace 0
expect_eq 4 "$(ndata)" "data files after dry run"
expect_json 'j["count"] == 2 and j["dry_run"] is False' tarn -O json gc --grace 0
expect_eq 2 "$(ndata)" "data files after gc"
expect_json 'j["count"] == 0' tarn -O json gc --grace 0
expect_eq 2 "$(count 'SELECT count(*) FROM keep')" "keep after gc"
expect_eq 2 "$(count 'SELECT count(*) FROM keep' --ref old)" "keep at the tag after gc"
# a file only reachable from history (main~1) is retained
expect_eq 2 "$(count 'SELECT count(*) FROM keep' --ref main~1)" "keep at main~1 after gc"
# a stray file in the object store that no catalog row names is collected
# (an object store's write time is now: no grace, so that it is not kept)
echo junk > "$TARN_CASE_TMP/stray"
put_object data/default.keep/stray.parquet "$TARN_CASE_TMP/stray"
has_object data/default.keep/stray.parquet || _fail "the stray file was not put in place"
expect_json 'j["count"] == 1' tarn -O json gc --grace 0
has_object data/default.keep/stray.parquet && _fail "stray file survived gc"
expect_fail 2 "" tarn gc --grace abc
