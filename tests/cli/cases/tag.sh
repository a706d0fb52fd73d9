# tag create / ls / rm; tags never move.
csv a.csv id 1 2
expect_ok tarn table import t --from a.csv
H1=$(head_of main)
expect_out "v1" tarn tag create v1
expect_json '[{"name": t["name"], "commit": t["commit"]} for t in j] == [{"name": "v1", "commit": "'"$H1"'"}]' \
    tarn -O json tag ls
expect_fail 1 "already exists" tarn tag create v1
expect_ok tarn table import t --from a.csv --mode append
# the branch moved, the tag did not
expect_eq "$H1" "$(head_of v1)" "tag v1 after a commit on main"
expect_eq 2 "$(count 'SELECT count(*) FROM t' --ref v1)" "rows at v1"
expect_eq 4 "$(count 'SELECT count(*) FROM t')" "rows at main"
# nothing commits on a tag
expect_fail 1 "v1" tarn table import t --from a.csv --mode append --branch v1
expect_eq "$H1" "$(head_of v1)" "tag v1 after an import attempt on it"
expect_fail 1 "" tarn checkout v1
# tag an older ref
expect_json 'j["commit"] == "'"$H1"'"' tarn -O json tag create v0 --from-ref main~1
expect_json '[t["name"] for t in j] == ["v0", "v1"]' tarn -O json tag ls
expect_out "v0" tarn tag ls
expect_fail 1 "invalid name" tarn tag create 'has space'
expect_fail 1 "unknown ref" tarn tag create v2 --from-ref nope
expect_ok tarn tag rm v0
expect_json '[t["name"] for t in j] == ["v1"]' tarn -O json tag ls
expect_fail 1 "does not exist" tarn tag rm v0
expect_json_rc 1 'j["error"]["code"] == "not_found"' tarn -O json tag rm v0
# a tag and a branch cannot share a name
expect_fail 1 "exists" tarn branch create v1
