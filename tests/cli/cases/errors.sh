# unknown refs and tables, malformed SQL, non-SELECT SQL: clear messages,
# exit 1, JSON errors, and nothing changes.
csv a.csv id 1 2
expect_ok tarn table import t --from a.csv
H=$(head_of main)
expect_fail 1 "table 'nope' not found" tarn query 'SELECT * FROM nope'
expect_fail 1 "did you mean" tarn query 'SELECT * FROM tt'
expect_json_rc 1 'j["error"]["code"] == "not_found" and "nope" in j["error"]["message"]' tarn -O json query 'SELECT * FROM nope'
expect_fail 1 "unknown ref 'nope'" tarn table ls --ref nope
expect_fail 1 "unknown ref" tarn commit nope
expect_fail 1 "syntax error" tarn query 'SELEC 1'
expect_fail 1 "" tarn query 'SELECT * FROM t WHERE'
expect_json_rc 1 'j["error"]["code"] == "invalid"' tarn -O json query 'SELEC 1'
expect_fail 1 "" tarn query ''
# only reads: writes, DDL, and file access through tarn are refused
for sql in 'DROP TABLE t' 'DELETE FROM t' 'INSERT INTO t VALUES (3)' 'CREATE TABLE x (a INT)' \
           'UPDATE t SET id = 1' "COPY t TO 'x.csv'" 'ATTACH ":memory:" AS m' 'SELECT 1; DROP TABLE t' \
           'PRAGMA version' "SET threads = 1"; do
    expect_fail 1 "" tarn query "$sql"
done
expect_json_rc 1 'j["error"]["code"] == "invalid"' tarn -O json query 'DROP TABLE t'
[ -e x.csv ] && _fail "COPY through tarn query wrote a file"
expect_eq "$H" "$(head_of main)" "head after refused SQL"
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "t after refused SQL"
# names with odd characters never reach SQL
expect_fail 1 "" tarn query 'SELECT * FROM "t; DROP TABLE t"'
expect_fail 1 "invalid" tarn table get "t'; --"
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "t after odd names"
