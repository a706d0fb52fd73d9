# Environments: each model runs with the packages it pins, unpacked once
# into the lakehouse's cache from a wheelhouse; two models pinning different
# versions of one package each see their own; a model sees only what it
# declared; an unsatisfiable pin is a plan-time error; tarn env ls|gc.
local_only "a wheelhouse (TARN_FIND_LINKS) is the configuration of the host where models run: the server's"
mkdir -p wheels proj
$PY - <<'PY'
import sys
sys.path.insert(0, __import__("os").environ["TARN_PYTHONPATH"])
from tarn.envs import build_wheel
for v in ("1.0", "2.0"):
    build_wheel("wheels", "tarnpkg", v, {"tarnpkg/__init__.py": "VERSION = %r\n" % v})
build_wheel("wheels", "helper", "1.0", {"helper/__init__.py": "from tarnpkg import VERSION\n"},
            requires=["tarnpkg>=2"])
PY
export TARN_FIND_LINKS="$PWD/wheels"
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"tarnpkg": "1.0"})
def old(data=tarn.Model("t")):
    import tarnpkg
    return {"version": [tarnpkg.VERSION]}

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"tarnpkg": "2.0"})
def new(data=tarn.Model("t")):
    import tarnpkg
    return {"version": [tarnpkg.VERSION]}

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"helper": "1.0"})
def transitive(data=tarn.Model("t")):
    import helper
    return {"version": [helper.VERSION]}

@tarn.model(materialize=True)
@tarn.python("3.11")
def undeclared(data=tarn.Model("t")):
    try:
        import tarnpkg  # not declared: not visible
        return {"version": [tarnpkg.VERSION]}
    except ImportError:
        return {"version": ["absent"]}
PY
expect_out "newly unpacked into the cache" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq "1.0" "$(count 'SELECT version FROM old')" "old sees tarnpkg 1.0"
expect_eq "2.0" "$(count 'SELECT version FROM new')" "new sees tarnpkg 2.0"
expect_eq "2.0" "$(count 'SELECT version FROM transitive')" "helper's dependency resolved to tarnpkg 2.0"
expect_eq "absent" "$(count 'SELECT version FROM undeclared')" "a model without pins does not see them"
expect_json 'j[0]["properties"]["environments"]["old"]["packages"] == {"tarnpkg": "1.0"}' tarn -O json commit -n 1
# the second plan finds everything cached
expect_out "(cached)" tarn run -p proj --dry-run
expect_no_out "newly unpacked" tarn run -p proj --dry-run
expect_json 'len(j["packages"]) == 3 and len(j["environments"]) >= 3' tarn -O json env ls
# failures at plan time, naming the model and the package; nothing runs
HEAD=$(head_of main)
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"nosuchpkg": "1.0"})
def missing(data=tarn.Model("t")):
    return data
PY
expect_fail 1 "model 'missing'" tarn run -p proj
expect_fail 1 "nosuchpkg" tarn run -p proj
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"tarnpkg": "3.0"})
def wrong_version(data=tarn.Model("t")):
    return data
PY
expect_fail 1 "tarnpkg" tarn run -p proj
cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"helper": "1.0", "tarnpkg": "1.0"})
def conflict(data=tarn.Model("t")):
    return data
PY
expect_fail 1 "model 'conflict'" tarn run -p proj
expect_eq "$HEAD" "$(head_of main)" "main after refused runs"
# gc keeps what runs use recently, removes the rest
expect_json 'j["packages"] == []' tarn -O json env gc --dry-run
$PY - <<'PY'
import glob, json, os
for f in glob.glob(".tarn/envs/envs/*.json"):
    d = json.load(open(f)); d["last_used"] = 0; json.dump(d, open(f, "w"))
for d in glob.glob(".tarn/envs/pkgs/*"):
    for p in (d, os.path.join(d, ".tarn-used")):
        if os.path.exists(p):
            os.utime(p, (0, 0))
PY
expect_json 'len(j["packages"]) == 3' tarn -O json env gc --keep-days 1
expect_json 'j["packages"] == []' tarn -O json env ls
