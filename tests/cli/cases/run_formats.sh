# How a model sees its inputs and what it may return. The real pyarrow and
# polars cannot be installed here: a stand-in package named pyarrow (pure
# Python, built into a wheel below) implements pyarrow.table(obj) by
# consuming obj.__arrow_c_stream__() as pyarrow does, and hands its table
# back through __arrow_c_stream__. A model whose environment has it gets its
# input as pyarrow.table(...); format="tarn" keeps tarn.Table; without
# pyarrow the default is tarn.Table; format="polars" without polars is a
# clear error. Outputs: a list of dicts, a pandas DataFrame with a named
# index (kept as a column), a float16 column (widened to FLOAT).
local_only "a wheelhouse (TARN_FIND_LINKS) is the configuration of the host where models run: the server's"
mkdir -p wheels proj
$PY - <<'PY'
import sys
sys.path.insert(0, __import__("os").environ["TARN_PYTHONPATH"])
from tarn.envs import build_wheel
STANDIN = '''"""A stand-in for pyarrow in tests: consumes the Arrow PyCapsule stream."""
# pandas imports pyarrow's compute module from version 1.0.1 on: the
# stand-in says it is older, so pandas leaves it alone
__version__ = "0.1"
from tarn import _native
from tarn.table import Table as _T


class Table:
    def __init__(self, inner):
        self._inner = inner

    @property
    def num_rows(self):
        return self._inner.num_rows

    @property
    def column_names(self):
        return self._inner.column_names

    def to_pydict(self):
        return self._inner.to_pydict()

    def __arrow_c_stream__(self, requested_schema=None):
        return self._inner.__arrow_c_stream__(requested_schema)


def table(obj):
    capsule = obj.__arrow_c_stream__()  # exactly what pyarrow.table(obj) calls
    return Table(_T._wrap(_native.import_stream(capsule)))
'''
build_wheel("wheels", "pyarrow", "0.1", {"pyarrow/__init__.py": STANDIN})
PY
export TARN_FIND_LINKS="$PWD/wheels"
csv t.csv id,v 1,a 2,b 3,c
expect_ok tarn table import t --from t.csv
cat >proj/m.py <<'PY'
import numpy as np
import pandas as pd
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"pyarrow": "0.1"})
def arrow_in(data=tarn.Model("t", columns=["id"])):
    import pyarrow
    assert type(data) is pyarrow.Table, type(data)
    assert data.column_names == ["id"] and data.num_rows == 3
    return data  # handed back through __arrow_c_stream__

@tarn.model(materialize=True)
@tarn.python("3.11", pip={"pyarrow": "0.1"})
def tarn_in(data=tarn.Model("t", format="tarn")):
    assert isinstance(data, tarn.Table), type(data)
    return [{"kind": type(data).__name__, "rows": data.num_rows}]

@tarn.model(materialize=True)
@tarn.python("3.11")
def default_in(data=tarn.Model("t")):
    assert isinstance(data, tarn.Table), type(data)
    df = data.to_pandas().set_index("v")
    df["half"] = np.array([0.5, 1.5, 2.5], dtype=np.float16)
    return df
PY
expect_ok tarn run -p proj
expect_eq "6" "$(count 'SELECT sum(id) FROM arrow_in')" "the pyarrow table went back"
expect_eq "Table 3" "$(count "SELECT kind || ' ' || rows FROM tarn_in")" "format=tarn kept tarn.Table"
expect_eq "a b c" "$(count "SELECT string_agg(v, ' ' ORDER BY v) FROM default_in")" "the named index is a column"
expect_eq "FLOAT 4.5" "$(count "SELECT any_value(typeof(half)) || ' ' || sum(half) FROM default_in")" "float16 widened"
cat >proj/bad.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def wants_polars(data=tarn.Model("t", format="polars")):
    return data
PY
expect_fail 1 "polars is not installed in the model's environment" tarn run -p proj
cat >proj/bad.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def wrong(data=tarn.Model("t", format="arrow")):
    return data
PY
expect_fail 1 "format must be 'pyarrow', 'polars' or 'tarn'" tarn run -p proj
