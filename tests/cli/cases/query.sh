# query: joins, refs of every kind, --max-rows / --all-rows / truncated,
# --output FILE.parquet / FILE.csv read back, JSON and CSV formats.
csv people.csv id,name,city 1,ann,rome 2,bob,paris 3,cy,rome
csv cities.csv city,country rome,IT paris,FR
expect_ok tarn table import people --from people.csv
expect_ok tarn table import geo.cities --from cities.csv
# a join across tables (and namespaces)
expect_json 'j["rows"] == [["IT", 2], ["FR", 1]]' \
    tarn -O json query 'SELECT c.country, count(*) AS n FROM people p JOIN geo.cities c ON p.city = c.city GROUP BY 1 ORDER BY n DESC'
expect_json '[c["name"] for c in j["columns"]] == ["name", "country"] and j["truncated"] is False and j["rows"][0] == ["ann", "IT"]' \
    tarn -O json query 'SELECT p.name, c.country FROM people p, geo.cities c WHERE p.city = c.city ORDER BY p.id'
expect_json 'j["columns"][0]["type"] == "BIGINT" and j["rows"] == [[3]] and isinstance(j["rows"][0][0], int)' \
    tarn -O json query 'SELECT count(*) AS n FROM people'
expect_out "ann" tarn query 'SELECT * FROM people'
# -f FILE.sql
echo 'SELECT count(*) FROM people WHERE city = '"'"'rome'"'" >q.sql
expect_json 'j["rows"] == [[2]]' tarn -O json query -f q.sql
# refs: branch, tag, hash, hash prefix, REF~N, REF@{TIME}
H1=$(head_of main)
expect_ok tarn tag create v1
sleep 1.1
T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
expect_ok tarn table import people --from people.csv --mode append
expect_ok tarn branch create dev
expect_ok tarn table import people --from people.csv --mode append --branch dev
expect_eq 6 "$(count 'SELECT count(*) FROM people')" "main"
expect_eq 9 "$(count 'SELECT count(*) FROM people' --ref dev)" "--ref dev"
expect_eq 3 "$(count 'SELECT count(*) FROM people' --ref v1)" "--ref v1 (tag)"
expect_eq 3 "$(count 'SELECT count(*) FROM people' --ref "$H1")" "--ref full hash"
expect_eq 3 "$(count 'SELECT count(*) FROM people' --ref "${H1:0:7}")" "--ref 7-char prefix"
expect_eq 3 "$(count 'SELECT count(*) FROM people' --ref main~1)" "--ref main~1"
expect_eq 6 "$(count 'SELECT count(*) FROM people' --ref dev~1)" "--ref dev~1"
expect_eq 3 "$(count 'SELECT count(*) FROM people' --ref "main@{$T1}")" "--ref main@{T1}"
expect_eq 6 "$(count 'SELECT count(*) FROM people' --ref 'main@{2999-01-01T00:00:00Z}')" "--ref main@{future}"
expect_fail 1 "" tarn query 'SELECT 1' --ref 'main@{1999-01-01T00:00:00Z}'
expect_fail 1 "" tarn query 'SELECT 1' --ref 'main@{yesterday-ish}'
expect_fail 1 "" tarn query 'SELECT 1' --ref main~99
expect_fail 1 "unknown ref" tarn query 'SELECT 1' --ref "${H1:0:6}"   # too short
expect_fail 1 "unknown ref 'nope'" tarn query 'SELECT 1' --ref nope
expect_json_rc 1 'j["error"]["code"] == "not_found"' tarn -O json query 'SELECT 1' --ref nope
# --max-rows / --all-rows / truncated
expect_json 'len(j["rows"]) == 2 and j["truncated"] is True' tarn -O json query 'SELECT * FROM range(50)' --max-rows 2
expect_json 'len(j["rows"]) == 10 and j["truncated"] is True' tarn -O json query 'SELECT * FROM range(50)'
expect_json 'len(j["rows"]) == 50 and j["truncated"] is False' tarn -O json query 'SELECT * FROM range(50)' --all-rows
expect_json 'len(j["rows"]) == 50 and j["truncated"] is False' tarn -O json query 'SELECT * FROM range(50)' --max-rows 50
expect_out "--all-rows" tarn query 'SELECT * FROM range(50)' --max-rows 3
expect_no_out " 4" tarn query 'SELECT * FROM range(50)' --max-rows 3
expect_json 'len(j["rows"]) == 0 and j["columns"][0]["name"] == "range"' tarn -O json query 'SELECT * FROM range(50)' --max-rows 0
# --output FILE.parquet / FILE.csv, read back
expect_ok tarn query 'SELECT * FROM people ORDER BY id' --ref dev --output all.parquet
[ -s all.parquet ] || _fail "all.parquet not written"
expect_ok tarn table import back --from all.parquet
expect_eq 9 "$(count 'SELECT count(*) FROM back')" "rows read back from all.parquet"
# SQL reads tables, never files: the file just written is no exception
expect_fail 1 "tarn table import" tarn query "SELECT count(*) FROM read_parquet('all.parquet')"
expect_ok tarn query 'SELECT id, name FROM people WHERE id < 3 ORDER BY id LIMIT 2' --output out.csv
expect_eq "$(printf 'id,name\n1,ann\n1,ann')" "$(cat out.csv)" "CSV written by --output"
expect_ok tarn query 'SELECT 42 AS x' --output weird.dat --format csv
expect_eq "$(printf 'x\n42')" "$(cat weird.dat)" "--output with --format csv"
# text formats
expect_out "2,bob,paris" tarn query 'SELECT * FROM people WHERE id = 2 LIMIT 1' --format csv
