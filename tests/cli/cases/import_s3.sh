# import_s3: `table import --from s3://...` of one object, a glob, a prefix
# and a "folder", from a bucket other than the lakehouse's (with its own
# credentials profile); what matches nothing, a missing bucket, mixed kinds
# and bad credentials are refused with nothing committed; no secret is ever
# written to the config or printed.
local_only "sources on S3 are read by the server, with its host's endpoints and credentials"
if [ -z "${S3_ENDPOINT:-}" ]; then # a lakehouse on the local folder: start a server for the sources
    . "$(dirname "${BASH_SOURCE[0]}")/../../s3/server.sh"
    s3_server_start "$TARN_CASE_TMP/s3" || exit 1
    trap s3_server_stop EXIT
    echo "s3.endpoint = $S3_ENDPOINT" >>.tarn/config # where buckets are, for this lakehouse
fi
src() { curl -sf -X PUT --data-binary "@$2" "$S3_ENDPOINT/source/$1" >/dev/null || _fail "cannot put $1"; }
csv "$TARN_CASE_TMP/a.csv" id,v 1,a 2,b
csv "$TARN_CASE_TMP/b.csv" id,v 3,c
csv "$TARN_CASE_TMP/c.csv" id,v 4,d 5,e 6,f
src raw/2024/a.csv "$TARN_CASE_TMP/a.csv"
src raw/2024/b.csv "$TARN_CASE_TMP/b.csv"
src raw/2023/c.csv "$TARN_CASE_TMP/c.csv"
expect_ok tarn query "SELECT range AS id, range * 2 AS twice FROM range(1000)" --output "$TARN_CASE_TMP/p.parquet"
src pq/part-1.parquet "$TARN_CASE_TMP/p.parquet"
src pq/part-2.parquet "$TARN_CASE_TMP/p.parquet"
src mixed/x.csv "$TARN_CASE_TMP/a.csv"
src mixed/y.parquet "$TARN_CASE_TMP/p.parquet"

expect_out "imported 2 rows" tarn table import one --from s3://source/raw/2024/a.csv
expect_eq 3 "$(count 'SELECT sum(id) FROM one')" "one object"
expect_out "imported 3 rows" tarn table import globbed --from 's3://source/raw/2024/*.csv'
expect_out "imported 6 rows" tarn table import prefixed --from s3://source/raw/
expect_eq 21 "$(count 'SELECT sum(id) FROM prefixed')" "everything under raw/"
expect_out "imported 3 rows" tarn table import folder --from s3://source/raw/2024
expect_out "imported 2000 rows" tarn table import pq --from 's3://source/pq/*.parquet'
expect_eq 1998000 "$(count 'SELECT sum(twice) FROM pq')" "parquet objects (two copies)"
expect_json 'j[0]["message"] == "Create default.pq from s3://source/pq/*.parquet"' tarn -O json commit -n 1
expect_out "imported 1 row " tarn table import globbed --from s3://source/raw/2024/b.csv --mode append
expect_eq 4 "$(count 'SELECT count(*) FROM globbed')" "append from S3"
[ -z "$(ls .tarn/staging 2>/dev/null)" ] || _fail "downloads left behind: $(ls .tarn/staging)"

# refusals change nothing
HEAD=$(head_of main)
expect_fail 1 "no object matches 's3://source/raw/2025/*.csv'" tarn table import none --from 's3://source/raw/2025/*.csv'
expect_fail 1 "no object matches" tarn table import none --from s3://source/raw/2025/
expect_fail 1 "bucket 'no-such-bucket' does not exist" tarn table import none --from s3://no-such-bucket/a.csv
expect_fail 1 "different kinds" tarn table import none --from s3://source/mixed/
expect_fail 1 "not an S3 location" tarn table import none --from s3:/source/a.csv
expect_fail 1 "does not name a bucket" tarn table import none --from s3://x/a.csv
expect_fail 1 "already exists" tarn table import one --from s3://source/raw/2024/a.csv
expect_eq "$HEAD" "$(head_of main)" "main after the refusals"

# A lakehouse on the local folder whose source bucket has its own endpoint
# and credentials profile; the environment's keys are wrong.
expect_ok tarn init sub
cat >"$TARN_CASE_TMP/credentials" <<CREDS
[default]
aws_access_key_id = WRONG
aws_secret_access_key = WRONG-SECRET-1234
[sources]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
CREDS
printf 's3.bucket.source.endpoint = %s\ns3.bucket.source.profile = sources\n' "$S3_ENDPOINT" >>sub/.tarn/config
(
    cd sub || exit 1
    export AWS_SHARED_CREDENTIALS_FILE="$TARN_CASE_TMP/credentials" XDG_CACHE_HOME="$TARN_CASE_TMP/cache-sub"
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    expect_out "imported 3 rows" tarn table import t --from 's3://source/raw/2024/*.csv'
    # without the profile the default one is used, and refused: bucket, key, status, what to do
    sed -i '/profile = sources/d' .tarn/config
    expect_fail 1 "HTTP 403" tarn table import u --from s3://source/raw/2024/a.csv
    expect_fail 1 "s3://source/raw/2024/a.csv" tarn table import u --from s3://source/raw/2024/a.csv
    expect_fail 1 "check the credentials (profile 'default'" tarn table import u --from s3://source/raw/2024/a.csv
    case "$OUT$ERR" in *WRONG-SECRET*) _fail "a secret was printed" ;; esac
    expect_fail 1 "not found" tarn table get u
    grep -q "SECRET\|S3RVER" .tarn/config && _fail "credentials in the config"
    true
)
grep -q "S3RVER" .tarn/config && _fail "credentials in the lakehouse's config"
true
