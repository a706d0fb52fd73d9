"""tarn.Table's pyarrow surface: names and semantics of pyarrow.Table for
what models use; relational operations run by a confined DuckDB; pandas
indexes kept as pyarrow keeps them; model outputs (float16 widened)."""
import datetime as dt
import uuid

import numpy as np
import pandas as pd
import pytest

import tarn
from tarn.table import Table, model_input, model_output


@pytest.fixture
def t():
    return Table({"k": ["a", "b", "a", None, "b"], "v": [5, 2, 3, 4, 1],
                  "f": [0.5, 1.5, None, 3.5, 4.5]})


def test_description(t):
    assert t.shape == (5, 3) and t.num_rows == 5 and t.num_columns == 3
    assert t.schema.names == t.column_names == ["k", "v", "f"]
    assert t.schema.types == ["string", "int64", "float64"]
    assert t.schema.field("v").type == "int64" and t.nbytes > 0
    col = t["f"]
    assert col.to_pylist() == [0.5, 1.5, None, 3.5, 4.5] and col.null_count == 1
    assert len(col) == 5 and col[1] == 1.5 and t.column(1).to_pylist() == [5, 2, 3, 4, 1]
    assert np.isnan(col.to_numpy()[2])


def test_column_operations(t):
    assert t.drop_columns(["f"]).column_names == ["k", "v"]
    assert t.rename_columns(["a", "b", "c"]).column_names == ["a", "b", "c"]
    assert t.append_column("w", np.arange(5)).to_pydict()["w"] == [0, 1, 2, 3, 4]
    assert t.add_column(0, "w", [1] * 5).column_names == ["w", "k", "v", "f"]
    assert t.set_column(1, "v2", ["x"] * 5).to_pydict()["v2"] == ["x"] * 5
    with pytest.raises(tarn.InvalidError):
        t.append_column("w", [1, 2])
    two = Table._wrap(tarn._native.decode_ipc(t.to_ipc() + b""))
    assert t.slice(1, 2).to_pydict() == {"k": ["b", "a"], "v": [2, 3], "f": [1.5, None]}
    assert two.combine_chunks().equals(t)


def test_relational_operations_match_pandas(t):
    df = t.to_pandas()
    s = t.sort_by([("k", "ascending"), ("v", "descending")])
    assert s.to_pydict()["v"] == [5, 3, 2, 1, 4]  # nulls last, stable
    assert t.take([4, 0, 0]).to_pydict()["v"] == [1, 5, 5]
    with pytest.raises(IndexError):
        t.take([5])
    assert t.filter([True, None, False, True, True]).to_pydict()["v"] == [5, 4, 1]
    assert t.filter(t["v"] > 2).to_pydict()["v"] == [5, 3, 4]
    g = t.group_by("k").aggregate([("v", "sum"), ("f", "mean"), ("v", "count")])
    assert g.column_names == ["v_sum", "f_mean", "v_count", "k"]
    want = df.groupby("k", sort=False, dropna=False)["v"].sum()
    assert g.to_pydict()["v_sum"] == [int(x) for x in want.tolist()]
    r = Table({"k": ["a", "c"], "x": [10, 30]})
    assert t.join(r, "k").to_pydict()["x"] == [10, None, 10, None, None]
    assert t.join(r, "k", join_type="inner").to_pydict()["v"] == [5, 3]
    assert t.join(r, "k", join_type="left anti").to_pydict()["v"] == [2, 4, 1]
    assert t.join(r, "k", join_type="right semi").to_pydict() == {"k": ["a"], "x": [10]}
    with pytest.raises(tarn.InvalidError, match="suffix"):
        t.join(Table({"k": ["a"], "v": [1]}), "k")
    assert "v_r" in t.join(Table({"k": ["a"], "v": [1]}), "k", right_suffix="_r").column_names
    assert t.cast({"k": "string", "v": "float64", "f": "float32"}).schema.types == \
        ["string", "float64", "float32"]


def test_sql_is_confined():
    # a hostile column name is quoted, and the DuckDB cannot read files anyway
    name = "x\" FROM read_csv('/etc/passwd') --"
    t = Table({name: [2, 1]})
    assert t.sort_by(name).to_pydict() == {name: [1, 2]}
    with pytest.raises(tarn.InvalidError, match="disabled by configuration"):
        tarn._native.duckdb_query("SELECT * FROM read_csv('/etc/passwd')", [], True)
    with pytest.raises(tarn.InvalidError, match="locked"):
        tarn._native.duckdb_query("SET enable_external_access = true", [], True)


def test_pandas_index_kept_as_pyarrow_does():
    # before: a named index was silently lost
    df = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="key"))
    assert Table.from_pandas(df).to_pydict() == {"a": [1, 2], "key": ["x", "y"]}
    mi = pd.DataFrame({"a": [1]}, index=pd.MultiIndex.from_tuples([(1, "x")], names=["n", None]))
    assert Table.from_pandas(mi).column_names == ["a", "n", "__index_level_1__"]
    assert Table.from_pandas(pd.DataFrame({"a": [1, 2]})).column_names == ["a"]
    assert Table.from_pandas(df, preserve_index=False).column_names == ["a"]


def test_model_outputs_and_float16():
    half = model_output({"h": np.array([0.5, 1.5], dtype=np.float16)})
    assert half.schema.types == ["float32"] and half.to_pydict() == {"h": [0.5, 1.5]}
    assert model_output([{"a": 1}, {"a": 2, "b": "x"}]).to_pydict() == \
        {"a": [1, 2], "b": [None, "x"]}
    assert model_input(half, "tarn") is half and model_input(half) is half  # no pyarrow here
    with pytest.raises(tarn.InvalidError, match="polars is not installed"):
        model_input(half, "polars")


def test_python_values_round_trip():
    rows = [{"u": uuid.UUID(int=7), "d": dt.timedelta(seconds=90), "t": dt.time(1, 2, 3),
             "s": {"x": 1}, "m": [("k", 1.5)], "n": 1, "e": np.array([1.0, 2.0])},
            {"u": None, "d": None, "t": None, "s": None, "m": None, "n": "one",
             "e": np.array([3.0])}]
    t = Table.from_pylist(rows)
    assert t.schema.types[:6] == ["uuid", "duration[us]", "time64[us]", "struct<x: int64>",
                                  "map<string, float64>", "sparse_union<int: int64, str: string>"]
    back = t.to_pylist()
    assert back[0]["u"] == uuid.UUID(int=7) and back[1]["n"] == "one" and back[0]["e"] == [1, 2]
    assert Table.from_pylist(back).to_pylist() == back
    # through DuckDB (the confined SQL) and back: same values
    assert tarn.table._sql("SELECT * FROM t", t=t).to_pylist() == back
    emb = Table({"e": np.ones((2, 3), dtype=np.float32)})
    assert emb.schema.types == ["fixed_size_list<float32>[3]"]
    assert emb.to_pylist() == [{"e": [1.0, 1.0, 1.0]}] * 2
