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

expect_ok tarn query -f "$ICE/types.sql" --output types.parquet
expect_ok tarn table import types --from types.parquet
if on_remote; then
    expect_fail 1 "not through a server" tarn table export-iceberg types --to out/types
    expect_eq 0 "$(find out -type f 2>/dev/null | wc -l)" "files written by a refused export"
    local_only "export-iceberg writes where the lakehouse is (iceberg_rest.sh reads through a server)"
fi

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
. "$ICE/history.sh"
ice_history v1 dev
n=0
for ref in v1 dev main "$FIRST"; do
    n=$((n + 1))
    if on_s3; then copy=--copy; else copy=; fi # icebird reads no s3:// here
    expect_ok tarn -O json table export-iceberg t --ref "$ref" --to "out/t$n" $copy
    compare "$ref" t "$(meta_of)"
done
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
