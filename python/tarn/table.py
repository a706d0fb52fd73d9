"""tarn.Table: an Arrow table held by tarn's C extension, seen from numpy.

A Table is a view ``(arrays, columns, segments)`` over a ``_native.Arrays``
(an owned ArrowSchema plus record batches): ``select`` and ``slice`` make new
views without touching the data. The Arrow memory is wherever it came from:
a decoded IPC buffer, a read-only shared-memory mapping (a sealed memfd from
another process), numpy arrays given to ``from_pandas``/``from_pydict``, or
batches imported through the Arrow C stream interface.

``column(name)`` returns a numpy array that *views* that memory for
fixed-width columns without nulls (read-only; its ``base`` chain ends at a
``_native.Buffer`` that keeps the memory alive), a masked array for numbers
and booleans with nulls, NaT for null times, and an object array for
strings, binary, decimals and nested values. Tables that span several
batches are concatenated (one copy) when a column is asked for.
"""
import datetime as _dt
import decimal as _decimal
from collections import namedtuple

import numpy as np

from . import _native
from .errors import InvalidError, NotFoundError

__all__ = ["Table", "Schema", "Field"]

_FIXED = {"c": "i1", "C": "u1", "s": "i2", "S": "u2", "i": "i4", "I": "u4", "l": "i8",
          "L": "u8", "e": "f2", "f": "f4", "g": "f8"}
_TYPE_NAMES = {"n": "null", "b": "bool", "c": "int8", "C": "uint8", "s": "int16",
               "S": "uint16", "i": "int32", "I": "uint32", "l": "int64", "L": "uint64",
               "e": "float16", "f": "float32", "g": "float64", "u": "string",
               "U": "large_string", "z": "binary", "Z": "large_binary", "tdD": "date32",
               "tdm": "date64", "tts": "time32[s]", "ttm": "time32[ms]", "ttu": "time64[us]",
               "ttn": "time64[ns]", "tDs": "duration[s]", "tDm": "duration[ms]",
               "tDu": "duration[us]", "tDn": "duration[ns]", "+s": "struct", "+l": "list",
               "+L": "large_list"}
_UNITS = {"s": "s", "m": "ms", "u": "us", "n": "ns"}
_UNIT_CODE = {"s": "s", "ms": "m", "us": "u", "ns": "n"}
_INT32_MAX = 2**31 - 1


def _type_name(sinfo):
    fmt, _name, _flags, children, dictionary, _meta = sinfo
    if dictionary is not None:
        return "dictionary<values=%s, indices=%s>" % (_type_name(dictionary),
                                                       _TYPE_NAMES.get(fmt, fmt))
    if fmt in _TYPE_NAMES and fmt not in ("+s", "+l", "+L"):
        return _TYPE_NAMES[fmt]
    if fmt.startswith("ts"):
        unit, tz = _UNITS.get(fmt[2], fmt[2]), fmt[4:]
        return "timestamp[%s, tz=%s]" % (unit, tz) if tz else "timestamp[%s]" % unit
    if fmt.startswith("d:"):
        parts = fmt[2:].split(",")
        bits = parts[2] if len(parts) > 2 else "128"
        return "decimal%s(%s, %s)" % (bits, parts[0], parts[1])
    if fmt.startswith("w:"):
        return "fixed_size_binary[%s]" % fmt[2:]
    if fmt == "+s":
        return "struct<%s>" % ", ".join("%s: %s" % (c[1], _type_name(c)) for c in children)
    if fmt in ("+l", "+L"):
        return "%s<%s>" % (_TYPE_NAMES[fmt], _type_name(children[0]))
    return fmt


class Field(namedtuple("Field", "name type nullable format")):
    """One column: name, type name (e.g. "int64", "timestamp[us, tz=UTC]"),
    nullable, and the Arrow C data interface format string."""

    def __repr__(self):
        return "%s: %s%s" % (self.name, self.type, "" if self.nullable else " not null")


