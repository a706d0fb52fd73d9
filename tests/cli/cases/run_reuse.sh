# Model reuse: a model whose code, environment, parameters and input
# versions are those of an earlier successful run takes that run's output
# (the same table version, no data written) instead of running. Changing
# any of them runs exactly the models it reaches; --cache off and
# cache_strategy=NONE run; a failed run's outputs are never taken.
csv t.csv id,name 1,a 2,b 3,c
csv u.csv k,v 1,10 2,20
expect_ok tarn table import t --from t.csv
expect_ok tarn table import u --from u.csv
mkdir -p proj
cat >proj/tarn_project.toml <<'TOML'
[parameters]
min_id = { type = "int", default = 0 }
TOML
# a (SQL, param) -> b (Python); u -> c (SQL); u -> d (Python, not
# materialized) -> e (Python); an expectation on b
cat >proj/a.sql <<'SQL'
-- tarn: materialization_strategy=REPLACE
SELECT id, name FROM t WHERE id >= $min_id
SQL
cat >proj/c.sql <<'SQL'
-- tarn: materialization_strategy=REPLACE
SELECT k, v * 2 AS v2 FROM u
SQL
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11")
def b(data=tarn.Model("a", columns=["id", "name"])):
    df = data.to_pandas()
    df["up"] = df["name"].str.upper()
    return df

@tarn.model()
@tarn.python("3.11")
def d(data=tarn.Model("u", filter="k >= 1")):
    return data.to_pandas()

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11")
def e(data=tarn.Model("d")):
    df = data.to_pandas()
    df["w"] = df["v"] + 1
    return df

@tarn.expectation()
@tarn.python("3.11")
def b_has_rows(data=tarn.Model("b")):
    return data.num_rows > 0
PY

# reused_by ARGS...: runs the project and prints the models it reused,
# sorted, space-separated (or FAILED).
reused_by() {
    tarn -O json run -p proj "$@" >"$TARN_CASE_TMP/run.json" 2>"$TARN_CASE_TMP/run.err" || { echo FAILED; return; }
    $PY -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["reused"])))' <"$TARN_CASE_TMP/run.json"
}
# versions: each output table's version id.
versions() {
    for t in a b c e; do tarn -O json table get "$t" | $PY -c 'import json,sys; print(json.load(sys.stdin)["version"])'; done
}
snapshot() { tarn -O json query 'SELECT (SELECT list(x ORDER BY id) FROM b x), (SELECT list(y ORDER BY k) FROM e y)'; }

expect_eq "" "$(reused_by)" "the first run reuses nothing"
V1=$(versions)
S1=$(snapshot)
H1=$(head_of main)
# unchanged: every model is reused (d is not needed: e was reused), the
# same table versions, the branch does not move, the rows are the same
expect_eq "a b c d e" "$(reused_by)" "an unchanged run reuses every model"
expect_eq "$V1" "$(versions)" "reused outputs are the same table versions"
expect_eq "$H1" "$(head_of main)" "a run that reuses everything changes nothing"
expect_eq "$S1" "$(snapshot)" "reused outputs read the same"
J=$($PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])' <"$TARN_CASE_TMP/run.json")
# the run's output and the job record say so, and the expectation still ran
expect_json 'sorted(t["name"] for t in j["tasks"] if t.get("reused")) == ["a", "b", "c", "d", "e"]' cat "$TARN_CASE_TMP/run.json"
expect_json 'j["expectations"] == [{"name": "b_has_rows", "passed": True}]' cat "$TARN_CASE_TMP/run.json"
expect_json 'sorted(j["reused"]) == ["a", "b", "c", "d", "e"] and j["reuse"]["b"]["table"] == "default.b"' tarn -O json job get "$J"
expect_out "(reused)" tarn job get "$J"
expect_out "reused" tarn run -p proj
expect_out "= a " tarn run -p proj
expect_out "5 of 5 models reused" tarn run -p proj

# a SQL model's code: it and nothing else
sed -i 's/v \* 2/v * 3/' proj/c.sql
expect_eq "a b d e" "$(reused_by)" "changing c's SQL runs c only"
expect_json 'j["rows"] == [[1, 30], [2, 60]]' tarn -O json query 'SELECT * FROM c ORDER BY k'
# a parameter: the models that read it and what reads them
expect_eq "c d e" "$(reused_by --param min_id=2)" "a parameter runs a and b"
expect_json 'j["rows"] == [[2, "b", "B"], [3, "c", "C"]]' tarn -O json query 'SELECT * FROM b ORDER BY id'
expect_eq "a b c d e" "$(reused_by --param min_id=2)" "the same parameter again reuses"
# back to the default: the table holds min_id=2's version, so a runs again
expect_eq "c d e" "$(reused_by)" "the tables hold another parameter's output"
expect_json 'j["rows"] == [[3]]' tarn -O json query 'SELECT count(*) FROM b'
# an input table: a new commit on u runs what reads it, and downstream
csv u2.csv k,v 3,30
expect_ok tarn table import u --from u2.csv --mode append
expect_eq "a b" "$(reused_by)" "a new version of u runs c, d, e"
expect_json 'j["rows"] == [[1, 11], [2, 21], [3, 31]]' tarn -O json query 'SELECT k, w FROM e ORDER BY k'
# Python code: any Python file may be called by any Python model
printf '\n# a comment\n' >>proj/m.py
expect_eq "a c" "$(reused_by)" "a change to the Python files runs the Python models"

