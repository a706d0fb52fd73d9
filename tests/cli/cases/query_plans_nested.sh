# `tarn query` takes EXPLAIN [ANALYZE] of a SELECT, confined as the SELECT
# is, and -O json prints nested values (lists, structs, maps, arrays) as
# JSON instead of DuckDB's text.
csv t.csv id,country 1,IT 2,FR
expect_ok tarn table import t --from t.csv
expect_out "READ_PARQUET" tarn query "EXPLAIN SELECT * FROM t WHERE country = 'IT'"
case "$OUT" in *'\n'*) _fail "the plan is drawn escaped: $OUT" ;; esac
expect_out "physical_plan" tarn query "  -- the plan
explain select count(*) from t"
expect_out "analyzed_plan" tarn query "EXPLAIN ANALYZE SELECT count(*) FROM t"
expect_json 'j["columns"][0]["name"] == "explain_key"' tarn -O json query "EXPLAIN SELECT * FROM t"
# confined the same way: other statements, unknown tables, files
expect_fail 1 "only a read-only SELECT" tarn query "EXPLAIN COPY t TO 'x.csv'"
expect_fail 1 "table 'nope' not found" tarn query "EXPLAIN SELECT * FROM nope"
expect_fail 1 "EXPLAIN takes one SELECT" tarn query "EXPLAIN EXPLAIN SELECT 1"
expect_fail 1 "" tarn query "EXPLAIN SELECT * FROM read_csv('t.csv')"
expect_fail 1 "not written to a file" tarn query "EXPLAIN SELECT * FROM t" --output plan.csv
[ -e plan.csv ] && _fail "a plan was written to a file"

# nested values as JSON
local_only "nested values as JSON are the local command's; a server's JSON answer carries them as DuckDB's text (docs/api.md)"
SQL="SELECT [1, 2] AS l, {'a': 1, 'b': 'x'} AS s, map([1, 2], ['a', 'b']) AS m, [[1.5]]::DOUBLE[][] AS ll,
     NULL::INTEGER[] AS e, [1, 2]::INTEGER[2] AS arr, [{'k': [true]}] AS deep, 'text' AS v"
expect_json 'j["rows"] == [[[1, 2], {"a": 1, "b": "x"}, {"1": "a", "2": "b"}, [[1.5]], None, [1, 2], [{"k": [True]}], "text"]]' \
    tarn -O json query "$SQL"
expect_json '[c["type"] for c in j["columns"]][:6] == ["INTEGER[]", "STRUCT(a INTEGER, b VARCHAR)", "MAP(INTEGER, VARCHAR)", "DOUBLE[][]", "INTEGER[]", "INTEGER[2]"]' \
    tarn -O json query "$SQL"
# the terminal keeps DuckDB's text
expect_out "{'a': 1, 'b': x}" tarn query "$SQL"