class Schema:
    """The ordered fields of a Table; iterates as Field tuples."""

    def __init__(self, fields):
        self.fields = list(fields)

    @property
    def names(self):
        return [f.name for f in self.fields]

    @property
    def types(self):
        return [f.type for f in self.fields]

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise NotFoundError("no column %r (columns: %s)" % (name, ", ".join(self.names)))

    def __iter__(self):
        return iter(self.fields)

    def __len__(self):
        return len(self.fields)

    def __getitem__(self, i):
        return self.fields[i]

    def __eq__(self, other):
        if isinstance(other, Schema):
            return [(f.name, f.type) for f in self] == [(f.name, f.type) for f in other]
        return NotImplemented

    def __repr__(self):
        return "Schema(%s)" % ", ".join(repr(f) for f in self.fields)


# ---- Arrow -> numpy -------------------------------------------------------

def _validity(info):
    """Boolean array of valid rows, or None when there are no nulls."""
    fmt, _name, length, offset, null_count, bufs, _kids, _dict = info
    if null_count == 0 or length == 0:
        return None
    if fmt == "n":
        return np.zeros(length, dtype=bool)
    if not bufs or bufs[0] is None:
        return None
    bits = np.frombuffer(bufs[0], dtype=np.uint8)
    valid = np.unpackbits(bits, bitorder="little", count=offset + length)[offset:].view(bool)
    if null_count < 0 and valid.all():
        return None
    return valid


def _fixed(info, dtype):
    _fmt, _name, length, offset, _nc, bufs, _k, _d = info
    dt = np.dtype(dtype)
    if length == 0 or bufs[1] is None:
        return np.zeros(0, dtype=dt)
    return np.frombuffer(bufs[1], dtype=dt, count=length, offset=offset * dt.itemsize)


def _values(info, sinfo):
    """(values, valid) for one array: VALUES ignores nulls (zero-copy where the
    layout allows), VALID is a bool array or None."""
    fmt, _name, length, offset, _nc, bufs, kids, dictionary = info
    valid = _validity(info)
    if dictionary is not None:
        index = _fixed(info, _FIXED[fmt])
        dvals, dvalid = _values(dictionary, sinfo[4])
        dvals = _with_nulls(dvals, dvalid, to_object=dvals.dtype.kind in "iufb" and
                            dvalid is not None)
        idx = np.where(valid, index, 0) if valid is not None else index
        if len(dvals) == 0:
            return np.full(length, None, dtype=object), valid
        return dvals[idx], valid
    if fmt in _FIXED:
        return _fixed(info, _FIXED[fmt]), valid
    if fmt == "b":
        if length == 0:
            return np.zeros(0, dtype=bool), valid
        bits = np.frombuffer(bufs[1], dtype=np.uint8)
        return np.unpackbits(bits, bitorder="little", count=offset + length)[offset:].view(bool), valid
    if fmt == "n":
        return np.full(length, None, dtype=object), valid
    if fmt.startswith("ts"):
        return _fixed(info, "i8").view("M8[%s]" % _UNITS[fmt[2]]), valid
    if fmt == "tdD":
        return _fixed(info, "i4").astype("M8[D]"), valid
    if fmt == "tdm":
        return _fixed(info, "i8").view("M8[ms]"), valid
    if fmt in ("tts", "ttm"):
        return _fixed(info, "i4").astype("m8[%s]" % _UNITS[fmt[2]]), valid
    if fmt in ("ttu", "ttn"):
        return _fixed(info, "i8").view("m8[%s]" % _UNITS[fmt[2]]), valid
    if fmt.startswith("tD"):
        return _fixed(info, "i8").view("m8[%s]" % _UNITS[fmt[2]]), valid
    if fmt in ("u", "U", "z", "Z"):
        out = np.empty(length, dtype=object)
        if length:
            vmask = None if valid is None else valid.view(np.uint8)
            out[:] = _native.strings(bufs[1], bufs[2] if bufs[2] is not None else b"",
                                     offset, length, fmt in "UZ", fmt in "zZ", vmask)
        return out, valid
    if fmt.startswith("d:"):
        parts = fmt[2:].split(",")
        scale, width = int(parts[1]), int(parts[2]) // 8 if len(parts) > 2 else 16
        raw = np.frombuffer(bufs[1], dtype=np.uint8, count=length * width,
                            offset=offset * width).tobytes() if length else b""
        out = np.empty(length, dtype=object)
        for i in range(length):
            if valid is not None and not valid[i]:
                out[i] = None
                continue
            v = int.from_bytes(raw[i * width:(i + 1) * width], "little", signed=True)
            out[i] = _decimal.Decimal(v).scaleb(-scale)
        return out, valid
    if fmt.startswith("w:"):
        width = int(fmt[2:])
        raw = np.frombuffer(bufs[1], dtype=np.uint8, count=length * width,
                            offset=offset * width).tobytes() if length else b""
        out = np.empty(length, dtype=object)
        out[:] = [raw[i * width:(i + 1) * width] for i in range(length)]
        return out, valid
    if fmt == "+s":
        cols = []
        for k, ks in zip(kids, sinfo[3]):
            sub = (k[0], k[1], length, k[3] + offset, -1 if k[4] else 0, k[5], k[6], k[7])
            cols.append((ks[1], _pylist(sub, ks)))
        out = np.empty(length, dtype=object)
        out[:] = [{n: c[i] for n, c in cols} for i in range(length)]
        return out, valid
    if fmt in ("+l", "+L"):
        offs = np.frombuffer(bufs[1], dtype="i8" if fmt == "+L" else "i4", count=offset + length + 1)
        child, cs = kids[0], sinfo[3][0]
        start, stop = int(offs[offset]), int(offs[offset + length])
        sub = (child[0], child[1], stop - start, child[3] + start, -1 if child[4] else 0,
               child[5], child[6], child[7])
        items = _pylist(sub, cs)
        out = np.empty(length, dtype=object)
        out[:] = [items[int(offs[offset + i]) - start:int(offs[offset + i + 1]) - start]
                  for i in range(length)]
        return out, valid
    raise InvalidError("tarn.Table cannot convert Arrow type %r to numpy" % fmt)


