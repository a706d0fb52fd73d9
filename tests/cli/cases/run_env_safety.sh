# Environments cannot break or flood the worker: a wheel that would unpack
# past env.max_unpacked_mb (or env.max_files) is refused at plan time,
# naming it; an environment's packages come after the standard library on
# sys.path, so a wheel with a top-level `json` cannot shadow the real one.
local_only "a wheelhouse (TARN_FIND_LINKS) is the configuration of the host where models run: the server's"
mkdir -p wheels proj
$PY - <<'PY'
import sys
sys.path.insert(0, __import__("os").environ["TARN_PYTHONPATH"])
from tarn.envs import build_wheel
build_wheel("wheels", "bomb", "1.0", {"bomb/__init__.py": "", "bomb/zeros.bin": b"\0" * (40 << 20)})
build_wheel("wheels", "shadow", "1.0", {
    "json/__init__.py": "raise ImportError('the shadow json was imported')\n",
    "shadowpkg/__init__.py": "OK = 'shadowpkg imported'\n"})
PY
export TARN_FIND_LINKS="$PWD/wheels"
csv t.csv id 1
expect_ok tarn table import t --from t.csv
HEAD=$(head_of main)
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11", pip={"bomb": "1.0"})
def exploded(data=tarn.Model("t")):
    return data
PY
echo 'env.max_unpacked_mb = 8' >>.tarn/config
expect_fail 1 "model 'exploded': wheel $PWD/wheels/bomb-1.0-py3-none-any.whl would unpack to 40.0 MiB, more than the 8 MiB allowed (env.max_unpacked_mb in .tarn/config)" \
    tarn run -p proj
[ -z "$(ls .tarn/envs/pkgs 2>/dev/null)" ] || _fail "something was unpacked: $(ls .tarn/envs/pkgs)"
sed -i 's/^env.max_unpacked_mb = 8/env.max_unpacked_mb = lots/' .tarn/config
expect_fail 1 "env.max_unpacked_mb in .tarn/config must be a whole number" tarn run -p proj
sed -i '/^env.max_unpacked_mb/d' .tarn/config
echo 'env.max_files = 1' >>.tarn/config
expect_fail 1 "env.max_files" tarn run -p proj
sed -i '/^env.max_files/d' .tarn/config
expect_eq "$HEAD" "$(head_of main)" "main after refused runs"

cat >proj/m.py <<'PY'
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"shadow": "1.0"})
def uses_json(data=tarn.Model("t")):
    import json, shadowpkg
    return {"json": [json.dumps({"a": 1})], "pkg": [shadowpkg.OK]}
PY
expect_ok tarn run -p proj
expect_eq '{"a": 1}' "$(count 'SELECT json FROM uses_json')" "the standard json module"
expect_eq "shadowpkg imported" "$(count 'SELECT pkg FROM uses_json')" "the environment's own package"
