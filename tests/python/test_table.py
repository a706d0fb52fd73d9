"""tarn.Table: types and nulls, zero-copy views, pandas, IPC, PyCapsules."""
import datetime as dt
import decimal
import gc
import mmap
import os

import numpy as np
import pandas as pd
import pytest

import tarn
from tarn import _native


def roundtrip_ipc(t):
    return tarn.Table.from_ipc(t.to_ipc())


def roundtrip_capsule(t):
    return tarn.Table.from_arrow(t)


def roundtrip_memfd(t):
    fd, _size = t._to_memfd("test")
    try:
        return tarn.Table._from_fd(fd)
    finally:
        os.close(fd)


ROUNDTRIPS = [roundtrip_ipc, roundtrip_capsule, roundtrip_memfd]

COLUMNS = {
    "i8": (np.array([1, -2, 3], dtype=np.int8), "int8"),
    "i16": (np.array([1, -2, 3], dtype=np.int16), "int16"),
    "i32": (np.array([1, -2, 3], dtype=np.int32), "int32"),
    "i64": (np.array([1, -2, 2**40], dtype=np.int64), "int64"),
    "u8": (np.array([1, 2, 255], dtype=np.uint8), "uint8"),
    "u16": (np.array([1, 2, 65535], dtype=np.uint16), "uint16"),
    "u32": (np.array([1, 2, 2**32 - 1], dtype=np.uint32), "uint32"),
    "u64": (np.array([1, 2, 2**64 - 1], dtype=np.uint64), "uint64"),
    "f32": (np.array([1.5, -2.25, 3.0], dtype=np.float32), "float32"),
    "f64": (np.array([1.5, -2.25, 1e300]), "float64"),
    "b": (np.array([True, False, True]), "bool"),
    "ts": (np.array(["2026-01-01T00:00:00.123456", "1970-01-01", "2000-02-29T12:00"],
                    dtype="M8[us]"), "timestamp[us]"),
    "tsn": (np.array(["2026-01-01T00:00:00.123456789", "1970-01-01", "2000-02-29"],
                     dtype="M8[ns]"), "timestamp[ns]"),
    "dur": (np.array([1, -2, 3], dtype="m8[ms]"), "duration[ms]"),
}

OBJECTS = {
    "str": (["a", "ünïcode", ""], "string"),
    "bin": ([b"\x00\x01", b"", b"xyz"], "binary"),
    "date": ([dt.date(2026, 11, 26), dt.date(1970, 1, 1), dt.date(1900, 3, 1)], "date32"),
    "dec": ([decimal.Decimal("1.25"), decimal.Decimal("-3"), decimal.Decimal("1000.5")],
            "decimal128(38, 2)"),
    "int": ([1, 2, 3], "int64"),
    "float": ([1.0, 2.5, 3.0], "float64"),
    "bool": ([True, False, True], "bool"),
}


def test_import_and_errors():
    assert issubclass(tarn.InvalidError, tarn.Error)
    assert issubclass(tarn.NotFoundError, tarn.Error)
    assert issubclass(tarn.ConflictError, tarn.Error)
    assert tarn.errors.from_code(-4, "x").__class__ is tarn.ConflictError
    assert tarn.errors.from_code(-999, "x").__class__ is tarn.Error


@pytest.mark.parametrize("name", sorted(COLUMNS))
@pytest.mark.parametrize("rt", ROUNDTRIPS)
def test_numpy_types_roundtrip(name, rt):
    values, tname = COLUMNS[name]
    t = tarn.Table.from_pydict({name: values})
    assert t.schema[0].type == tname
    u = rt(t)
    assert u.schema == t.schema
    out = u.column(name)
    assert not isinstance(out, np.ma.MaskedArray)
    np.testing.assert_array_equal(out, values)
    assert out.dtype == values.dtype


@pytest.mark.parametrize("name", sorted(COLUMNS))
@pytest.mark.parametrize("rt", ROUNDTRIPS)
def test_numpy_types_with_nulls(name, rt):
    values, tname = COLUMNS[name]
    masked = np.ma.masked_array(values, mask=[False, True, False])
    t = tarn.Table.from_pydict({name: masked})
    u = rt(t)
    assert u.schema[0].type == tname
    out = u.column(name)
    py = u.to_pylist()
    assert py[1][name] is None
    assert py[0][name] is not None and py[2][name] is not None
    if values.dtype.kind in "Mm":
        assert np.isnat(out[1]) and out[0] == values[0] and out[2] == values[2]
    else:
        assert isinstance(out, np.ma.MaskedArray)
        assert out.mask.tolist() == [False, True, False]
        assert out[0] == values[0] and out[2] == values[2]


