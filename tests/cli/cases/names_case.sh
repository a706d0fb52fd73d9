# One rule for names, SQL's: table and namespace names compare without
# regard to case and keep the case written first; names DuckDB keeps for
# itself are refused; `default.t` and `"default".t` name table t; a SQL
# model file ns.out.sql is model ns.out.
csv one.csv id 1
csv seven.csv id 7
expect_ok tarn table import t --from one.csv
# T is t: creating it again is refused, appending to it appends to t
expect_fail 1 "already exists" tarn table import T --from seven.csv
expect_json_rc 1 'j["error"]["code"] == "exists"' tarn -O json table import T --from seven.csv
expect_json '[x["name"] for x in j] == ["default.t"]' tarn -O json table ls
expect_ok tarn table import T --from seven.csv --mode append
expect_json '[x["name"] for x in j] == ["default.t"] and j[0]["row_count"] == 2' tarn -O json table ls
# FROM t, T reads one table twice, whichever way it is spelt
expect_json 'sorted(j["rows"]) == [[1, 1], [1, 7], [7, 1], [7, 7]]' \
    tarn -O json query 'SELECT a.id, b.id FROM t a, T b'
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM DEFAULT.T'
expect_json 'j["name"] == "default.t"' tarn -O json table get T
# the namespace default, written as SQL allows
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM default.t'
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM "default".t'
expect_json 'j["rows"] == [[8]]' tarn -O json query 'SELECT sum(default.t.id) FROM default.t'
expect_json 'j["rows"] == [[4]]' tarn -O json query 'SELECT count(*) FROM default.t x, "DEFAULT"."T" y'
expect_json 'j["rows"] == [["default.t"]]' tarn -O json query "SELECT 'default.t' FROM default.t LIMIT 1"
# namespaces: one name whatever the case; tables under it are found either way
expect_ok tarn namespace create Geo
expect_fail 1 "already exists" tarn namespace create geo
expect_ok tarn table import geo.cities --from one.csv
expect_json 'j["rows"] == [[1]]' tarn -O json query 'SELECT count(*) FROM GEO.Cities'
expect_fail 1 "still holds tables" tarn namespace rm GEO
expect_ok tarn table rm Geo.CITIES
expect_ok tarn namespace rm GEO
# names DuckDB keeps for itself cannot be namespaces: never queryable
for ns in main temp system memory information_schema pg_catalog Main; do
    expect_fail 1 "is reserved" tarn namespace create $ns
    expect_fail 1 "is reserved" tarn table import $ns.x --from one.csv
done
expect_json 'sorted(x["name"] for x in j) == ["default.t"]' tarn -O json table ls
# models: a model named like a table in another case is still named like it
mkdir -p proj
printf 'SELECT 1 AS x\n' >proj/T.sql
expect_fail 1 "has the name of an existing table ('default.t')" tarn run -p proj --dry-run
rm proj/T.sql
printf 'SELECT 1 AS x\n' >proj/Foo.sql
printf 'SELECT 2 AS x\n' >proj/foo.sql
expect_fail 1 "is defined twice" tarn run -p proj --dry-run
rm proj/foo.sql
# a model is found whatever case its reader writes
printf 'SELECT x + 1 AS y FROM FOO\n' >proj/bar.sql
printf -- '-- tarn: materialize=true\nSELECT * FROM Bar\n' >proj/out.sql
expect_ok tarn run -p proj
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT y FROM out'
rm proj/*.sql
# a model in a namespace: file ns.out.sql, read as ns.out by other models
printf -- '-- tarn: materialize=true\nSELECT id FROM default.t\n' >proj/ns.out.sql
printf -- '-- tarn: materialize=true\nSELECT count(*) AS n FROM ns.out\n' >proj/reader.sql
printf -- '-- tarn: materialize=true\nSELECT o.id FROM NS.Out o JOIN "default".t USING (id)\n' >proj/reader2.sql
expect_ok tarn run -p proj
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT n FROM reader'
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM reader2'
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM ns.out'
# a Python model named ns.py materializes table py in namespace ns, as a
# SQL model file ns.out.sql does (Bauplan's @model(name="ns.table"))
rm proj/*.sql
cat >proj/m.py <<'PY'
import tarn

@tarn.model(name="ns.py", materialization_strategy="REPLACE")
def m(data=tarn.Model("t")):
    return data
PY
expect_out "ns.py" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_json 'j["rows"] == [[2]]' tarn -O json query 'SELECT count(*) FROM ns.py'
expect_json '"ns.py" in [x["name"] for x in j]' tarn -O json table ls
