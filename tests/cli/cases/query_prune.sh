# tarn query gives DuckDB only the data files a statement may need, judged
# by the statistics the catalog recorded when each file was written, and
# answers count(*), min and max from those statistics when they can: a file
# hidden from the store shows which files were opened. Results never
# change (tests/python/test_query_prune.py compares them on random data).
# It tells which files are opened by hiding them from the local folder
# store; on S3 (with its local cache of data files) it has nothing to hide.
on_s3 && return 0
OBJ=.tarn/objects/data/default.t
# t: three files, ids 0-9, 10-19, 20-29; s.x (a struct field) runs the other way
for i in 0 1 2; do
    expect_ok tarn query "SELECT $i * 10 + r AS id, {'x': 100 - ($i * 10 + r)} AS s, 'v' || ($i * 10 + r) AS name FROM range(10) t(r)" --output p$i.parquet
    before=$(ls "$OBJ" 2>/dev/null)
    if [ "$i" = 0 ]; then expect_ok tarn table import t --from p0.parquet; else expect_ok tarn table import t --from p$i.parquet --mode append; fi
    FILE[$i]=$(comm -13 <(echo "$before") <(ls "$OBJ"))
done
hide() { mv "$OBJ/${FILE[$1]}" hidden.parquet; }
unhide() { mv hidden.parquet "$OBJ/${FILE[$1]}"; }

# the middle file (ids 10-19) missing: statements that cannot need it still run
hide 1
expect_eq 2 "$(count 'SELECT count(*) FROM t WHERE id IN (1, 22)')" "IN skips the middle file"
expect_eq 5 "$(count 'SELECT count(*) FROM t WHERE id < 5')" "a comparison skips it"
expect_eq 3 "$(count 'SELECT count(*) FROM t WHERE id BETWEEN 21 AND 23 AND name <> $$x$$')" "BETWEEN"
expect_eq 3 "$(count 'SELECT count(*) FROM t WHERE 23 >= id AND t.id > 20')" "constant first, qualified column"
expect_eq 3 "$(count 'SELECT count(*) FROM t a JOIN t b ON a.id = b.id WHERE a.id < 5 AND b.id < 3')" \
    "each side of a self-join by its own terms"
expect_eq 4 "$(count 'SELECT count(*) FROM t LEFT JOIN t AS u ON t.id = u.id + 1 WHERE t.id < 5 AND u.id < 8')" \
    "an outer join's terms are false on NULL"
expect_eq 2 "$(count 'SELECT count(*) FROM (SELECT * FROM t WHERE id > 27) WHERE id > 0')" "a subquery's own WHERE"
# ... and those that may need it fail, as they must: it was given to DuckDB
expect_fail 1 "" tarn query "SELECT count(*) FROM t WHERE id < 15"
expect_fail 1 "" tarn query "SELECT count(*) FROM t WHERE id < 5 UNION ALL SELECT count(*) FROM t"
expect_fail 1 "" tarn query "SELECT count(*) FROM (SELECT * FROM t) WHERE id < 5"
expect_fail 1 "" tarn query "SELECT count(*) FROM t, (SELECT 1 AS k) WHERE id < 5 OR k = 2"
# s.x is field x of struct s, not a column x: its terms keep every file
expect_fail 1 "" tarn query "SELECT count(*) FROM t WHERE s.x > 95"
expect_fail 1 "" tarn query "SELECT count(*) FROM t AS s WHERE s.id < 3 AND x > 95"
# a POSITIONAL join pairs rows by position: removing rows would change the pairs
expect_fail 1 "" tarn query "SELECT count(*) FROM t POSITIONAL JOIN t AS u WHERE t.id < 5"
# TARN_NO_PRUNE=1 gives DuckDB every file
if local_section "TARN_NO_PRUNE is read by the process that queries, through a server the server"; then
    expect_fail 1 "" env TARN_NO_PRUNE=1 "$TARN_BIN" query "SELECT count(*) FROM t WHERE id < 5"
fi
unhide 1

# count(*), min and max from the statistics alone: every file missing
mkdir -p away && mv "$OBJ"/*.parquet away/
expect_eq 30 "$(count 'SELECT count(*) FROM t')" "count(*) of the whole table"
expect_json '[c["name"] for c in j["columns"]] == ["count_star()", "lo", "max(id)", "max(\"name\")"] and j["rows"] == [[30, 0, 29, "v9"]]' \
    tarn -O json query "SELECT count(*), min(id) AS lo, max(id), max(name) FROM t"
# a filter that keeps files whole or not at all: ids 10-29
expect_json 'j["rows"] == [[20, 10]]' tarn -O json query "SELECT count(*), min(id) FROM t WHERE id >= 10"
expect_json 'j["rows"] == [[0, None]]' tarn -O json query "SELECT count(*), min(id) FROM T WHERE id > 100"
expect_ok tarn query "SELECT count(*) AS n FROM t" --output n.csv
expect_eq "n 30" "$(tr '\n' ' ' <n.csv | sed 's/ $//')" "--output of an answer from statistics"
# anything else opens the files (and fails here: they are gone)
expect_fail 1 "" tarn query "SELECT count(*) FROM t WHERE id > 15"
expect_fail 1 "" tarn query "SELECT count(id) FROM t"
expect_fail 1 "" tarn query "SELECT count(*) FROM t GROUP BY name"
expect_fail 1 "" tarn query "SELECT min(s) FROM t"
expect_fail 1 "" tarn query "SELECT count(DISTINCT id) FROM t"
expect_fail 1 "" tarn query "SELECT count(*) FILTER (WHERE id > 3) FROM t"
expect_fail 1 "" tarn query "SELECT count(*) FROM t WHERE s.x > 3"
mv away/*.parquet "$OBJ"/
expect_eq 14 "$(count 'SELECT count(*) FROM t WHERE id > 15')" "the same statement with its files back"