def _with_nulls(values, valid, to_object=False):
    """VALUES with nulls applied: masked (numbers, bools), NaT (times), None
    (objects)."""
    if valid is None:
        return values
    kind = values.dtype.kind
    if kind in "iufb" and not to_object:
        return np.ma.masked_array(values, mask=~valid)
    if kind in "Mm":
        out = values.copy()
        out[~valid] = np.datetime64("NaT") if kind == "M" else np.timedelta64("NaT")
        return out
    out = values.astype(object) if kind != "O" else values.copy()
    out[~valid] = None
    return out


def _pylist(info, sinfo):
    """Python values of one array (None for nulls)."""
    values, valid = _values(info, sinfo)
    fmt = sinfo[0]
    if values.dtype.kind == "M":
        if fmt.startswith("ts") and (fmt[2] == "n" or fmt[4:]):
            import pandas as pd
            s = pd.Series(values.astype("M8[ns]"))
            if fmt[4:]:
                s = s.dt.tz_localize("UTC").dt.tz_convert(fmt[4:])
            out = [None if v is pd.NaT else v for v in s.tolist()]
        else:
            out = values.tolist()
    elif values.dtype.kind == "m" and fmt.startswith("tt"):
        out = [(_dt.datetime.min + v).time() if v is not None else None
               for v in values.astype("m8[us]").tolist()]
    else:
        out = values.tolist()
    if valid is not None:
        out = [v if ok else None for v, ok in zip(out, valid.tolist())]
    return out


# ---- Python -> Arrow --------------------------------------------------------

def _bitmap(valid):
    return np.packbits(valid, bitorder="little")


def _spec(name, fmt, length, valid, buffers, children=(), dictionary=None):
    """A column description for _native.from_columns."""
    if fmt == "n":  # the null type has no buffers at all
        return (name, fmt, int(length), int(length), (), (), None)
    if valid is None or valid.all():
        null_count, vbuf = 0, None
    else:
        null_count, vbuf = int(length - np.count_nonzero(valid)), _bitmap(valid)
    return (name, fmt, int(length), null_count, (vbuf,) + tuple(buffers), tuple(children),
            dictionary)


