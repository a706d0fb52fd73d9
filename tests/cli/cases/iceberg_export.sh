# tarn table export-iceberg: a table at a ref written as an Iceberg table
# (format v2) that readers no one here wrote read back row for row —
# icebird (metadata, Avro manifests, Parquet) through tests/iceberg/compare.mjs,
# python3-avro for the manifests — for every column type tarn stores, at a
# branch, a tag and an old commit, after appends, a replace and a merge;
# with --copy the folder holds the whole table. Bad requests change nothing.
ICE="$HERE/../iceberg"
compare() { # compare REF TABLE METADATA_LOCATION
    expect_out '"rows"' node "$ICE/compare.mjs" --tarn "$TARN_BIN" --ref "$1" --table "$2" --metadata "$3"
}
meta_of() { printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["metadata_location"])'; }

cat >types.sql <<'SQL'
SELECT i AS id,
  (i % 100)::TINYINT AS ti, (i * 7)::SMALLINT AS si, (i * 1000)::INTEGER AS ii, (i * 100000000000)::BIGINT AS bi,
  (i % 200)::UTINYINT AS uti, (i * 3)::USMALLINT AS usi, (i * 4000000)::UINTEGER AS ui, (i * 5000000000)::UBIGINT AS ubi,
  (i * 1e20)::HUGEINT AS hi, (i / 3)::FLOAT AS fl, (i / 7)::DOUBLE AS db,
  (i / 10)::DECIMAL(4,1) AS d4, (i * 1234.567)::DECIMAL(18,3) AS d18, (i * 123456789012345.12345)::DECIMAL(30,5) AS d30,
  'text ' || i || ' é' AS vc, ('blob' || i)::BLOB AS bl,
  DATE '2024-01-01' + (i::INTEGER) AS dt, TIME '10:00:00.123456' + to_seconds(i) AS tm,
  TIMESTAMP '2024-01-01 00:00:00.123456' + to_hours(i) AS ts,
  (TIMESTAMP '2024-01-01 00:00:00.5' + to_minutes(i))::TIMESTAMP_MS AS tms,
  (TIMESTAMP '2024-01-01' + to_days(i::INTEGER))::TIMESTAMP_S AS tss,
  (TIMESTAMP '2024-01-01' + to_days(i::INTEGER))::TIMESTAMP_NS AS tns,
  TIMESTAMPTZ '2024-01-01 10:00:00+02' + to_hours(i) AS tz,
  TIMETZ '10:00:00+02' AS ttz, to_days(i::INTEGER) AS iv,
  md5(i::VARCHAR)::UUID AS uu, i % 2 = 0 AS bo, ('{"k": ' || i || '}')::JSON AS js,
  [i, i + 1, NULL] AS li, {'a': i, 'b': 'x' || i} AS st, MAP {'k' || i: i} AS mp,
  [{'p': i}] AS lst, [i, i]::INTEGER[2] AS arr
FROM range(1, 4) t(i)
UNION ALL SELECT 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
SQL
expect_ok tarn query -f types.sql --output types.parquet
expect_ok tarn table import types --from types.parquet

# Every type Iceberg has goes out; the rest are named, not silently lost.
expect_json 'j["files"] == 1 and j["rows"] == 4 and j["columns_not_exported"] == "ui (UINTEGER), ubi (UBIGINT), tns (TIMESTAMP_NS), ttz (TIME WITH TIME ZONE), iv (INTERVAL)"' \
    tarn -O json table export-iceberg types --to out/types --copy
TYPES_META=$(meta_of)
compare main types "$TYPES_META"
expect_json 'j["properties"]["tarn.columns-not-exported"].startswith("ui (UINTEGER)") and len(j["schemas"][0]["fields"]) == 29 and j["refs"] == {"main": {"snapshot-id": j["current-snapshot-id"], "type": "branch"}} and j["current-snapshot-id"] < 2**53' \
    cat out/types/metadata/v1.metadata.json
# python3-avro reads the manifests: Iceberg's header keys, the file, its bounds
expect_json 'j["list_meta"]["format-version"] == "2" and j["manifests"][0]["meta"] == ["content", "format-version", "partition-spec", "partition-spec-id", "schema", "schema-id"] and j["manifests"][0]["length_ok"] and [f["records"] for f in j["files"]] == [4] and j["bounds"]["id"] == {"min": 1, "max": 4} and j["bounds"]["vc"] == {"min": "text 1 é", "max": "text 3 é"} and j["bounds"]["dt"] == {"min": "2024-01-02", "max": "2024-01-04"} and j["bounds"]["tz"] == {"min": "2024-01-01 09:00:00.000000", "max": "2024-01-01 11:00:00.000000"}' \
    $PY "$ICE/check_avro.py" "$TYPES_META"
# avrocat (avro-bin) reads them too
expect_out '"record_count": 4' sh -c 'avrocat out/types/metadata/*-m0.avro'
# --copy: the folder holds the data; the manifests point into it
expect_eq 1 "$(ls out/types/data/*.parquet | wc -l)" "copied data files"
expect_out "file://$PWD/out/types/data/" sh -c 'avrocat out/types/metadata/*-m0.avro'

# Refs: a tag, a branch after an append, a replace, a merge, an old commit.
csv a.csv id,name 1,one 2,two
csv b.csv id,name 3,three
csv c.csv id,name 10,ten 11,eleven 12,twelve
expect_ok tarn table import t --from a.csv
FIRST=$(head_of main)
expect_ok tarn tag create v1
expect_ok tarn branch create dev
expect_ok tarn table import t --from b.csv --mode append --branch dev
expect_ok tarn table import t --from c.csv --mode replace
expect_ok tarn table import t --from b.csv --mode append
expect_ok tarn branch create side --from-ref "$FIRST"
expect_ok tarn table import t --from c.csv --mode append --branch side
expect_ok tarn branch merge side --into dev
n=0
for ref in v1 dev main "$FIRST"; do
    n=$((n + 1))
    if on_s3; then copy=--copy; else copy=; fi # icebird reads no s3:// here
    expect_ok tarn -O json table export-iceberg t --ref "$ref" --to "out/t$n" $copy
    compare "$ref" t "$(meta_of)"
done
expect_eq 6 "$(count 'SELECT count(*) FROM t' --ref dev)" "rows on dev (base, append, merged side)"
# Without --copy the manifests point at the lakehouse's own files.
expect_ok tarn table export-iceberg t --to out/plain
if on_s3; then
    expect_out "s3://lake/$TARN_TEST_PREFIX/data/default.t/" sh -c 'avrocat out/plain/metadata/*-m0.avro'
else
    expect_out "file://$PWD/.tarn/objects/data/default.t/" sh -c 'avrocat out/plain/metadata/*-m0.avro'
    compare main t "file://$PWD/out/plain/metadata/v1.metadata.json"
fi

# Bad requests: clear errors, nothing written.
before=$(find out -type f | sort | md5sum)
expect_fail 1 "already holds an Iceberg table" tarn table export-iceberg t --to out/t1
expect_fail 1 "does not exist" tarn table export-iceberg nope --to out/nope
expect_fail 1 "nope" tarn table export-iceberg t --ref nope --to out/nope2
expect_fail 2 "missing --to" tarn table export-iceberg t
expect_fail 1 "invalid" tarn table export-iceberg 'bad name' --to out/bad
expect_eq "$before" "$(find out -type f | sort | md5sum)" "files after refused exports"
expect_eq 0 "$(find out/nope out/nope2 -type f 2>/dev/null | wc -l)" "files of refused exports"
