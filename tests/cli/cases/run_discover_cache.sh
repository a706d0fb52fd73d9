# What a project's Python files declare is discovered by running their top
# level, and kept: a run with the same project files (and interpreter,
# settings) takes the kept findings. A top level that reads a file outside
# the project shows which: the kept findings still name what it read first.
csv t.csv id,v 1,2 2,3
expect_ok tarn table import t --from t.csv
outside="$PWD/outside_name"
echo alpha >"$outside"
mkdir -p proj
cat >proj/m.py <<PY
import tarn
NAME = open("$outside").read().strip()

@tarn.model(name=NAME)
@tarn.python("3.11")
def out(data=tarn.Model("t")):
    return data.to_pandas()
PY
expect_out "* alpha [python]" tarn run -p proj
echo beta >"$outside"
# the same project: kept (the model is still alpha)
expect_out "* alpha [python]" tarn run -p proj
expect_json 'j["outcome"] == "success" and [t["name"] for t in j["tasks"]] == ["alpha"]' tarn -O json run -p proj
# any change to a file of the project discovers again, also in a subfolder
# or a file that is not Python
echo "# a comment" >>proj/m.py
expect_out "* beta [python]" tarn run -p proj
echo gamma >"$outside"
mkdir -p proj/lib && echo "X = 1" >proj/lib/helpers.py
expect_out "* gamma [python]" tarn run -p proj
echo delta >"$outside"
echo "notes" >proj/README.txt
expect_out "* delta [python]" tarn run -p proj
# the same files in another folder are the same project; the plan names
# the files where they are now
echo epsilon >"$outside"
cp -r proj moved
expect_out "* delta [python] $PWD/moved/m.py:4" tarn run -p moved
# turned off, every run discovers
echo "run.discover_cache = off" >>.tarn/config
expect_out "* epsilon [python]" tarn run -p proj
echo zeta >"$outside"
expect_out "* zeta [python]" tarn run -p proj
sed -i 's/^run.discover_cache = off$/run.discover_cache = sometimes/' .tarn/config
expect_fail 1 "run.discover_cache in .tarn/config must be 'on' or 'off'" tarn run -p proj
sed -i '/^run.discover_cache/d' .tarn/config
# on again: these files were kept before it was turned off
expect_out "* delta [python]" tarn run -p proj
# a kept entry that is damaged is discovered again, never trusted half
for f in $(find "$XDG_CACHE_HOME/tarn/discover/v1" -name '*.json'); do printf '{"models": [{"name": ' >"$f"; done
expect_out "* zeta [python]" tarn run -p proj
