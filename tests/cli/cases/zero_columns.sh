# A table without columns is refused where it would be written, naming the
# table or the model, and nothing changes.
# Regression (issue 8, point 24): a model returning a table without columns
# hit a DuckDB internal error ("Table function must return at least one
# column", with a C++ stack trace).
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv
H=$(head_of main)
mkdir -p p
cat >p/models.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def empty(data=tarn.Model("t")):
    return tarn.Table.from_pydict({})
PY
expect_fail 1 "model 'empty'" tarn run -p p
expect_fail 1 "'empty' has no columns: a table needs at least one column" tarn run -p p
case "$OUT$ERR" in *INTERNAL*|*"Stack Trace"*) _fail "DuckDB's internal error reached the user"; _show tarn run -p p ;; esac
expect_json_rc 1 'j["outcome"] == "failed" and "has no columns" in j["tasks"][0]["error"]' tarn -O json run -p p
expect_eq "$H" "$(head_of main)" "head after the refused output"
expect_fail 1 "not found" tarn table get empty
