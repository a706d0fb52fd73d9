# branch create / ls / rm / checkout / checkout -b, names, unknown refs.
csv a.csv id 1 2
expect_ok tarn table import t --from a.csv
MAIN=$(head_of main)
expect_out "dev" tarn branch create dev
expect_json 'j["name"] == "dev2" and j["commit"] == "'"$MAIN"'"' tarn -O json branch create dev2 --from-ref main
expect_fail 1 "already exists" tarn branch create dev
expect_json_rc 1 'j["error"]["code"] == "exists"' tarn -O json branch create dev
expect_json '[b["name"] for b in j] == ["dev", "dev2", "main"] and all(b["commit"] == "'"$MAIN"'" for b in j)' \
    tarn -O json branch ls
# branch from an older ref
expect_ok tarn table import t --from a.csv --mode append
expect_ok tarn branch create old --from-ref main~1
expect_eq "$MAIN" "$(head_of old)" "old branch head"
expect_eq 2 "$(count 'SELECT count(*) FROM t' --ref old)" "rows on old"
expect_eq 4 "$(count 'SELECT count(*) FROM t')" "rows on main"
# checkout: the active branch is where imports and queries go
expect_ok tarn checkout dev
expect_eq dev "$(active_head)" "HEAD after checkout"
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "rows on dev (active)"
expect_json '[b["name"] for b in j if b.get("active")] == ["dev"]' tarn -O json branch ls
expect_out "feature" tarn checkout -b feature
expect_json 'j[0]["hash"] == "'"$MAIN"'"' tarn -O json commit -n 1
expect_ok tarn table import t --from a.csv --mode append
expect_eq 4 "$(count 'SELECT count(*) FROM t')" "rows on feature"
expect_eq 2 "$(count 'SELECT count(*) FROM t' --ref dev)" "dev unchanged by feature"
expect_ok tarn checkout -b fromold --from-ref old
expect_eq "$MAIN" "$(head_of fromold)" "checkout -b --from-ref"
expect_fail 1 "nope" tarn checkout nope
expect_fail 1 "already exists" tarn checkout -b dev
# rm: refuses the active branch; a removed branch is gone
expect_fail 1 "active" tarn branch rm fromold
expect_ok tarn checkout main
expect_ok tarn branch rm dev2
expect_json '"dev2" not in [b["name"] for b in j]' tarn -O json branch ls
expect_fail 1 "dev2" tarn branch rm dev2
expect_fail 1 "unknown ref 'dev2'" tarn query 'SELECT 1' --ref dev2
# bad names never reach the catalog
expect_fail 1 "space" tarn branch create 'a b'
expect_fail 1 ".." tarn branch create 'a..b'
expect_fail 1 "'-x'" tarn branch create -- -x
expect_fail 1 "invalid name" tarn branch create "$(printf 'a\tb')"
expect_fail 1 "invalid name" tarn checkout -b 'bad name'
expect_json_rc 1 'j["error"]["code"] == "invalid"' tarn -O json branch create 'a b'
expect_json '[b["name"] for b in j] == ["dev", "feature", "fromold", "main", "old"]' tarn -O json branch ls
# unknown source ref
expect_fail 1 "unknown ref 'nope'" tarn branch create x --from-ref nope
expect_json_rc 1 'j["error"]["code"] == "not_found"' tarn -O json branch create x --from-ref nope
