# tarn table create-external: an Iceberg table whose metadata lives
# elsewhere added to a branch and queried in place — one tarn exported, one
# icebird created — and served back as Iceberg pointing at its own files;
# gc leaves them alone. What tarn cannot read exactly (delete files, a file
# without a column, another format version, s3://) is refused with the
# reason and changes nothing.
ICE="$HERE/../iceberg"
csv a.csv id,name,score 1,one,1.5 2,two,2.5 3,three,
expect_ok tarn table import t --from a.csv
csv b.csv id,name,score 4,four,4.5
expect_ok tarn table import t --from b.csv --mode append
if on_remote; then
    expect_fail 1 "not through a server" tarn table create-external ext --metadata "file://$PWD/none.json"
    expect_json '[t["name"] for t in j] == ["default.t"]' tarn -O json table ls
    local_only "create-external reads metadata where the lakehouse is"
fi
expect_ok tarn table export-iceberg t --to src/t --copy
LOC="file://$PWD/src/t/metadata/v1.metadata.json"

expect_json 'len(j["commit"]) == 64' tarn -O json table create-external ext --metadata "$LOC"
expect_json 'j[0]["properties"]["iceberg.metadata-location"] == "'"$LOC"'"' tarn -O json commit -n 1
expect_json 'j["row_count"] == 4 and j["file_count"] == 2 and [c["name"] for c in j["columns"]] == ["id", "name", "score"]' \
    tarn -O json table get ext
expect_eq "$(tarn -O json query 'SELECT * FROM t ORDER BY id' | $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" \
    "$(tarn -O json query 'SELECT * FROM ext ORDER BY id' | $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" \
    "rows of the external table"
expect_eq 3 "$(count 'SELECT count(*) FROM ext WHERE score IS NOT NULL')" "non-null scores"
# served back as Iceberg, pointing at the files where they are
expect_ok tarn table export-iceberg ext --to out/ext
expect_out "file://$PWD/src/t/data/" sh -c 'avrocat out/ext/metadata/*-m0.avro'
expect_out '"rows":4' node "$ICE/compare.mjs" --tarn "$TARN_BIN" --ref main --table ext \
    --metadata "file://$PWD/out/ext/metadata/v1.metadata.json"
# gc never deletes what is not in the store
expect_ok tarn gc --grace 0
expect_eq 2 "$(ls src/t/data/*.parquet | wc -l)" "external data files after gc"
expect_eq 4 "$(count 'SELECT count(*) FROM ext')" "rows after gc"

# A table icebird created: its schema (nested types too), no snapshot yet.
expect_ok node "$ICE/create.mjs" "$PWD/src/bird"
expect_ok tarn table create-external bird --metadata "$PWD/src/bird/metadata/v1.metadata.json"
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id", "BIGINT"), ("label", "VARCHAR"), ("price", "DECIMAL(10,2)"), ("tags", "VARCHAR[]"), ("pos", "STRUCT(\"x\" DOUBLE)"), ("attrs", "MAP(VARCHAR, INTEGER)")] and j["row_count"] == 0' \
    tarn -O json table get bird
expect_eq 0 "$(count 'SELECT count(*) FROM bird')" "rows of the empty table"
# its field ids are kept when it is served back (nested ones too)
expect_ok tarn table export-iceberg bird --to out/bird
expect_json 'j["schemas"][0]["fields"][3]["type"]["element-id"] == 7 and j["schemas"][0]["fields"][5]["type"]["value-id"] == 10' \
    cat out/bird/metadata/v1.metadata.json

# Refused, with the reason; nothing changes.
HEAD=$(head_of main)
mkdir -p bad
$PY - "$PWD/src/t/metadata/v1.metadata.json" "$PWD/bad" <<'PY'
import json, sys
from avro.datafile import DataFileReader, DataFileWriter
from avro.io import DatumReader, DatumWriter
md = json.load(open(sys.argv[1]))
out = sys.argv[2]
snap = md["snapshots"][0]
# a snapshot whose manifests include delete files
src = DataFileReader(open(snap["manifest-list"][7:], "rb"), DatumReader())
w = DataFileWriter(open(out + "/deletes.avro", "wb"), DatumWriter(), src.datum_reader.writers_schema)
for r in src:
    w.append(r)
    w.append(dict(r, content=1))
w.close()
json.dump(dict(md, snapshots=[dict(snap, **{"manifest-list": "file://" + out + "/deletes.avro"})]), open(out + "/deletes.json", "w"))
# a column the files do not have
fields = md["schemas"][0]["fields"] + [{"id": 99, "name": "added_later", "required": False, "type": "long"}]
json.dump(dict(md, schemas=[dict(md["schemas"][0], fields=fields)]), open(out + "/newcol.json", "w"))
json.dump(dict(md, **{"format-version": 3}), open(out + "/v3.json", "w"))
PY
expect_fail 1 "has delete files" tarn table create-external d1 --metadata "$PWD/bad/deletes.json"
expect_fail 1 "does not hold the table's columns" tarn table create-external d2 --metadata "$PWD/bad/newcol.json"
expect_fail 1 "format version 3" tarn table create-external d3 --metadata "$PWD/bad/v3.json"
expect_fail 1 "already exists" tarn table create-external ext --metadata "$LOC"
expect_fail 1 "local paths and file://" tarn table create-external d4 --metadata s3://bucket/t/metadata/v1.metadata.json
expect_fail 1 "cannot read Iceberg metadata" tarn table create-external d5 --metadata "$PWD/nope.json"
expect_fail 2 "missing --metadata" tarn table create-external d6
expect_eq "$HEAD" "$(head_of main)" "main after refused registrations"
