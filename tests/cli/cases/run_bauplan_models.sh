# Bauplan's decorators and semantics: @model without parentheses, outputs
# in a namespace (name="ns.t" and --namespace), columns= checked,
# tarn.standard_expectations, downstream models of a failed one listed as
# skipped, and an APPEND whose schema differs failing at its task.
csv t.csv id,country,usd 1,IT,10 2,FR,20 3,IT,30 4,DE,
expect_ok tarn table import t --from t.csv
mkdir -p proj
cat >proj/models.py <<'PY'
import tarn
from tarn.standard_expectations import (expect_column_no_nulls, expect_column_all_unique,
                                        expect_column_accepted_values,
                                        expect_column_mean_greater_than)

@tarn.model
def clean(data=tarn.Model("t")):
    return data

@tarn.model(name="sales.by_country", columns=["country", "usd"],
            materialization_strategy="REPLACE")
def by_country(data=tarn.Model("clean")):
    return data.group_by("country").aggregate([("usd", "sum")]).rename_columns(["usd", "country"])

@tarn.model(materialization_strategy="REPLACE")
def top(data=tarn.Model("sales.by_country", filter="usd > 15")):
    return data.sort_by([("usd", "descending")])

@tarn.expectation
def ids_unique(data=tarn.Model("clean", columns=["id"])):
    return expect_column_no_nulls(data, "id") and expect_column_all_unique(data, "id")

@tarn.expectation()
def known_countries(data=tarn.Model("clean")):
    return expect_column_accepted_values(data, "country", ["IT", "FR"])

@tarn.expectation()
def usd_present(data=tarn.Model("clean")):
    return expect_column_no_nulls(data, "usd") or expect_column_mean_greater_than(data, "usd", 100)
PY
printf -- '-- tarn: materialization_strategy=REPLACE\nSELECT country FROM sales.by_country WHERE usd > 35\n' >proj/big.sql
# a Python model named ns.t plans and runs (it used to fail with "bad view name")
expect_out '* sales.by_country [python, materialize REPLACE]' tarn run -p proj --dry-run
expect_json '{t["name"]: t["outcome"] for t in j["tasks"]} == {"clean": "success", "sales.by_country": "success", "top": "success", "big": "success", "ids_unique": "success", "known_countries": "expectation_failed", "usd_present": "expectation_failed"} and j["outcome"] == "success" and j["expectations"] == [{"name": "ids_unique", "passed": True}, {"name": "known_countries", "passed": False}, {"name": "usd_present", "passed": False}]' \
    tarn -O json run -p proj
expect_json 'sorted(j["rows"]) == [["DE", None], ["FR", 20.0], ["IT", 40.0]]' tarn -O json query 'SELECT country, usd FROM sales.by_country'
expect_json 'j["rows"] == [["IT", 40.0], ["FR", 20.0]]' tarn -O json query 'SELECT country, usd FROM top'
expect_json 'j["rows"] == [["IT"]]' tarn -O json query 'SELECT * FROM big'
# --namespace: outputs of models without a namespace of their own go there;
# columns=["*"] is Bauplan's "any columns"
expect_fail 1 "namespace 'bad-ns'" tarn run -p proj --namespace bad-ns
sed -i 's/columns=\["country", "usd"\]/columns=["*"]/' proj/models.py
expect_ok tarn run -p proj --namespace dev
expect_json 'j["rows"] == [["IT", 40.0], ["FR", 20.0]]' tarn -O json query 'SELECT country, usd FROM dev.top'
expect_json 'j["rows"] == [["IT"]]' tarn -O json query 'SELECT * FROM dev.big'
expect_json 'sorted(j["rows"]) == [["DE"], ["FR"], ["IT"]]' tarn -O json query 'SELECT country FROM sales.by_country'

# columns= is checked: missing and undeclared columns are named
sed -i 's/columns=\["\*"\]/columns=["country", "n"]/' proj/models.py
H=$(head_of main)
expect_fail 1 "not the columns its @model(columns=...) declares (country, n): missing 'n'; not declared 'usd'" tarn run -p proj
expect_eq "$H" "$(head_of main)" "main after a model returned other columns"

# a failed model: its descendants are listed as skipped, not left out
cat >proj/models.py <<'PY'
import tarn

@tarn.model()
def clean(data=tarn.Model("t")):
    raise ValueError("bad data")

@tarn.model()
def later(data=tarn.Model("clean")):
    return data

@tarn.model(materialization_strategy="REPLACE")
def last(data=tarn.Model("later")):
    return data
PY
rm proj/big.sql
expect_json_rc 1 '[(t["name"], t["outcome"]) for t in j["tasks"]] == [("clean", "failed"), ("later", "skipped"), ("last", "skipped")] and j["tasks"][1]["reason"] == "its parent '"'"'clean'"'"' failed" and "ValueError: bad data" in j["error"]' \
    tarn -O json run -p proj
case "$ERR" in
    *"- later                    skipped   (its parent 'clean' failed)"*"- last                     skipped   (its parent 'later' did not run)"*) ;;
    *) _fail "skipped tasks are not listed: $ERR" ;;
esac
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
expect_out 'skipped' tarn job get "$JOB"

# an APPEND whose output has another schema fails at its task, naming the columns
csv src.csv id,usd 5,50
expect_ok tarn table import src --from src.csv
cat >proj/models.py <<'PY'
import tarn

@tarn.model(name="t", materialization_strategy="APPEND")
def more(data=tarn.Model("src")):
    return data

@tarn.model(materialization_strategy="REPLACE")
def after(data=tarn.Model("t")):
    return data
PY
H=$(head_of main)
expect_fail 1 "model 't' appends to 'default.t', but its output does not have the table's schema: column 'country' (VARCHAR) is missing from the new data" tarn run -p proj
case "$OUT" in
    *"x t "*"failed"*"- after"*"skipped"*) ;;
    *) _fail "the append did not fail at its task: $OUT" ;;
esac
expect_eq "$H" "$(head_of main)" "main after a refused append"
expect_json 'j["rows"] == [[4]]' tarn -O json query 'SELECT count(*) FROM t'
