# table ls / get / rm / revert.
csv a.csv id,v 1,10 2,20
expect_json 'j == []' tarn -O json table ls
expect_ok tarn table import t --from a.csv
expect_ok tarn table import sales.orders --from a.csv
expect_ok tarn table import sales.orders --from a.csv --mode append
expect_json '[t["name"] for t in j] == ["default.t", "sales.orders"] and [t["row_count"] for t in j] == [2, 4]' \
    tarn -O json table ls
expect_out "sales.orders" tarn table ls
expect_json 'set(j) >= {"name","namespace","columns","row_count","file_count","size_bytes"} and j["file_count"] == 2 and j["columns"] == [{"name":"id","type":"BIGINT"},{"name":"v","type":"BIGINT"}]' \
    tarn -O json table get sales.orders
expect_json 'j["row_count"] == 2 and j["file_count"] == 1' tarn -O json table get sales.orders --ref main~1
expect_json 'j["name"] == "default.t"' tarn -O json table get default.t
expect_json '[t["name"] for t in j] == ["default.t"]' tarn -O json table ls --ref main~2
expect_fail 1 "not found" tarn table get nope
expect_json_rc 1 'j["error"]["code"] == "not_found"' tarn -O json table get nope
expect_fail 1 "unknown ref" tarn table get t --ref nope
expect_fail 1 "unknown ref" tarn table ls --ref nope
expect_fail 1 "invalid table name" tarn table get 'a-b'
# rm: a new commit; history keeps the table
expect_ok tarn tag create before_rm
expect_ok tarn table rm t
expect_json '[t["name"] for t in j] == ["sales.orders"]' tarn -O json table ls
expect_fail 1 "not found" tarn query 'SELECT * FROM t'
expect_eq 2 "$(count 'SELECT count(*) FROM t' --ref before_rm)" "t at before_rm"
expect_fail 1 "not found" tarn table rm t
# rm on another branch
expect_ok tarn branch create dev
expect_ok tarn table rm sales.orders --branch dev
expect_json '[t["name"] for t in j] == []' tarn -O json table ls --ref dev
expect_json '[t["name"] for t in j] == ["sales.orders"]' tarn -O json table ls
# revert: restore t from a ref, as a new commit
N=$(tarn -O json commit | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_ok tarn table revert t --source-ref before_rm
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "t after revert"
expect_eq $((N + 1)) "$(tarn -O json commit | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" "revert adds one commit"
# revert a table to a state where it had fewer rows, on another branch
expect_ok tarn table revert sales.orders --source-ref main~3 --into-branch dev
expect_json 'j["row_count"] == 2' tarn -O json table get sales.orders --ref dev
expect_json 'j["row_count"] == 4' tarn -O json table get sales.orders
# revert to a ref where the table did not exist is an error that changes nothing
expect_fail 1 "does not exist at 'before_rm~3'" tarn table revert sales.orders --source-ref before_rm~3
expect_json 'j["row_count"] == 4' tarn -O json table get sales.orders
# so is reverting a table that exists nowhere (not "Reverted")
expect_fail 1 "does not exist" tarn table revert typo_table --source-ref main~1
expect_fail 1 "unknown ref" tarn table revert t --source-ref nope
expect_fail 2 "" tarn table revert t