def _string_spec(name, values, valid, binary):
    n = len(values)
    if valid is None:
        valid_list = None
    else:
        valid_list = valid.tolist()
    enc = []
    for i, v in enumerate(values):
        if valid_list is not None and not valid_list[i]:
            enc.append(b"")
        elif binary:
            enc.append(bytes(v))
        elif isinstance(v, str):
            enc.append(v.encode("utf-8"))
        else:
            raise InvalidError("column %r mixes strings with %s" % (name, type(v).__name__))
    lens = np.fromiter(map(len, enc), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    large = n and offsets[-1] > _INT32_MAX
    if not large:
        offsets = offsets.astype(np.int32)
    fmt = ("Z" if large else "z") if binary else ("U" if large else "u")
    return _spec(name, fmt, n, valid, (offsets, b"".join(enc)))


def _is_null(v):
    if v is None:
        return True
    if isinstance(v, float) and v != v:
        return True
    try:
        import pandas as pd
        if v is pd.NA or v is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return False


def _object_spec(name, values):
    """Infer the Arrow type of an object array (str, bytes, bool, int, float,
    datetime, date, Decimal; None/NaN/pd.NA are nulls)."""
    n = len(values)
    # The common case, strings (and nulls), in one C pass.
    fast = _native.utf8_column(values, _is_null) if n else None
    if fast is not None and (fast[2] is None or b"\x01" in fast[2]):
        offsets, data, valid_bytes = fast
        offsets = np.frombuffer(offsets, dtype=np.int64)
        valid = None if valid_bytes is None else np.frombuffer(valid_bytes, dtype=np.uint8).astype(bool)
        large = offsets[-1] > _INT32_MAX
        if not large:
            offsets = offsets.astype(np.int32)
        return _spec(name, "U" if large else "u", n, valid, (offsets, data))
    valid = np.fromiter((not _is_null(v) for v in values), dtype=bool, count=n)
    present = [v for v, ok in zip(values, valid) if ok]
    if valid.all():
        valid = None
    if not present:
        return _spec(name, "n", n, np.zeros(n, dtype=bool) if n else None, ())
    kinds = {type(v) for v in present}
    if all(issubclass(k, str) for k in kinds):
        return _string_spec(name, values, valid, binary=False)
    if all(issubclass(k, (bytes, bytearray, memoryview)) for k in kinds):
        return _string_spec(name, values, valid, binary=True)
    if all(issubclass(k, (bool, np.bool_)) for k in kinds):
        arr = np.array([bool(v) if ok else False for v, ok in zip(values, _iter_valid(valid, n))])
        return _numpy_spec(name, arr, valid)
    if all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
        arr = np.array([int(v) if ok else 0 for v, ok in zip(values, _iter_valid(valid, n))],
                       dtype=np.int64)
        return _numpy_spec(name, arr, valid)
    if all(issubclass(k, (int, float, np.integer, np.floating)) for k in kinds):
        arr = np.array([float(v) if ok else 0.0 for v, ok in zip(values, _iter_valid(valid, n))],
                       dtype=np.float64)
        return _numpy_spec(name, arr, valid)
    if all(issubclass(k, _dt.datetime) for k in kinds):
        import pandas as pd
        aware = [v.tzinfo is not None for v in present]
        if any(aware) and not all(aware):
            raise InvalidError("column %r mixes naive and timezone-aware datetimes" % name)
        if all(aware):
            ts = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True)
            return _numpy_spec(name, ts.dt.tz_localize(None).to_numpy(), valid, tz="UTC")
        ts = pd.to_datetime(pd.Series(list(values), dtype=object))
        return _numpy_spec(name, ts.to_numpy(), valid)
    if all(issubclass(k, _dt.date) for k in kinds):
        days = np.array([np.datetime64(v, "D") if ok else np.datetime64(0, "D")
                         for v, ok in zip(values, _iter_valid(valid, n))], dtype="M8[D]")
        return _spec(name, "tdD", n, valid, (days.astype(np.int64).astype(np.int32),))
    if all(issubclass(k, _decimal.Decimal) for k in kinds):
        return _decimal_spec(name, values, valid)
    raise InvalidError("column %r: cannot store values of type %s in a table"
                       % (name, ", ".join(sorted(k.__name__ for k in kinds))))


