# branch merge: fast-forward, three-way with appends on both sides, conflict.
csv a.csv id,v 1,1 2,2
csv b.csv id,v 3,3 4,4 5,5
expect_ok tarn table import t --from a.csv
expect_ok tarn table import u --from a.csv
expect_ok tarn branch create dev
# nothing to merge
expect_ok tarn branch merge dev
# fast-forward
expect_ok tarn table import t --from b.csv --mode append --branch dev
DEV=$(head_of dev)
expect_json 'j["fast_forward"] is True and j["commit"] == "'"$DEV"'"' tarn -O json branch merge dev
expect_eq "$DEV" "$(head_of main)" "main after fast-forward"
# both sides append to t: a merge commit with both parents, rows add up
expect_ok tarn table import t --from b.csv --mode append --branch dev
expect_ok tarn table import t --from a.csv --mode append
M1=$(head_of main); D1=$(head_of dev)
expect_json 'j["fast_forward"] is False and len(j["commit"]) == 64' tarn -O json branch merge dev -m "merge dev into main"
expect_eq $((2 + 3 + 3 + 2)) "$(count 'SELECT count(*) FROM t')" "t rows after append+append merge"
expect_eq 5 "$(count 'SELECT count(DISTINCT id) FROM t')" "distinct ids after merge"
expect_json 'j[0]["message"] == "merge dev into main" and j[0]["parents"] == ["'"$M1"'", "'"$D1"'"]' tarn -O json commit -n 1
expect_eq "$D1" "$(head_of dev)" "dev unchanged by merging it"
# --into another branch
expect_ok tarn branch create other --from-ref main~3
expect_ok tarn table import w --from a.csv --branch dev
expect_ok tarn branch merge dev --into other
expect_eq 2 "$(count 'SELECT count(*) FROM w' --ref other)" "w on other after merge --into"
expect_fail 1 "not found" tarn table get w
# conflict: dev replaces u, main appends to u
expect_ok tarn table import u --from b.csv --mode replace --branch dev
expect_ok tarn table import u --from a.csv --mode append
expect_ok tarn table import w --from a.csv --mode append --branch dev   # clean on its own
BEFORE=$(head_of main); UROWS=$(count 'SELECT count(*) FROM u'); TROWS=$(count 'SELECT count(*) FROM t'); WFAIL=$(count 'SELECT count(*) FROM w')
expect_fail 1 "default.u" tarn branch merge dev
expect_json_rc 1 'j["error"]["code"] == "conflict" and j["error"]["tables"] == ["default.u"] and "message" in j["error"]' \
    tarn -O json branch merge dev
expect_eq "$BEFORE" "$(head_of main)" "main after a conflicting merge"
expect_eq "$UROWS" "$(count 'SELECT count(*) FROM u')" "u after conflict"
expect_eq "$TROWS" "$(count 'SELECT count(*) FROM t')" "t after conflict"
expect_eq ERROR "$WFAIL" "w is not on main before the merge"
expect_fail 1 "not found" tarn table get w   # the clean part of the merge was not applied either
# a schema change on both sides is a conflict too
expect_ok tarn branch create s1
expect_ok tarn branch create s2
csv c.csv id,other 1,x
expect_ok tarn table import t --from c.csv --mode replace --branch s1
expect_ok tarn table import t --from a.csv --mode append --branch s2
expect_json_rc 1 'j["error"]["tables"] == ["default.t"]' tarn -O json branch merge s1 --into s2
# errors
expect_fail 1 "unknown ref" tarn branch merge nope
expect_fail 1 "" tarn branch merge dev --into nope
expect_ok tarn tag create v1
expect_fail 1 "v1" tarn branch merge dev --into v1