@pytest.mark.parametrize("name", sorted(OBJECTS))
@pytest.mark.parametrize("rt", ROUNDTRIPS)
def test_python_values_roundtrip_with_nulls(name, rt):
    values, tname = OBJECTS[name]
    with_null = values[:1] + [None] + values[1:]
    t = tarn.Table.from_pydict({name: with_null})
    assert t.schema[0].type == tname
    u = rt(t)
    assert u.schema[0].type == tname
    assert [r[name] for r in u.to_pylist()] == with_null
    assert rt(tarn.Table.from_pydict({name: values})).to_pydict() == {name: values}


def test_all_null_and_empty():
    t = tarn.Table.from_pydict({"n": [None, None]})
    assert t.schema[0].type == "null"
    assert roundtrip_ipc(t).to_pylist() == [{"n": None}, {"n": None}]
    e = tarn.Table.from_pydict({"a": np.zeros(0, dtype=np.int64), "s": []})
    u = roundtrip_ipc(e)
    assert u.num_rows == 0 and u.column_names == ["a", "s"]
    assert len(u.column("a")) == 0


def test_timestamp_with_timezone():
    s = pd.Series(pd.to_datetime(["2026-11-26 10:00", None, "2020-01-01"]).tz_localize(
        "Europe/Rome"))
    t = roundtrip_ipc(tarn.Table.from_pandas(pd.DataFrame({"t": s})))
    assert t.schema[0].type == "timestamp[ns, tz=Europe/Rome]"
    back = t.to_pandas()["t"]
    assert str(back.dtype) == "datetime64[ns, Europe/Rome]"
    pd.testing.assert_series_equal(back, s, check_names=False)


def test_from_pandas_to_pandas_equality():
    df = pd.DataFrame({
        "id": np.arange(5, dtype=np.int64),
        "x": [1.5, np.nan, 3.0, 4.0, None],
        "s": ["a", None, "c", "dd", "e"],
        "n": pd.array([1, None, 3, 4, 5], dtype="Int64"),
        "ok": pd.array([True, None, False, True, False], dtype="boolean"),
        "u8": np.array([1, 2, 3, 4, 5], dtype=np.uint8),
        "ts": pd.to_datetime(["2026-01-01", None, "2026-01-03", "2026-01-04", "2026-01-05"]),
        "cat": pd.Categorical(["a", "b", "a", None, "b"]),
    })
    t = tarn.Table.from_pandas(df)
    assert t.column_names == list(df.columns)
    back = roundtrip_ipc(t).to_pandas()
    expected = df.copy()
    expected["cat"] = expected["cat"].astype(object).where(expected["cat"].notna(), None)
    pd.testing.assert_frame_equal(back, expected)


def test_from_pandas_views_numpy_memory():
    df = pd.DataFrame({"a": np.arange(1000, dtype=np.int64)})
    t = tarn.Table.from_pandas(df)
    assert np.shares_memory(t.column("a"), df["a"].to_numpy())


def test_zero_copy_views_of_ipc_buffer():
    t = tarn.Table.from_pydict({"a": np.arange(100_000, dtype=np.int64),
                                "f": np.linspace(0, 1, 100_000)})
    buf = bytearray(t.to_ipc())
    u = tarn.Table.from_ipc(buf)
    a = u.column("a")
    addr = a.__array_interface__["data"][0]
    base = np.frombuffer(buf, dtype=np.uint8).__array_interface__["data"][0]
    assert base <= addr < base + len(buf)
    assert np.shares_memory(a, np.frombuffer(buf, dtype=np.uint8))
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    # The view keeps the table's memory alive after the table is gone.
    del u
    gc.collect()
    assert a[99_999] == 99_999


def _mapping_range(name):
    with open("/proc/self/maps") as f:
        for line in f:
            if "memfd:" + name in line:
                lo, hi = line.split()[0].split("-")
                yield int(lo, 16), int(hi, 16), line.split()[1]


def test_zero_copy_views_of_shared_memory():
    n = 1_000_000
    t = tarn.Table.from_pydict({"id": np.arange(n, dtype=np.int64), "x": np.ones(n)})
    fd, size = t._to_memfd("zero-copy-proof")
    u = tarn.Table._from_fd(fd)
    os.close(fd)
    col = u.column("id")
    addr = col.__array_interface__["data"][0]
    ranges = list(_mapping_range("zero-copy-proof"))
    assert ranges, "the memfd is not mapped"
    assert any(lo <= addr and addr + col.nbytes <= hi and perms.startswith("r-")
               for lo, hi, perms in ranges)
    # base chain: ndarray -> _native.Buffer (which holds the mapping alive)
    b = col
    while isinstance(b, np.ndarray) and b.base is not None:
        b = b.base
    assert isinstance(b, _native.Buffer)
    assert not col.flags.writeable
    with pytest.raises(ValueError):
        col[0] = 5
    with pytest.raises(ValueError):
        col.setflags(write=True)
    assert col[n - 1] == n - 1
    # Dropping the table and its views unmaps the memfd.
    del u, col, b
    gc.collect()
    assert not list(_mapping_range("zero-copy-proof"))