def _iter_valid(valid, n):
    return [True] * n if valid is None else valid.tolist()


def _decimal_spec(name, values, valid):
    n = len(values)
    vl = _iter_valid(valid, n)
    scale = 0
    for v, ok in zip(values, vl):
        if ok:
            if not v.is_finite():
                raise InvalidError("column %r holds a non-finite Decimal" % name)
            scale = max(scale, -v.as_tuple().exponent)
    raw = bytearray(16 * n)
    for i, (v, ok) in enumerate(zip(values, vl)):
        if ok:
            iv = int(v.scaleb(scale))
            if abs(iv) >= 10**38:
                raise InvalidError("column %r: %s does not fit decimal128(38, %d)" % (name, v, scale))
            raw[16 * i:16 * (i + 1)] = iv.to_bytes(16, "little", signed=True)
    return _spec(name, "d:38,%d" % scale, n, valid, (bytes(raw),))


def _numpy_spec(name, arr, valid=None, tz=None):
    """Column description for a 1-d numpy array (viewed, not copied, when it
    is contiguous and needs no conversion)."""
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise InvalidError("column %r must be one-dimensional" % name)
    n = len(arr)
    kind = arr.dtype.kind
    if isinstance(arr, np.ma.MaskedArray):  # pragma: no cover - asarray drops masks
        arr = arr.data
    if kind in "iu":
        arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("="), copy=False))
        fmt = {v: k for k, v in _FIXED.items()}[arr.dtype.str[1:] if arr.dtype.itemsize > 1
                                                 else arr.dtype.kind + "1"]
        return _spec(name, fmt, n, valid, (arr,))
    if kind == "f":
        if arr.dtype.itemsize not in (2, 4, 8):
            arr = arr.astype(np.float64)
        arr = np.ascontiguousarray(arr.astype(arr.dtype.newbyteorder("="), copy=False))
        nan = np.isnan(arr)
        if nan.any():
            valid = ~nan if valid is None else (valid & ~nan)
        fmt = {2: "e", 4: "f", 8: "g"}[arr.dtype.itemsize]
        return _spec(name, fmt, n, valid, (arr,))
    if kind == "b":
        return _spec(name, "b", n, valid, (_bitmap(arr.astype(bool)),))
    if kind == "M":
        unit = np.datetime_data(arr.dtype)[0]
        nat = np.isnat(arr)
        if nat.any():
            valid = ~nat if valid is None else (valid & ~nat)
        if unit == "D":
            return _spec(name, "tdD", n, valid, (arr.astype(np.int64).astype(np.int32),))
        if unit not in _UNIT_CODE:
            arr, unit = arr.astype("M8[s]"), "s"
        ints = np.ascontiguousarray(arr).view(np.int64)
        return _spec(name, "ts%s:%s" % (_UNIT_CODE[unit], tz or ""), n, valid, (ints,))
    if kind == "m":
        unit = np.datetime_data(arr.dtype)[0]
        nat = np.isnat(arr)
        if nat.any():
            valid = ~nat if valid is None else (valid & ~nat)
        if unit not in _UNIT_CODE:
            arr, unit = arr.astype("m8[s]"), "s"
        return _spec(name, "tD%s" % _UNIT_CODE[unit], n, valid,
                     (np.ascontiguousarray(arr).view(np.int64),))
    if kind in "US":
        return _object_spec(name, arr.astype(object))
    if kind == "O":
        if valid is not None:
            arr = arr.copy()
            arr[~valid] = None
        return _object_spec(name, arr)
    raise InvalidError("column %r: numpy dtype %s is not supported" % (name, arr.dtype))


def _series_spec(name, s):
    import pandas as pd
    from pandas.api import types as pdt
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        valid = ~s.isna().to_numpy()
        utc = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return _numpy_spec(name, utc, None if valid.all() else valid, tz=str(dtype.tz))
    if isinstance(dtype, pd.CategoricalDtype):
        return _object_spec(name, s.astype(object).to_numpy())
    if pdt.is_extension_array_dtype(dtype):
        valid = ~s.isna().to_numpy(dtype=bool)
        kind = getattr(dtype, "kind", "O")
        if kind in "iufb" and hasattr(dtype, "numpy_dtype"):
            fill = False if kind == "b" else 0
            arr = s.to_numpy(dtype=dtype.numpy_dtype, na_value=fill)
            return _numpy_spec(name, arr, None if valid.all() else valid)
        return _object_spec(name, s.astype(object).to_numpy())
    return _numpy_spec(name, s.to_numpy(copy=False))


