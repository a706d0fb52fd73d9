# examples/bauplan_project — a Bauplan project as Bauplan users write it
# (bauplan_project.yml with a secret, `import bauplan`, pyarrow-style model
# code, standard expectations, `-- bauplan:` SQL, outputs in a namespace)
# — runs unchanged, and its results are what SQL computes directly.
EX="$HERE/../../examples/bauplan_project"
DATA="$HERE/../../examples/quickstart/data"
expect_ok tarn table import transactions --from "$DATA/transactions.csv"
expect_ok tarn table import countries --from "$DATA/countries.csv"
H=$(head_of main)
# the secret is required: nothing runs without it
expect_fail 1 "parameter 'api_token' is required" tarn run -p "$EX" --strict
expect_eq "$H" "$(head_of main)" "main after a refused run"
expect_json 'j["outcome"] == "success" and all(e["passed"] for e in j["expectations"]) and len(j["expectations"]) == 3' \
    tarn -O json run -p "$EX" --strict --param api_token=Tk-41-secret
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
case "$ERR" in *"clean_transactions @ models.py:"*"transactions to enrich (token of 12 characters)"*) ;;
    *) _fail "the model's print is not in the run's output: $ERR" ;; esac
# the outputs equal the same computation in SQL
WANT=$(count "SELECT list([country, name, round(usd, 2)::VARCHAR, n::VARCHAR] ORDER BY usd DESC) FROM (SELECT t.country, c.name, sum(t.usd) AS usd, count(*) AS n FROM transactions t JOIN countries c USING (country) WHERE t.usd >= 100 AND c.region = 'EU' GROUP BY ALL)" --all-rows)
GOT=$(count "SELECT list([country, name, round(usd, 2)::VARCHAR, transactions::VARCHAR] ORDER BY usd DESC) FROM reports.usd_by_country" --all-rows)
expect_eq "$WANT" "$GOT" "reports.usd_by_country"
[ "$GOT" = "ERROR" ] && _fail "reports.usd_by_country cannot be read"
expect_eq 5 "$(count 'SELECT count(*) FROM reports.usd_by_country')" "countries of the EU with transactions"
expect_json 'j["rows"] == [["EU", 1604578.05, 634]]' tarn -O json query 'SELECT * FROM reports.region_totals'
expect_json '[t["name"] for t in j] == ["default.countries", "default.transactions", "reports.region_totals", "reports.usd_by_country"]' \
    tarn -O json table ls
# the run's commit carries the job under Bauplan's name too; the secret is nowhere
expect_json "j[0]['properties']['bpln_job_id'] == '$JOB'" tarn -O json commit -n 1
expect_no_out "Tk-41-secret" tarn job logs "$JOB"
grep -rl "Tk-41-secret" .tarn && _fail "the secret was written under .tarn"
# parameters change the result as declared
expect_ok tarn run -p "$EX" --param api_token=t --param region=APAC --param min_usd=4000
expect_json 'j["rows"] == [["JP", "Japan"]]' tarn -O json query 'SELECT country, name FROM reports.usd_by_country'
