# A Bauplan project folder as it is: bauplan_project.yml (project, typed
# parameters: required, defaults checked, secrets), `-- bauplan:` headers
# and `name=`, `import bauplan`; misspellings are errors with a
# did-you-mean, and a secret's value appears in no log, record or output.
csv t.csv id,country,usd 1,IT,10 2,FR,20 3,IT,30 4,DE,40
expect_ok tarn table import t --from t.csv
mkdir -p proj
cat >proj/bauplan_project.yml <<'YAML'
project:
  id: 641d33d8-a6c2-4525-90d5-d54e7f27c36f
  name: params_are_cool
parameters:
  min_usd:
    type: float
    default: 15
    description: the smallest amount kept
  country:
    default: "IT"
  api_key:
    type: secret
YAML
cat >proj/models.py <<'PY'
import bauplan

@bauplan.model(materialization_strategy="REPLACE")
@bauplan.python("3.11")
def kept(data=bauplan.Model("t", filter="usd >= $min_usd AND country = $country"),
         key=bauplan.Parameter("api_key")):
    print("the key has", len(key), "characters")
    return data
PY
cat >proj/total.sql <<'SQL'
-- bauplan: name=total
-- bauplan: materialization_strategy=REPLACE
SELECT count(*) AS n, sum(usd) AS usd FROM kept
SQL
# a parameter declared without a default is required, and says how to give it
expect_fail 1 "parameter 'api_key' is required (bauplan_project.yml declares it without a default): give it with --param api_key=VALUE" tarn run -p proj --dry-run
# the secret: shown as (secret), recorded as null, never written anywhere
expect_json 'j["plan"]["params"] == {"min_usd": 0.0, "country": "IT", "api_key": None}' \
    tarn -O json run -p proj --param api_key=Zq8secretvalue --param min_usd=0
case "$ERR" in *'$api_key = (secret)'*) ;; *) _fail "the plan does not hide the secret: $ERR" ;; esac
case "$OUT$ERR" in *Zq8secretvalue*) _fail "the secret was printed" ;; esac
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
expect_json 'j["rows"] == [[2, 40.0]]' tarn -O json query 'SELECT n, usd FROM total'
expect_json 'j["rows"] == [[1, "IT", 10.0], [3, "IT", 30.0]]' tarn -O json query 'SELECT * FROM kept ORDER BY id'
expect_json 'j["params"] == {"min_usd": 0.0, "country": "IT", "api_key": None}' tarn -O json job get "$JOB"
expect_no_out 'Zq8secretvalue' tarn job logs "$JOB"
expect_out 'kept @ models.py:7 | the key has 14 characters' tarn job logs "$JOB"
expect_no_out 'Zq8secretvalue' tarn -O json commit -n 5
grep -rl Zq8secretvalue .tarn && _fail "the secret was written under .tarn"
# a run's commit carries the job under tarn's name and Bauplan's
expect_json "j[0]['properties']['job_id'] == '$JOB' and j[0]['properties']['bpln_job_id'] == '$JOB'" \
    tarn -O json commit -n 1
# a rerun does not replay the secret from the record: it is given again
expect_fail 1 "parameter 'api_key' is required" tarn job rerun "$JOB"
expect_out "succeeded" tarn job rerun "$JOB" --param api_key=again
expect_json 'j["rows"] == [[2, 40.0]]' tarn -O json query 'SELECT n, usd FROM total'  # min_usd=0 kept
# names get a did-you-mean
expect_fail 1 "unknown parameter 'min_ud' (did you mean 'min_usd'?)" tarn run -p proj --dry-run --param api_key=k --param min_ud=3