# --cache off runs everything, yet records: the next run reuses
expect_eq "" "$(reused_by --cache off)" "--cache off reuses nothing"
expect_eq "a b c d e" "$(reused_by)" "after --cache off, a run reuses again"
expect_fail 2 "--cache takes on or off" tarn run -p proj --cache maybe
# --dry-run plans only: nothing is looked up or reused
expect_no_out "reused" tarn run -p proj --dry-run

# cache_strategy NONE: the model and what reads it always run
sed -i 's/^@tarn.model()$/@tarn.model(cache_strategy="NONE")/' proj/m.py
expect_eq "a c" "$(reused_by)" "a change to the Python files runs the Python models"
expect_eq "a b c" "$(reused_by)" "cache_strategy=NONE on d runs d and e, every time"
sed -i 's/^-- tarn: materialization_strategy=REPLACE$/-- tarn: materialization_strategy=REPLACE cache_strategy=none/' proj/c.sql
expect_eq "a b" "$(reused_by)" "cache_strategy=none in a SQL header"
sed -i 's/ cache_strategy=none//' proj/c.sql
sed -i 's/cache_strategy="NONE"//' proj/m.py
expect_eq "a" "$(reused_by)" "back to the default strategy: the tables hold outputs of runs that recorded none"

# a failed run is never reused: b fails after a was computed for min_id=1
cp proj/m.py m.py.good
sed -i 's/df\["up"\] = df\["name"\].str.upper()/raise RuntimeError("broken")/' proj/m.py
expect_fail 1 "broken" tarn run -p proj --param min_id=1
expect_json 'j["status"] == "failed" and "reuse" not in j' tarn -O json job get "$(tarn -O json job ls | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
cp m.py.good proj/m.py
expect_eq "c d e" "$(reused_by --param min_id=1)" "the failed run's a is not taken"
expect_json 'j["rows"] == [[1], [2], [3]]' tarn -O json query 'SELECT id FROM b ORDER BY id'

# another writer replaced a reused table: its new version is not the
# recorded one, so the model runs again and the table is its output
expect_ok tarn table import c --from u.csv --mode replace
expect_eq "a b d e" "$(reused_by --param min_id=1)" "a table changed by someone else is recomputed"
expect_json 'j["rows"] == [[1, 30], [2, 60], [3, 90]]' tarn -O json query 'SELECT * FROM c ORDER BY k'

# no transaction: reuse works the same, writing directly on the branch
expect_eq "a b c d e" "$(reused_by --param min_id=1 --no-transaction)" "reuse without a transaction"

# a reused table replaced by another writer while the run goes on: the run
# fails at its merge instead of leaving the other writer's table as the
# model's output
if local_section "the run stops itself at a fault point: a process of the server's host"; then
    H=$(head_of main)
    TARN_FAULT=run:before-merge=stop "$TARN_BIN" run -p proj --param min_id=1 >stopped.out 2>&1 &
    RUN=$!
    for _ in $(seq 1 600); do [ "$(ps -o stat= -p "$RUN" | cut -c1)" = T ] && break; sleep 0.1; done
    expect_eq T "$(ps -o stat= -p "$RUN" | cut -c1)" "the run stands still before its merge"
    expect_ok tarn table import c --from u2.csv --mode replace
    H2=$(head_of main)
    kill -CONT "$RUN"
    wait "$RUN"
    expect_eq 1 "$?" "the run fails"
    expect_out "changed on the branch while this run reused model 'c'" cat stopped.out
    expect_eq "$H2" "$(head_of main)" "the failed run changed nothing"
    expect_json 'j["rows"] == [[3, 30]]' tarn -O json query 'SELECT * FROM c'
    expect_eq "a b d e" "$(reused_by --param min_id=1)" "c runs again"
    [ "$H" != "$H2" ] || _fail "the import made a commit"
fi

# the environment: a model's code unchanged, its packages not (a newer
# version of a dependency arrived in the wheelhouse)
if local_section "a wheelhouse (TARN_FIND_LINKS) is the configuration of the server's host"; then
    mkdir -p wheels envproj
    wheel() {
        $PY - "$@" <<'PY'
import os, sys
sys.path.insert(0, os.environ["TARN_PYTHONPATH"])
from tarn.envs import build_wheel
name, version = sys.argv[1], sys.argv[2]
if name == "helper":
    build_wheel("wheels", "helper", version, {"helper/__init__.py": "from tarnpkg import VERSION\n"},
                requires=["tarnpkg>=1"])
else:
    build_wheel("wheels", name, version, {name + "/__init__.py": "VERSION = %r\n" % version})
PY
    }
    wheel tarnpkg 1.0
    wheel helper 1.0
    export TARN_FIND_LINKS="$PWD/wheels"
    cat >envproj/p.py <<'PY'
import tarn

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11", pip={"helper": "1.0"})
def pkg(data=tarn.Model("t")):
    import helper
    return {"version": [helper.VERSION]}
PY
    cat >envproj/s.sql <<'SQL'
-- tarn: materialization_strategy=REPLACE
SELECT count(*) AS n FROM t
SQL
    expect_ok tarn run -p envproj
    expect_json 'sorted(j["reused"]) == ["pkg", "s"]' tarn -O json run -p envproj
    wheel tarnpkg 2.0
    expect_json 'j["reused"] == ["s"]' tarn -O json run -p envproj
    expect_json 'j["rows"] == [["2.0"]]' tarn -O json query 'SELECT version FROM pkg'
fi