def _to_pandas_column(values, valid, fmt):
    import pandas as pd
    kind = values.dtype.kind
    if fmt.startswith("ts") and fmt[4:]:
        s = pd.Series(_with_nulls(values, valid).astype("M8[ns]"))
        return s.dt.tz_localize("UTC").dt.tz_convert(fmt[4:]).array
    if fmt == "tdD":
        # Dates come back as datetime.date objects, as pandas keeps them.
        out = values.tolist()
        if valid is not None:
            out = [v if ok else None for v, ok in zip(out, valid.tolist())]
        arr = np.empty(len(out), dtype=object)
        arr[:] = out
        return arr
    if valid is None:
        return values
    if kind in "iu":
        return pd.arrays.IntegerArray(np.array(values), ~valid)
    if kind == "b":
        return pd.arrays.BooleanArray(np.array(values), ~valid)
    if kind == "f":
        out = np.array(values)
        out[~valid] = np.nan
        return out
    return _with_nulls(values, valid)


# ---- Table ------------------------------------------------------------------

class Table:
    """An Arrow table (see the module docstring).

    ``Table(data)`` accepts a Table, a pandas DataFrame, a dict of columns or
    any object implementing the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``: pyarrow, polars, DuckDB relations, ...).
    """

    __slots__ = ("_arrays", "_cols", "_segs", "_fields", "__weakref__")

    def __init__(self, data=None):
        if data is None:
            data = {}
        src = Table._coerce(data)
        self._set(src._arrays, src._cols, src._segs)

    # -- construction ---------------------------------------------------------
    def _set(self, arrays, cols, segs):
        self._arrays = arrays
        self._cols = tuple(cols)
        self._segs = tuple(segs)
        self._fields = None

    @classmethod
    def _wrap(cls, arrays, cols=None, segs=None):
        t = cls.__new__(cls)
        if cols is None:
            cols = range(len(arrays.schema_info()[3]))
        if segs is None:
            segs = [(b, 0, n) for b, n in enumerate(arrays.batch_lengths()) if n > 0]
        t._set(arrays, cols, segs)
        return t

    @classmethod
    def _coerce(cls, data):
        if isinstance(data, Table):
            return data
        if hasattr(data, "__arrow_c_stream__"):
            return cls.from_arrow(data)
        if isinstance(data, dict):
            return cls.from_pydict(data)
        try:
            import pandas as pd
            if isinstance(data, pd.DataFrame):
                return cls.from_pandas(data)
        except ImportError:  # pragma: no cover
            pass
        raise InvalidError("cannot make a tarn.Table from %s (give a tarn.Table, a pandas "
                           "DataFrame, a dict of columns or an object with __arrow_c_stream__)"
                           % type(data).__name__)

    @classmethod
    def from_arrow(cls, obj, requested_schema=None):
        """Import any object implementing ``__arrow_c_stream__`` (no copy: the
        batches stay the producer's memory)."""
        capsule = obj.__arrow_c_stream__(requested_schema) if requested_schema is not None \
            else obj.__arrow_c_stream__()
        return cls._wrap(_native.import_stream(capsule))

    @classmethod
    def from_pydict(cls, mapping):
        """Columns from a dict of name -> list / numpy array / pandas Series."""
        specs, length = [], None
        for name, col in mapping.items():
            name = str(name)
            try:
                import pandas as pd
                is_series = isinstance(col, (pd.Series, pd.Index))
            except ImportError:  # pragma: no cover
                is_series = False
            if is_series:
                spec = _series_spec(name, pd.Series(col))
            elif isinstance(col, np.ma.MaskedArray):
                mask = np.ma.getmaskarray(col)
                spec = _numpy_spec(name, np.ma.getdata(col), ~mask if mask.any() else None)
            elif isinstance(col, np.ndarray):
                spec = _numpy_spec(name, col)
            else:
                values = np.empty(len(col), dtype=object)
                values[:] = list(col)
                spec = _object_spec(name, values)
            if length is None:
                length = spec[2]
            elif spec[2] != length:
                raise InvalidError("column %r has %d rows, the others %d" % (name, spec[2], length))
            specs.append(spec)
        return cls._wrap(_native.from_columns(length or 0, specs))

    @classmethod
    def from_pandas(cls, df):
        """Columns of a pandas DataFrame (the index is not kept). Numeric
        columns without nulls are viewed, not copied; NaN/None/NaT/pd.NA
        become nulls."""
        specs = [_series_spec(str(name), df[name]) if not isinstance(df[name], type(df))
                 else _raise_dup(name) for name in df.columns]
        return cls._wrap(_native.from_columns(len(df), specs))

    @classmethod
    def from_ipc(cls, buffer):
        """Decode an Arrow IPC stream. The table views BUFFER (bytes,
        bytearray, memoryview, mmap, ...) without copying and keeps it alive;
        malformed input raises tarn.InvalidError."""
        return cls._wrap(_native.decode_ipc(buffer))

    @classmethod
    def _from_fd(cls, fd, trusted=False):
        """Map a sealed memfd holding an IPC stream (read-only, zero-copy).
        TRUSTED: tarn wrote (or already checked) it, so only its structure
        is checked, not every value: for a worker's inputs from the runtime."""
        return cls._wrap(_native.map_fd(fd, bool(trusted)))

    # -- description ----------------------------------------------------------
    @property
    def num_rows(self):
        return sum(s[2] for s in self._segs)

    def __len__(self):
        return self.num_rows

    @property
    def num_columns(self):
        return len(self._cols)

    def _all_fields(self):
        if self._fields is None:
            self._fields = self._arrays.schema_info()[3]
        return self._fields

    @property
    def column_names(self):
        fields = self._all_fields()
        return [fields[c][1] for c in self._cols]

    @property
    def schema(self):
        fields = self._all_fields()
        return Schema(Field(fields[c][1], _type_name(fields[c]), bool(fields[c][2] & 2),
                            fields[c][0]) for c in self._cols)

    def __repr__(self):
        lines = ["tarn.Table: %d rows x %d columns" % (self.num_rows, self.num_columns)]
        lines += ["  %r" % (f,) for f in self.schema]
        return "\n".join(lines)

    def _index(self, name):
        fields = self._all_fields()
        for c in self._cols:
            if fields[c][1] == name:
                return c
        raise NotFoundError("no column %r (columns: %s)" % (name, ", ".join(self.column_names)))

    # -- views ----------------------------------------------------------------
    def select(self, columns):
        """A table with COLUMNS (names, in that order); no data is copied."""
        if isinstance(columns, str):
            columns = [columns]
        return Table._wrap(self._arrays, [self._index(c) for c in columns], self._segs)

    def slice(self, offset=0, length=None):
        """Rows [offset, offset+length); no data is copied."""
        total = self.num_rows
        if offset < 0:
            offset = max(total + offset, 0)
        offset = min(offset, total)
        length = total - offset if length is None else max(0, min(length, total - offset))
        segs, pos = [], 0
        for b, o, n in self._segs:
            lo, hi = max(offset, pos), min(offset + length, pos + n)
            if lo < hi:
                segs.append((b, o + lo - pos, hi - lo))
            pos += n
        return Table._wrap(self._arrays, self._cols, segs)

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.column(key)
        if isinstance(key, slice):
            start, stop, step = key.indices(self.num_rows)
            if step != 1:
                raise InvalidError("tarn.Table slices take no step")
            return self.slice(start, max(stop - start, 0))
        raise TypeError("index a tarn.Table with a column name or a row slice")

    # -- conversion -----------------------------------------------------------
    def _column_parts(self, c):
        sinfo = self._all_fields()[c]
        parts = []
        for b, o, n in self._segs:
            info = self._arrays.column_info(b, c)
            # Fold the segment into the array: rows [o, o+n) of the batch.
            nc = info[4] if (info[4] == 0 or (o == 0 and n == info[2])) else -1
            parts.append((info[0], info[1], n, info[3] + o, nc) + info[5:])
        return sinfo, parts

    def column(self, name):
        """Column NAME as numpy (see the module docstring for which kind)."""
        sinfo, parts = self._column_parts(self._index(name))
        arrays = [_with_nulls(*_values(p, sinfo)) for p in parts]
        if len(arrays) == 1:
            return arrays[0]
        if not arrays:
            try:
                return _values((sinfo[0], sinfo[1], 0, 0, 0, (None, None, None), (), None),
                               sinfo)[0]
            except Exception:
                return np.zeros(0, dtype=object)
        if any(isinstance(a, np.ma.MaskedArray) for a in arrays):
            return np.ma.concatenate(arrays)
        return np.concatenate(arrays)

    def to_pydict(self):
        """{name: list of Python values} (None for nulls)."""
        out = {}
        for c, name in zip(self._cols, self.column_names):
            sinfo, parts = self._column_parts(c)
            vals = []
            for p in parts:
                vals.extend(_pylist(p, sinfo))
            out[name] = vals
        return out

    def to_pylist(self):
        """A list of rows, each a dict name -> Python value (None for nulls)."""
        d = self.to_pydict()
        names = list(d)
        return [dict(zip(names, row)) for row in zip(*d.values())] if names else \
            [{} for _ in range(self.num_rows)]

    def to_pandas(self):
        """A pandas DataFrame (copies; nullable ints/bools become Int64/boolean
        extension arrays, timezone-aware timestamps keep their zone)."""
        import pandas as pd
        data = {}
        for c, name in zip(self._cols, self.column_names):
            sinfo, parts = self._column_parts(c)
            cols = []
            for p in parts:
                values, valid = _values(p, sinfo)
                fmt = sinfo[0] if sinfo[4] is None else sinfo[4][0]
                cols.append(_to_pandas_column(values, valid, fmt))
            if not cols:
                col = pd.Series([], dtype=object)
            elif len(cols) == 1:
                col = cols[0]
            else:
                col = pd.concat([pd.Series(x) for x in cols], ignore_index=True)
            data[name] = pd.Series(col) if not isinstance(col, pd.Series) else col
        return pd.DataFrame(data, index=pd.RangeIndex(self.num_rows)) if data else \
            pd.DataFrame(index=pd.RangeIndex(self.num_rows))

    # -- Arrow interchange ----------------------------------------------------
    def __arrow_c_schema__(self):
        """The schema as an "arrow_schema" PyCapsule."""
        return _native.export_schema(self._arrays, self._cols)

    def __arrow_c_stream__(self, requested_schema=None):
        """The table as an "arrow_array_stream" PyCapsule (zero-copy: the
        batches point into this table's memory and keep it alive). A
        requested schema is not cast to: tarn hands its own types over."""
        return _native.export_stream(self._arrays, self._cols, self._segs)

    def to_ipc(self):
        """The table as one Arrow IPC stream (bytes)."""
        return _native.to_ipc(self._arrays, self._cols, self._segs)

    def _is_whole(self):
        n = len(self._all_fields())
        lengths = self._arrays.batch_lengths()
        return self._cols == tuple(range(n)) and \
            self._segs == tuple((b, 0, m) for b, m in enumerate(lengths) if m > 0)

    def _to_memfd(self, name="tarn-table"):
        """(fd, size) of a sealed memfd holding this table; a table that
        already lives in one hands a duplicate of it over (no copy). The
        caller closes fd."""
        import os
        fd = self._arrays.fd()
        if fd >= 0 and self._is_whole():
            return os.dup(fd), os.fstat(fd).st_size
        return _native.to_memfd(self._arrays, self._cols, self._segs, name)

    def equals(self, other):
        """Same schema and same values (nulls equal nulls)."""
        other = Table._coerce(other)
        return self.schema == other.schema and self.to_pydict() == other.to_pydict()

    def __eq__(self, other):
        if not isinstance(other, Table):
            return NotImplemented
        return self.equals(other)

    __hash__ = None


def _raise_dup(name):
    raise InvalidError("column name %r appears more than once" % (name,))