# the project file is checked before anything runs, naming file and line:
# broken SED-EXPR MESSAGE edits a copy of the good file and expects MESSAGE
cp proj/bauplan_project.yml good.yml
broken() {
    sed "$1" good.yml >proj/bauplan_project.yml
    expect_fail 1 "$2" tarn run -p proj --dry-run
}
broken 's/    type: secret/    type: secrte/' "bauplan_project.yml:11: parameter 'api_key' has unknown type 'secrte' (did you mean 'secret'?)"
broken 's/    type: secret/    type: vault/' "unknown type 'vault'"
broken 's/    default: 15/    default: fifteen/' "bauplan_project.yml:5: the default of parameter 'min_usd' is a str, not a float"
broken 's/    description:/    descripton:/' "unknown key 'descripton' (did you mean 'description'?)"
broken 's/^parameters:/paramters:/' "bauplan_project.yml:4: unknown key 'paramters' (did you mean 'parameters'?)"
broken 's/^project:/project: [/' "bauplan_project.yml: line"
cp good.yml proj/bauplan_project.yml
# a header key misspelled is an error, not ignored
sed -i 's/materialization_strategy=REPLACE/materialisation_strategy=REPLACE/' proj/total.sql
expect_fail 1 "total.sql:2: unknown header key 'materialisation_strategy' (did you mean 'materialization_strategy'?)" tarn run -p proj --dry-run --param api_key=k
sed -i 's/materialisation_strategy=REPLACE/materialization_strategy=OVERWRITE_PARTITIONS/' proj/total.sql
expect_fail 1 "OVERWRITE_PARTITIONS is not supported" tarn run -p proj --dry-run --param api_key=k
sed -i 's/materialization_strategy=OVERWRITE_PARTITIONS/materialization_strategy=REPLACE/' proj/total.sql
# two project files are one too many
printf '[parameters]\n' >proj/tarn_project.toml
expect_fail 1 "keep one project file" tarn run -p proj --dry-run --param api_key=k
rm proj/tarn_project.toml

# tarn_project.toml gets the same checks
rm proj/bauplan_project.yml
cat >proj/tarn_project.toml <<'TOML'
[parameters]
min_usd = { type = "float", default = 15 }
country = "IT"
api_key = { type = "secret" }
TOML
expect_fail 1 "parameter 'api_key' is required (tarn_project.toml declares it" tarn run -p proj --dry-run
printf '[parameters]\nn = { type = "int", defualt = 3 }\n' >proj/tarn_project.toml
expect_fail 1 "tarn_project.toml:2: parameter 'n' has an unknown key 'defualt' (did you mean 'default'?)" tarn run -p proj --dry-run

# defaults, include_paths and an encrypted secret from a Bauplan project file
rm proj/tarn_project.toml
mkdir -p proj/views
printf -- '-- bauplan: materialization_strategy=REPLACE\nSELECT country, count(*) AS n FROM kept GROUP BY 1\n' >proj/views/by_country.sql
cat >proj/bauplan_project.yml <<'YAML'
project:
  id: 8903db27
  name: with_defaults
defaults:
  python:
    version: "3.11"
  namespace: staging
  timeout: 600
include_paths:
  - views/*.sql
parameters:
  min_usd: {type: float, default: 0}
  country: {type: str, default: IT}
  api_key:
    type: secret
    default: KEtlz3LhXmdhpGl0AhI+ru7gy
    key: awskms:///arn:aws:kms:us-east-1:381492128837:key/mrk-b5de
YAML
expect_fail 1 "is a secret whose default is encrypted with 'awskms:///arn" tarn run -p proj --dry-run
expect_out 'v by_country' tarn run -p proj --param api_key=k
# defaults.namespace: outputs land in staging, default's stay as they were
expect_json 'j["rows"] == [[2, 40.0]]' tarn -O json query 'SELECT n, usd FROM staging.total'
expect_json 'j["rows"] == [["IT", 2]]' tarn -O json query 'SELECT * FROM staging.by_country'
expect_json 'j["rows"] == [[2, 40.0]]' tarn -O json query 'SELECT n, usd FROM default.total'
printf 'include_paths:\n  - ../*.sql\n' >proj/bauplan_project.yml
expect_fail 1 "include_paths holds globs of .sql files inside the project" tarn run -p proj --dry-run
