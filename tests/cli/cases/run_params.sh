# $parameters are bound as values, never spliced into SQL text: comments
# and strings are what DuckDB's parser says they are, a value cannot
# escape its quotes, and a model filter is one expression that nothing,
# not even --dry-run, runs beyond binding.
csv t.csv id,name 1,a 2,b 3,"it's"
expect_ok tarn table import t --from t.csv
mkdir -p proj
cat >proj/tarn_project.toml <<'TOML'
[parameters]
who = { type = "str", default = "a" }
min_id = { type = "int", default = 0 }
TOML
# an apostrophe in a comment does not turn binding off, and $name in a
# comment is not a use
cat >proj/m.sql <<'SQL'
-- tarn: materialize=true
-- it's the team's query; $undeclared is only mentioned here
SELECT id, name FROM t WHERE name = $who
SQL
expect_ok tarn run -p proj
expect_json 'j["rows"] == [[1, "a"]]' tarn -O json query 'SELECT * FROM m'
expect_ok tarn run -p proj --param who=b
expect_json 'j["rows"] == [[2, "b"]]' tarn -O json query 'SELECT * FROM m'
# a value with quotes is one value
expect_ok tarn run -p proj --param "who=it's"
expect_json 'j["rows"] == [[3, "it'"'"'s"]]' tarn -O json query 'SELECT * FROM m'
# '$who' inside a string is text, not a parameter: a value built to break
# out of the quotes and read a host file reads nothing
cat >proj/m.sql <<'SQL'
-- tarn: materialize=true
-- the team's favourite rows
SELECT id, name FROM t WHERE name = '$who'
SQL
HOSTFILE=$($PY -c "print('||'.join('chr(%d)' % ord(c) for c in '/etc/hostname'))")
expect_ok tarn run -p proj --param "who= UNION ALL SELECT 9, content FROM read_text($HOSTFILE) --"
expect_json 'j["rows"] == [[0]]' tarn -O json query 'SELECT count(*) FROM m'
# an undeclared parameter used in the SQL itself is refused before running
printf 'SELECT * FROM t WHERE id > $nope\n' >proj/q.sql
expect_fail 1 '$nope is not a parameter' tarn run -p proj --dry-run
# positional parameters are not parameters tarn knows
printf 'SELECT * FROM t WHERE id > ?\n' >proj/q.sql
expect_fail 1 'named ($name)' tarn run -p proj --dry-run
rm proj/m.sql proj/q.sql

# filters: parameters bound, including one that would break out of quotes
cat >proj/f.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def f(data=tarn.Model("t", filter="id >= $min_id AND name <> $who")):
    return data
PY
expect_out 'where id >= $min_id AND name <> $who' tarn run -p proj --dry-run
expect_ok tarn run -p proj --param min_id=2 --param "who=b') OR (1=1"
expect_json 'sorted(j["rows"]) == [[2, "b"], [3, "it'"'"'s"]]' tarn -O json query 'SELECT * FROM f'
expect_ok tarn run -p proj --param min_id=2 --param "who=it's"
expect_json 'j["rows"] == [[2, "b"]]' tarn -O json query 'SELECT * FROM f'
# a filter is one expression: a second statement is refused at plan time,
# and nothing of it runs (the COPY would have written a file)
H=$(head_of main)
for filter in "id > 0; COPY (SELECT 42) TO '$PWD/pwned.csv'" \
              "id > 0; COPY (SELECT 42) TO '$PWD/pwned.csv'; SELECT 1 WHERE TRUE" \
              "id > 0 UNION ALL SELECT 42" "id > 0 GROUP BY id" "id > 0 LIMIT 1" \
              "id > 0 ORDER BY id" "id IN (SELECT 42)" "id > 0) OR (1 = 1"; do
    cat >proj/f.py <<PY
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def f(data=tarn.Model("t", filter="""$filter""")):
    return data
PY
    expect_fail 1 "the filter on 't' is not valid" tarn run -p proj --dry-run
    expect_fail 1 "the filter on 't' is not valid" tarn run -p proj
done
[ -e pwned.csv ] && _fail "a filter wrote a file"
expect_eq "$H" "$(head_of main)" "main after refused filters"
# a filter on a model's output is checked the same way
cat >proj/f.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def g(data=tarn.Model("t")):
    return data

@tarn.model(materialize=True)
@tarn.python("3.11")
def f(data=tarn.Model("g", filter="id > $min_id")):
    return data
PY
expect_ok tarn run -p proj --param min_id=2
expect_json 'j["rows"] == [[3]]' tarn -O json query 'SELECT id FROM f'
sed -i 's/id > \$min_id/id > 0; DROP TABLE t/' proj/f.py
expect_fail 1 "not one SQL expression" tarn run -p proj --dry-run