def test_from_ipc_over_mmap_is_zero_copy(tmp_path):
    t = tarn.Table.from_pydict({"a": np.arange(10, dtype=np.int64)})
    p = tmp_path / "t.arrows"
    p.write_bytes(t.to_ipc())
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    u = tarn.Table.from_ipc(m)
    a = u.column("a")
    assert np.shares_memory(a, np.frombuffer(m, dtype=np.uint8))
    assert a.tolist() == list(range(10))
    with pytest.raises(BufferError):
        m.close()  # still exported: the table holds the mapping
    del u, a
    gc.collect()
    m.close()


def test_select_slice_len_repr():
    t = tarn.Table.from_pydict({"a": np.arange(10), "s": [str(i) for i in range(10)],
                                "f": np.arange(10.0)})
    assert len(t) == t.num_rows == 10
    s = t.select(["s", "a"]).slice(3, 4)
    assert s.column_names == ["s", "a"]
    assert s.to_pydict() == {"s": ["3", "4", "5", "6"], "a": [3, 4, 5, 6]}
    assert np.shares_memory(s.column("a"), t.column("a"))
    assert roundtrip_ipc(s).to_pydict() == s.to_pydict()
    assert roundtrip_capsule(s).to_pydict() == s.to_pydict()
    assert t.slice(8).num_rows == 2 and t.slice(20).num_rows == 0
    assert "10 rows x 3 columns" in repr(t) and "a: int64" in repr(t)
    with pytest.raises(tarn.NotFoundError):
        t.column("nope")


def test_sliced_nulls_roundtrip():
    vals = [None if i % 3 == 0 else i for i in range(50)]
    t = tarn.Table.from_pydict({"a": vals, "s": [None if v is None else str(v) for v in vals]})
    s = t.slice(7, 20)
    assert roundtrip_ipc(s).to_pydict() == {"a": vals[7:27],
                                            "s": [None if v is None else str(v)
                                                  for v in vals[7:27]]}


def test_multi_batch_tables_concatenate():
    res = _native.duckdb_query("SELECT i AS id, i::VARCHAR AS s FROM range(5000) t(i)")
    t = tarn.Table._wrap(res)
    assert t.num_rows == 5000 and len(t._segs) > 1
    assert t.column("id").tolist() == list(range(5000))
    assert t.slice(2040, 20).column("s").tolist() == [str(i) for i in range(2040, 2060)]
    assert roundtrip_ipc(t.slice(2040, 20)).column("id").tolist() == list(range(2040, 2060))


def test_capsules():
    t = tarn.Table.from_pydict({"a": [1, 2, None], "s": ["x", None, "z"]})
    sc = t.__arrow_c_schema__()
    assert type(sc).__name__ == "PyCapsule"
    st = t.__arrow_c_stream__()
    u = tarn.Table.from_arrow(t)
    assert u.to_pydict() == t.to_pydict()
    assert tarn.Table(t).to_pydict() == t.to_pydict()
    # Unconsumed capsules release their structs (and their hold on the
    # table's memory) when collected.
    del sc, st
    import sys
    fresh = tarn.Table.from_pydict({"a": [1, 2]})
    arrays = fresh._arrays
    held = sys.getrefcount(arrays)
    caps = [fresh.__arrow_c_stream__(), fresh.__arrow_c_stream__()]
    assert sys.getrefcount(arrays) == held + 2
    del caps
    gc.collect()
    assert sys.getrefcount(arrays) == held
    # A consumed capsule cannot be consumed twice.
    cap = t.__arrow_c_stream__()
    tarn._native.import_stream(cap)
    with pytest.raises(tarn.Error):
        tarn._native.import_stream(cap)

    class Producer:  # any object with __arrow_c_stream__
        def __arrow_c_stream__(self, requested_schema=None):
            return t.__arrow_c_stream__(requested_schema)

    assert tarn.Table(Producer()).to_pydict() == t.to_pydict()


def test_capsule_keeps_data_alive():
    t = tarn.Table.from_ipc(tarn.Table.from_pydict({"a": np.arange(1000)}).to_ipc())
    cap = t.__arrow_c_stream__()
    del t
    gc.collect()
    assert tarn._native.import_stream(cap) is not None


