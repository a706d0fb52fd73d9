# File skipping judges a filter by the statistics of the column it really
# names, and only by statistics known to be exact: a struct field is not a
# top-level column of the same name, a float column holding NaN and a long
# string whose Parquet statistics are truncated prove nothing. The rows a
# filter selects never change.
mkdir -p proj
model() {
    cat >proj/m.py <<PY
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def picked(data=tarn.Model("$1", filter="""$2""")):
    return data
PY
}
# s.x is field x of struct s (5, 6, 7); the top-level column x is 1, 2, 3
expect_ok tarn query "SELECT {'x': 5 + i} AS s, 1 + i AS x FROM range(3) t(i)" --output s.parquet
expect_ok tarn table import st --from s.parquet
model st "s.x >= 5"
expect_out "(1 of 1 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq 3 "$(count 'SELECT count(*) FROM picked')" "rows for s.x >= 5"
# a top-level column still skips
model st "x > 3"
expect_out "(0 of 1 files)" tarn run -p proj --dry-run
model st "s.x >= 7 AND x >= 3"
expect_ok tarn run -p proj
expect_eq 1 "$(count 'SELECT count(*) FROM picked')" "rows for s.x >= 7 AND x >= 3"
# NaN: DuckDB leaves a row group with NaN without statistics; the other
# row groups' min and max say nothing about it
expect_ok tarn query "SELECT CASE WHEN i < 200000 THEN i::DOUBLE ELSE 'nan'::DOUBLE END AS v FROM range(300000) t(i)" --output nan.parquet
expect_ok tarn table import nanv --from nan.parquet
model nanv "v > 150000"
expect_out "(1 of 1 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq "$(count 'SELECT count(*) FROM nanv WHERE v > 150000')" "$(count 'SELECT count(*) FROM picked')" \
    "rows for v > 150000 (NaN sorts above every number)"
# strings longer than Parquet keeps in statistics: min and max are cut
# short (DuckDB rounds the max up, so they still bound the values, but
# they are not the values): the rows selected are the same either way
LONG=$($PY -c "print('z' * 300 + 'y')")
expect_ok tarn query "SELECT repeat('z', 300) || 'y' AS w UNION ALL SELECT 'a'" --output long.parquet
expect_ok tarn table import longs --from long.parquet
model longs "w = '$LONG'"
expect_ok tarn run -p proj
expect_eq 1 "$(count 'SELECT count(*) FROM picked')" "rows for w = a 301-character string"
# short strings keep exact statistics: a file is skipped when they prove it
csv short.csv w b c
expect_ok tarn table import shorts --from short.csv
model shorts "w < 'a'"
expect_out "(0 of 1 files)" tarn run -p proj --dry-run
model shorts "w <= 'b'"
expect_out "(1 of 1 files)" tarn run -p proj --dry-run
