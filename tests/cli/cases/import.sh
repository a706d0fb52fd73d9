# table import: csv / parquet / json, --mode create|append|replace, errors.
csv a.csv id,v,cat 1,1.5,x 2,2.5,y 3,3.5,x
expect_json 'j["rows"] == 3 and len(j["commit"]) == 64' tarn -O json table import t --from a.csv
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id","BIGINT"),("v","DOUBLE"),("cat","VARCHAR")] and j["row_count"] == 3 and j["file_count"] == 1 and j["size_bytes"] > 0' \
    tarn -O json table get t
# create on an existing table: refused, nothing committed
H=$(head_of main)
expect_fail 1 "already exists" tarn table import t --from a.csv
expect_fail 1 "already exists" tarn table import t --from a.csv --mode create
expect_json_rc 1 'j["error"]["code"] == "exists"' tarn -O json table import t --from a.csv
expect_eq "$H" "$(head_of main)" "head after refused create"
# append adds rows and a file
expect_ok tarn table import t --from a.csv --mode append
expect_json 'j["row_count"] == 6 and j["file_count"] == 2' tarn -O json table get t
# append with another schema names the differing columns
csv b.csv id,w 1,2
expect_fail 1 "'w'" tarn table import t --from b.csv --mode append
expect_fail 1 "'v'" tarn table import t --from b.csv --mode append
expect_json_rc 1 'j["error"]["code"] == "invalid"' tarn -O json table import t --from b.csv --mode append
expect_eq 6 "$(count 'SELECT count(*) FROM t')" "rows after refused append"
# append to a table that does not exist
expect_fail 1 "nope" tarn table import nope --from a.csv --mode append
# replace: new contents and schema, whatever was there
expect_ok tarn table import t --from b.csv --mode replace
expect_json '[c["name"] for c in j["columns"]] == ["id","w"] and j["row_count"] == 1 and j["file_count"] == 1' \
    tarn -O json table get t
expect_ok tarn table import fresh --from a.csv --mode replace
expect_eq 3 "$(count 'SELECT count(*) FROM fresh')" "replace on a new table"
# parquet and json readers; format from the extension or --format
expect_ok tarn query 'SELECT id, v, cat FROM fresh' --output p.parquet
expect_ok tarn table import pq --from p.parquet
expect_eq 3 "$(count 'SELECT count(*) FROM pq WHERE cat IS NOT NULL')" "parquet import rows"
printf '[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]\n' >j.json
expect_ok tarn table import js --from j.json
expect_json '[c["name"] for c in j["columns"]] == ["id","name"] and j["row_count"] == 2' tarn -O json table get js
printf '{"id": 3, "name": "c"}\n{"id": 4, "name": "d"}\n' >more.ndjson
expect_ok tarn table import js --from more.ndjson --format json --mode append
expect_eq 4 "$(count 'SELECT count(DISTINCT name) FROM js')" "json append rows"
cp a.csv data.txt
expect_ok tarn table import txt --from data.txt --format csv
expect_eq 3 "$(count 'SELECT count(*) FROM txt')" "--format csv"
# into another branch and namespace, with a message
expect_ok tarn branch create dev
expect_ok tarn table import sales.orders --from a.csv --branch dev -m "orders arrive"
expect_json 'j[0]["message"] == "orders arrive"' tarn -O json commit dev -n 1
expect_fail 1 "not found" tarn table get sales.orders
expect_eq 3 "$(count 'SELECT count(*) FROM sales.orders' --ref dev)" "rows of sales.orders on dev"
# bad inputs
expect_fail 1 "a-b" tarn table import a-b --from a.csv
expect_fail 1 "x.y.z" tarn table import x.y.z --from a.csv
expect_fail 1 "invalid table name" tarn table import 1abc --from a.csv
expect_fail 1 "no_such.csv" tarn table import t2 --from no_such.csv
expect_json_rc 1 'j["error"]["code"] == "not_found"' tarn -O json table import t2 --from no_such.csv
expect_fail 1 "nobranch" tarn table import t2 --from a.csv --branch nobranch