def test_duckdb_reads_the_stream():
    t = tarn.Table.from_pydict({"a": np.arange(100), "s": [str(i % 7) for i in range(100)]})
    res = tarn.Table._wrap(_native.duckdb_query(
        "SELECT s, sum(a) AS total FROM t GROUP BY s ORDER BY s",
        [("t", t._arrays, t._cols, t._segs)]))
    expected = t.to_pandas().groupby("s", as_index=False)["a"].sum()
    assert res.column("s").tolist() == expected["s"].tolist()
    assert [int(x) for x in res.column("total").tolist()] == expected["a"].tolist()


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 7, b"\xff\xff\xff\xff\x10\x00\x00\x00" + b"\x00" * 16, b"garbage" * 100,
])
def test_malformed_ipc_raises(data):
    with pytest.raises(tarn.InvalidError):
        tarn.Table.from_ipc(data)


def test_truncated_and_corrupted_ipc_raise():
    good = tarn.Table.from_pydict({"a": np.arange(100), "s": [str(i) for i in range(100)]}).to_ipc()
    for n in range(0, len(good) - 8, max(1, len(good) // 97)):
        try:
            tarn.Table.from_ipc(good[:n])
        except tarn.Error:
            pass
    rng = np.random.default_rng(7)
    for _ in range(300):
        bad = bytearray(good)
        for pos in rng.integers(0, len(bad), 4):
            bad[pos] = int(rng.integers(0, 256))
        try:
            u = tarn.Table.from_ipc(bytes(bad))
            u.to_pylist()  # whatever decodes must be readable without crashing
        except tarn.Error:
            pass


def test_misaligned_buffer_is_copied():
    good = tarn.Table.from_pydict({"a": np.arange(10)}).to_ipc()
    buf = bytearray(b"x" + good)
    u = tarn.Table.from_ipc(memoryview(buf)[1:])
    assert u.column("a").tolist() == list(range(10))


def test_bad_inputs():
    with pytest.raises(tarn.InvalidError):
        tarn.Table.from_pydict({"a": [1, 2], "b": [1]})
    with pytest.raises(tarn.InvalidError):
        tarn.Table.from_pydict({"a": [1, object()]})
    # values of several kinds are a union (as DuckDB's UNION comes back), not an error
    assert tarn.Table.from_pydict({"a": [1, "x"]}).schema[0].type.startswith("sparse_union<")
    with pytest.raises(tarn.InvalidError):
        tarn.Table(42)
    with pytest.raises(tarn.InvalidError):
        fd = os.open("/dev/null", os.O_RDONLY)
        try:
            tarn.Table._from_fd(fd)
        finally:
            os.close(fd)


def test_dictionary_and_nested_from_duckdb():
    res = tarn.Table._wrap(_native.duckdb_query(
        "SELECT (CASE WHEN i % 3 = 0 THEN NULL ELSE ['a','b'][i % 2 + 1] END)::ENUM('a','b') AS e, "
        "[i, NULL] AS l, {'x': i, 'y': i::VARCHAR} AS st, 1.5::DECIMAL(10,2) * i AS d, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' AS tz, DATE '2026-11-26' + i::INTEGER AS day "
        "FROM range(4) t(i)"))
    types = {f.name: f.type for f in res.schema}
    assert types["e"].startswith("dictionary<values=string")
    assert types["l"] == "list<int64>"
    assert types["st"] == "struct<x: int64, y: string>"
    assert types["d"].startswith("decimal128(")
    for t in (res, roundtrip_ipc(res), roundtrip_memfd(res)):
        rows = t.to_pylist()
        assert [r["e"] for r in rows] == [None, "b", "a", None]
        assert rows[1]["l"] == [1, None]
        assert rows[2]["st"] == {"x": 2, "y": "2"}
        assert rows[3]["d"] == decimal.Decimal("4.50")
        assert rows[0]["day"] == dt.date(2026, 11, 26)
        assert rows[0]["tz"] == pd.Timestamp("2026-01-01", tz="UTC")
        assert t.column("e").tolist() == [None, "b", "a", None]


def test_trusted_map_reads_the_same_table():
    """A worker maps its inputs trusted (structure checked, values not): the
    table it sees is the same as a fully validated mapping."""
    import os
    t = tarn.Table.from_pydict({"id": list(range(1000)), "s": ["x%d" % i if i % 7 else None for i in range(1000)]})
    fd, _ = t._to_memfd("trusted")
    try:
        checked = tarn.Table._from_fd(fd)
        trusted = tarn.Table._from_fd(fd, trusted=True)
        assert trusted.to_pylist() == checked.to_pylist() == t.to_pylist()
    finally:
        os.close(fd)
