# SQL sees exactly the tables of its ref that it names: no host file, no
# glob, no URL, no other branch's data file — in tarn query, in SQL models
# and in model filters — while tables, views over several files, Python
# models' Arrow tables and tarn's own writes keep working.
csv t.csv id,name 1,a 2,b
expect_ok tarn table import t --from t.csv
expect_ok tarn checkout -b other
csv s.csv secret 42
expect_ok tarn table import secret --from s.csv
expect_ok tarn checkout main
# the other branch's data file, as a local file (on S3: the bucket's copy)
if on_s3; then
    SECRET=$(ls "$S3_DATA/lake/$TARN_TEST_PREFIX"/data/default.secret/*._S3rver_object)
else
    SECRET=$(ls "$PWD"/.tarn/objects/data/default.secret/*.parquet)
fi
[ -f "$SECRET" ] || _fail "no data file for the other branch's table"
echo "host-file-content" >host.txt
H=$(head_of main)

# tarn query: every way to reach a file is refused, saying what to do
for sql in "SELECT * FROM read_csv('/etc/passwd')" \
           "SELECT * FROM read_csv_auto('$PWD/host.txt')" \
           "SELECT * FROM glob('/root/*')" \
           "SELECT * FROM glob('$PWD/.tarn/objects/**')" \
           "SELECT * FROM read_text('/etc/hostname')" \
           "SELECT * FROM read_blob('$PWD/host.txt')" \
           "SELECT * FROM read_parquet('$SECRET')" \
           "SELECT * FROM parquet_metadata('$SECRET')" \
           "SELECT * FROM read_json('$PWD/host.txt')" \
           "SELECT * FROM read_csv('https://example.com/data.csv')" \
           "SELECT * FROM read_parquet('s3://bucket/x.parquet')" \
           "SELECT t.*, s.* FROM t, read_parquet('$SECRET') s"; do
    expect_fail 1 "to read a file, import it with 'tarn table import'" tarn query "$sql"
done
expect_json_rc 1 'j["error"]["code"] == "invalid" and "tarn table import" in j["error"]["message"]' \
    tarn -O json query "SELECT * FROM read_text('/etc/hostname')"
# a file name where a table goes is a table name, and there is no such table
expect_fail 1 "not found" tarn query "SELECT * FROM '$PWD/host.txt'"
# tables named in strings are invisible to tarn: refused
expect_fail 1 "name the tables in FROM" tarn query "SELECT * FROM query_table('t')"
expect_fail 1 "name the tables in FROM" tarn query "SELECT * FROM query('SELECT * FROM t')"
# the other branch's table by name: not on this ref
expect_fail 1 "table 'secret' not found" tarn query "SELECT * FROM secret"
# anything but one SELECT never reaches DuckDB
for sql in "ATTACH '$PWD/x.db' AS x" "INSTALL httpfs" "LOAD httpfs" "SET enable_external_access = true" \
           "PRAGMA enable_profiling" "COPY t TO '$PWD/leak.csv'" "EXPORT DATABASE '$PWD/dump'" \
           "CALL pragma_version()"; do
    expect_fail 1 "" tarn query "$sql"
done
[ -e leak.csv ] && _fail "COPY through tarn query wrote a file"
[ -e dump ] && _fail "EXPORT DATABASE through tarn query wrote a folder"
[ -e x.db ] && _fail "ATTACH through tarn query created a file"
# what it may read still works, and so do its own writes
expect_json 'j["rows"] == [[2]]' tarn -O json query "SELECT count(*) FROM t"
expect_json 'j["rows"] == [[1, "a"]]' tarn -O json query "SELECT * FROM t WHERE id = 1"
expect_json 'j["rows"] == [[1]]' tarn -O json query "SELECT count(*) FROM secret" --ref other
expect_ok tarn query "SELECT * FROM t ORDER BY id" --output out.csv
expect_eq "$(printf 'id,name\n1,a\n2,b')" "$(cat out.csv)" "--output written by tarn"
expect_ok tarn query "SELECT * FROM t" --output out.parquet
expect_ok tarn table import back --from out.parquet
expect_eq 2 "$(count 'SELECT count(*) FROM back')" "--output parquet read back by import"

# SQL models: the same walls, and a failed model leaves main untouched
mkdir -p proj
cat >proj/leak.sql <<'SQL'
-- tarn: materialize=true
SELECT content FROM read_text('/etc/hostname')
SQL
expect_fail 1 "tarn table import" tarn run -p proj
rm proj/leak.sql
printf -- "-- tarn: materialize=true\nSELECT * FROM read_parquet('%s')\n" "$SECRET" >proj/leak2.sql
expect_fail 1 "tarn table import" tarn run -p proj
rm proj/leak2.sql
printf -- "-- tarn: materialize=true\nSELECT * FROM glob('/etc/*')\n" >proj/leak3.sql
expect_fail 1 "tarn table import" tarn run -p proj
rm proj/leak3.sql
expect_fail 1 "table 'leak' not found" tarn query "SELECT * FROM leak"
expect_fail 1 "not found" tarn query "SELECT * FROM leak2"
# filters: one expression on the scan's own columns, nothing else
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def picked(data=tarn.Model("t", filter="id IN (SELECT 1 FROM read_text('/etc/hostname'))")):
    return data
PY
expect_fail 1 "subquery" tarn run -p proj --dry-run
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def picked(data=tarn.Model("t", filter="id >= 2")):
    return data
PY
# a Python model's table, then a SQL model over it (an Arrow view), then
# materialized by tarn: all still work in the confined session
printf -- "-- tarn: materialize=true\nSELECT p.id, t.name FROM picked p JOIN t USING (id)\n" >proj/joined.sql
expect_ok tarn run -p proj
expect_json 'j["rows"] == [[2, "b"]]' tarn -O json query "SELECT * FROM joined"
expect_json 'j["rows"] == [[2, "b"]]' tarn -O json query "SELECT * FROM picked"
expect_eq 2 "$(count 'SELECT count(*) FROM t')" "t after the runs"
