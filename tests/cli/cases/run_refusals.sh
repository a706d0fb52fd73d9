# tarn run refuses, before anything runs and with file:line, cycles,
# unknown tables (did you mean), duplicate names, a model named like a
# table, unknown columns and parameters, bad SQL, and unavailable packages.
csv t.csv id,usd,country 1,10,IT 2,20,FR
expect_ok tarn table import transactions --from t.csv
HEAD=$(head_of main)
p() { rm -rf proj; mkdir -p proj; }
p
cat >proj/a.sql <<'SQL'
SELECT * FROM b
SQL
cat >proj/b.sql <<'SQL'
SELECT * FROM a
SQL
expect_fail 1 "cycle" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def m(data=tarn.Model("transaction")):
    return data
PY
expect_fail 1 "did you mean 'transactions'" tarn run -p proj
expect_fail 1 "m.py:3" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def dup(data=tarn.Model("transactions")):
    return data
PY
printf 'SELECT * FROM transactions\n' >proj/dup.sql
expect_fail 1 "defined twice" tarn run -p proj
p
printf 'SELECT * FROM transactions\n' >proj/transactions.sql
expect_fail 1 "name of an existing table" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def m(data=tarn.Model("transactions", columns=["id", "euros"])):
    return data
PY
expect_fail 1 "no column 'euros'" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11", pip={"pandas": "0.1.0"})
def m(data=tarn.Model("transactions")):
    return data
PY
expect_fail 1 "m.py:3: model 'm': " tarn run -p proj
expect_fail 1 "pandas" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("2.7")
def m(data=tarn.Model("transactions")):
    return data
PY
expect_fail 1 "asks for Python 2.7, but no interpreter provides it" tarn run -p proj
p
printf 'SELEC * FROM transactions\n' >proj/broken.sql
expect_fail 1 "broken.sql:1" tarn run -p proj
p
printf 'SELECT * FROM transactions WHERE usd > $floor\n' >proj/q.sql
expect_fail 1 "\$floor is not a parameter" tarn run -p proj
p
cat >proj/m.py <<'PY'
import tarn
raise RuntimeError("import-time failure")
PY
expect_fail 1 "m.py:2: RuntimeError: import-time failure" tarn run -p proj
p
expect_fail 1 "no models" tarn run -p proj
expect_fail 1 "not found" tarn run -p does-not-exist
expect_eq "$HEAD" "$(head_of main)" "main after refused runs"
expect_json 'j == []' tarn -O json job ls
