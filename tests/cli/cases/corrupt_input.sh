# a corrupt input file: an error, and nothing is committed or left referenced.
csv a.csv id 1 2
expect_ok tarn table import t --from a.csv
expect_json 'len(j) == 2' tarn -O json commit
BEFORE=$(tarn -O json commit -n 1)
echo "this is not parquet at all, just some text that goes on" >bad.parquet
expect_fail 1 "bad.parquet" tarn table import g --from bad.parquet
expect_json_rc 1 'j["error"]["code"] != "" and "message" in j["error"]' tarn -O json table import g --from bad.parquet
head -c 4096 /dev/urandom >rand.parquet
expect_fail 1 "" tarn table import g --from rand.parquet
# a real parquet file cut in half
expect_ok tarn query 'SELECT range AS id FROM range(100000)' --output big.parquet
head -c $(( $(stat -c %s big.parquet) / 2 )) big.parquet >half.parquet
expect_fail 1 "" tarn table import g --from half.parquet
expect_fail 1 "" tarn table import t --from half.parquet --mode append
printf '{"id": 1,\n' >bad.json
expect_fail 1 "" tarn table import g --from bad.json
printf 'PK\003\004 not a csv either \000\001\002' >zip.csv
printf 'id,v\n1,2\n' >empty_ext
expect_fail 2 "xlsx" tarn table import g --from empty_ext --format xlsx
expect_fail 1 "" tarn table import g --from zip.csv --format parquet
expect_eq "$BEFORE" "$(tarn -O json commit -n 1)" "log after failed imports"
expect_fail 1 "not found" tarn table get g
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "t after failed append"
