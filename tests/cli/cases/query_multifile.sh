# Rows that come from several data files (or several DuckDB result chunks)
# all show their values. Regression: tarn_query (src/sql/query.c) advanced
# its row offset by duckdb_vector_size() per chunk instead of the chunk's
# size, so every row after a short first chunk came back as NULL.
csv a.csv id,v 1,10 2,20
expect_ok tarn table import t --from a.csv
expect_ok tarn table import t --from a.csv --mode append
expect_json 'j["rows"] == [[1, 10], [1, 10], [2, 20], [2, 20]]' tarn -O json query 'SELECT * FROM t ORDER BY id' --all-rows
expect_json 'sorted(j["rows"]) == [[1, 10], [1, 10], [2, 20], [2, 20]]' tarn -O json query 'SELECT * FROM t' --all-rows
expect_no_out "NULL" tarn query 'SELECT * FROM t' --all-rows
expect_json 'j["rows"] == [[1], [2], [3]]' tarn -O json query 'SELECT * FROM (VALUES (1), (2)) x(a) UNION ALL SELECT 3'
expect_json '[r[0] for r in j["rows"]] == list(range(5000))' tarn -O json query 'SELECT * FROM range(5000) ORDER BY 1' --all-rows
