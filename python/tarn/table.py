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
import uuid as _uuid
from collections import namedtuple

import numpy as np

from . import _native
from .errors import InvalidError, NotFoundError

__all__ = ["Table", "Schema", "Field", "Column", "MonthDayNano", "model_input", "model_output"]

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
_UUID_META = (b"\x01\x00\x00\x00" + len(b"ARROW:extension:name").to_bytes(4, "little") +
              b"ARROW:extension:name" + len(b"arrow.uuid").to_bytes(4, "little") + b"arrow.uuid")


class MonthDayNano(namedtuple("MonthDayNano", "months days nanoseconds")):
    """An Arrow month_day_nano interval (DuckDB's INTERVAL), as pyarrow
    names it: a month has no fixed length, so it is not a timedelta."""


def _metadata(blob):
    """{key: value} of an ArrowSchema metadata blob (bytes or None)."""
    out = {}
    if not blob:
        return out
    n, pos = int.from_bytes(blob[:4], "little"), 4
    for _ in range(n):
        kv = []
        for _ in range(2):
            k = int.from_bytes(blob[pos:pos + 4], "little")
            kv.append(bytes(blob[pos + 4:pos + 4 + k]).decode("utf-8", "replace"))
            pos += 4 + k
        out[kv[0]] = kv[1]
    return out


def _extension(sinfo):
    return _metadata(sinfo[5]).get("ARROW:extension:name")


def _hugeint(sinfo):
    """"hugeint" or "uhugeint" for DuckDB's opaque 128-bit integers, else None."""
    meta = _metadata(sinfo[5]).get("ARROW:extension:metadata", "")
    for name in ("uhugeint", "hugeint"):
        if '"type_name":"%s"' % name in meta.replace(" ", ""):
            return name
    return None


def _sub(k, length, offset):
    """The info of child K seen as rows [offset, offset+length) of itself."""
    return (k[0], k[1], length, k[3] + offset, -1 if k[4] else 0, k[5], k[6], k[7])


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
    if fmt == "w:16" and _hugeint(sinfo):
        return _hugeint(sinfo)
    if fmt == "w:16" and _extension(sinfo) == "arrow.uuid":
        return "uuid"
    if fmt.startswith("w:"):
        return "fixed_size_binary[%s]" % fmt[2:]
    if fmt == "tin":
        return "month_day_nano_interval"
    if fmt.startswith("+w:"):
        return "fixed_size_list<%s>[%s]" % (_type_name(children[0]), fmt[3:])
    if fmt == "+m":
        kv = children[0][3]
        return "map<%s, %s>" % (_type_name(kv[0]), _type_name(kv[1]))
    if fmt.startswith("+u"):
        return "%s_union<%s>" % ("dense" if fmt[2] == "d" else "sparse",
                                 ", ".join("%s: %s" % (c[1], _type_name(c)) for c in children))
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
    if null_count == 0 or length == 0 or fmt.startswith("+u"):
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
    if fmt == "tin":
        rec = np.frombuffer(bufs[1], dtype=[("m", "<i4"), ("d", "<i4"), ("ns", "<i8")],
                            count=length, offset=offset * 16) if length else []
        ok = [True] * length if valid is None else valid.tolist()
        live = [r for r, v in zip(rec, ok) if v]
        out = np.empty(length, dtype=object)
        # Durations come back as timedelta; an interval with months (no fixed
        # length) as MonthDayNano, for the whole array alike.
        if all(int(r["m"]) == 0 for r in live):
            out[:] = [_dt.timedelta(days=int(r["d"]), microseconds=int(r["ns"]) // 1000)
                      if v else None for r, v in zip(rec, ok)]
        else:
            out[:] = [MonthDayNano(int(r["m"]), int(r["d"]), int(r["ns"])) if v else None
                      for r, v in zip(rec, ok)]
        return out, valid
    if fmt == "tiM":
        return _fixed(info, "i4"), valid
    if fmt == "tiD":
        raw = _fixed(info, "i4").reshape(-1, 2) if length else np.zeros((0, 2), "i4")
        out = np.empty(length, dtype=object)
        out[:] = [(int(a), int(b)) for a, b in raw]
        return out, valid
    if fmt == "w:16" and _hugeint(sinfo):  # DuckDB's HUGEINT / UHUGEINT, exported losslessly
        raw = np.frombuffer(bufs[1], dtype=np.uint8, count=length * 16,
                            offset=offset * 16).tobytes() if length else b""
        out = np.empty(length, dtype=object)
        out[:] = [int.from_bytes(raw[i * 16:(i + 1) * 16], "little",
                                 signed=_hugeint(sinfo) == "hugeint") for i in range(length)]
        return out, valid
    if fmt == "w:16" and _extension(sinfo) == "arrow.uuid":
        raw = np.frombuffer(bufs[1], dtype=np.uint8, count=length * 16,
                            offset=offset * 16).tobytes() if length else b""
        out = np.empty(length, dtype=object)
        out[:] = [_uuid.UUID(bytes=raw[i * 16:(i + 1) * 16]) for i in range(length)]
        return out, valid
    if fmt.startswith("+w:"):
        width = int(fmt[3:])
        child, cs = kids[0], sinfo[3][0]
        items = _pylist(_sub(child, length * width, offset * width), cs) if width else []
        out = np.empty(length, dtype=object)
        out[:] = [items[i * width:(i + 1) * width] for i in range(length)]
        return out, valid
    if fmt.startswith("+u"):
        ids = np.frombuffer(bufs[0], dtype=np.int8, count=length, offset=offset) if length \
            else np.zeros(0, np.int8)
        type_ids = [int(x) for x in fmt[4:].split(",") if x]
        child_of = {t: i for i, t in enumerate(type_ids)}
        out = np.empty(length, dtype=object)
        if fmt[2] == "s":
            cols = [_pylist(_sub(k, length, offset), ks) for k, ks in zip(kids, sinfo[3])]
            out[:] = [cols[child_of[int(t)]][i] for i, t in enumerate(ids)]
        else:
            offs = np.frombuffer(bufs[1], dtype=np.int32, count=length, offset=offset * 4) \
                if length else np.zeros(0, np.int32)
            cols = [_pylist(_sub(k, k[2], 0), ks) for k, ks in zip(kids, sinfo[3])]
            out[:] = [cols[child_of[int(t)]][int(o)] for t, o in zip(ids, offs)]
        return out, None
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
    if fmt in ("+l", "+L", "+m"):
        if length == 0:
            return np.empty(0, dtype=object), valid
        offs = np.frombuffer(bufs[1], dtype="i8" if fmt == "+L" else "i4", count=offset + length + 1)
        child, cs = kids[0], sinfo[3][0]
        start, stop = int(offs[offset]), int(offs[offset + length])
        sub = (child[0], child[1], stop - start, child[3] + start, -1 if child[4] else 0,
               child[5], child[6], child[7])
        items = _pylist(sub, cs)
        if fmt == "+m":  # entries as (key, value) tuples, as pyarrow gives them
            items = [tuple(e.values()) for e in items]
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
    return _pylist_of(values, valid, sinfo[0])


def _pylist_of(values, valid, fmt):
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
    elif values.dtype.kind == "m" and fmt == "tDn":
        import pandas as pd
        out = [None if np.isnat(v) else pd.Timedelta(v) for v in values]
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
    if all(issubclass(k, _uuid.UUID) for k in kinds):
        raw = b"".join(v.bytes if ok else bytes(16) for v, ok in zip(values, _iter_valid(valid, n)))
        return _spec(name, "w:16", n, valid, (raw,)) + (_UUID_META,)
    if all(issubclass(k, MonthDayNano) for k in kinds):
        rec = np.zeros(n, dtype=[("m", "<i4"), ("d", "<i4"), ("ns", "<i8")])
        for i, (v, ok) in enumerate(zip(values, _iter_valid(valid, n))):
            if ok:
                rec[i] = (v.months, v.days, v.nanoseconds)
        return _spec(name, "tin", n, valid, (rec,))
    if all(issubclass(k, _dt.timedelta) for k in kinds):
        us = np.array([v // _dt.timedelta(microseconds=1) if ok else 0
                       for v, ok in zip(values, _iter_valid(valid, n))], dtype=np.int64)
        return _spec(name, "tDu", n, valid, (us,))
    if all(issubclass(k, _dt.time) for k in kinds):
        if any(v.tzinfo is not None for v in present):
            raise InvalidError("column %r: times with a time zone cannot be stored (give "
                               "naive datetime.time values)" % name)
        us = np.array([((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond
                       if ok else 0 for v, ok in zip(values, _iter_valid(valid, n))],
                      dtype=np.int64)
        return _spec(name, "ttu", n, valid, (us,))
    if all(issubclass(k, dict) for k in kinds):
        return _struct_spec(name, values, valid)
    if all(issubclass(k, (list, tuple, np.ndarray)) and not issubclass(k, MonthDayNano)
           for k in kinds):
        return _list_spec(name, values, valid)
    if len({_kind_group(v) for v in present}) < 2:
        raise InvalidError("column %r: cannot store values of type %s in a table"
                           % (name, ", ".join(sorted(k.__name__ for k in kinds))))
    return _union_spec(name, values, valid, kinds)


def _kind_group(v):
    """The Arrow type family a Python value falls in (for unions)."""
    for group, types in (("bool", (bool, np.bool_)), ("int", (int, np.integer)),
                         ("float", (float, np.floating)), ("str", (str,)),
                         ("bytes", (bytes, bytearray, memoryview))):
        if isinstance(v, types):
            return group
    return type(v).__name__


def _union_spec(name, values, valid, kinds):
    """Values of several kinds (say ints and strings): a sparse union with one
    child per kind, as DuckDB's UNION is. A null row is a null of the first
    child."""
    n = len(values)
    ok = _iter_valid(valid, n)
    groups = []
    for v, good in zip(values, ok):
        if good and _kind_group(v) not in groups:
            groups.append(_kind_group(v))
    if len(groups) > 127:
        raise InvalidError("column %r mixes too many kinds of values" % name)
    ids = np.zeros(n, dtype=np.int8)
    children = []
    for t, g in enumerate(groups):
        col = np.empty(n, dtype=object)
        col[:] = [v if good and _kind_group(v) == g else None for v, good in zip(values, ok)]
        ids[[i for i, (v, good) in enumerate(zip(values, ok)) if good and _kind_group(v) == g]] = t
        try:
            children.append(_object_spec(g, col))
        except InvalidError as e:
            raise InvalidError("column %r: cannot store values of types %s in a table (%s)"
                               % (name, ", ".join(sorted(k.__name__ for k in kinds)), e))
    fmt = "+us:" + ",".join(str(t) for t in range(len(groups)))
    return (name, fmt, n, 0, (ids,), tuple(children), None)


def _struct_spec(name, values, valid):
    n = len(values)
    ok = _iter_valid(valid, n)
    keys = []
    for v, good in zip(values, ok):
        if good:
            keys.extend(k for k in v if k not in keys)
    children = []
    for k in keys:
        col = np.empty(n, dtype=object)
        col[:] = [v.get(k) if good else None for v, good in zip(values, ok)]
        children.append(_object_spec(str(k), col))
    return _spec(name, "+s", n, valid, (), tuple(children))


def _list_spec(name, values, valid):
    """Lists (or tuples, numpy arrays) of values: an Arrow list; lists of
    (key, value) tuples: a map, as to_pylist gives maps back."""
    n = len(values)
    ok = _iter_valid(valid, n)
    lens = np.array([len(v) if good else 0 for v, good in zip(values, ok)], dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if offsets[-1] > _INT32_MAX:
        raise InvalidError("column %r: more than 2**31 list items" % name)
    offsets = offsets.astype(np.int32)
    items = [x for v, good in zip(values, ok) if good for x in v]
    live = [v for v, good in zip(values, ok) if good]
    if items and all(isinstance(v, np.ndarray) and v.ndim == 1 for v in live):
        child = _numpy_spec("item", np.concatenate(live))  # embeddings: one copy, no loop
    elif items and all(type(x) is tuple and len(x) == 2 for x in items):
        keys = np.empty(len(items), dtype=object)
        keys[:] = [x[0] for x in items]
        vals = np.empty(len(items), dtype=object)
        vals[:] = [x[1] for x in items]
        key = _object_spec("key", keys)
        if key[3]:
            raise InvalidError("column %r: a map key is null" % name)
        entries = _spec("entries", "+s", len(items), None, (), (key, _object_spec("value", vals)))
        return _spec(name, "+m", n, valid, (offsets,), (entries,))
    else:
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        child = _object_spec("item", arr)
    return _spec(name, "+l", n, valid, (offsets,), (child,))


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
    if arr.ndim == 2 and arr.dtype.kind in "iufb":
        # a matrix: one fixed-size list (embedding) per row, viewed not copied
        child = _numpy_spec("item", np.ascontiguousarray(arr).reshape(-1))
        return _spec(name, "+w:%d" % arr.shape[1], arr.shape[0], valid, (), (child,))
    if arr.ndim != 1:
        raise InvalidError("column %r must be one-dimensional (or a 2-d array of numbers)" % name)
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
    if fmt == "tin" and all(v is None or isinstance(v, _dt.timedelta) for v in values):
        return pd.to_timedelta(pd.Series(values, dtype=object)).array
    if fmt.startswith("tt"):  # times of day stay datetime.time objects, as pyarrow gives them
        out = np.empty(len(values), dtype=object)
        out[:] = _pylist_of(values, valid, fmt)
        return out
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
        if isinstance(data, list):
            return cls.from_pylist(data)
        try:
            import pandas as pd
            if isinstance(data, pd.DataFrame):
                return cls.from_pandas(data)
        except ImportError:  # pragma: no cover
            pass
        raise InvalidError("cannot make a tarn.Table from %s (give a tarn.Table, a pandas "
                           "DataFrame, a dict of columns, a list of dicts or an object with "
                           "__arrow_c_stream__)"
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
    def from_pandas(cls, df, preserve_index=None):
        """Columns of a pandas DataFrame. As pyarrow does, a named index or a
        MultiIndex becomes columns after the others (an unnamed level is
        ``__index_level_N__``) and a default RangeIndex is dropped
        (PRESERVE_INDEX True keeps it, False drops any index). Numeric
        columns without nulls are viewed, not copied; NaN/None/NaT/pd.NA
        become nulls."""
        import pandas as pd
        specs = [_series_spec(str(name), df[name]) if not isinstance(df[name], type(df))
                 else _raise_dup(name) for name in df.columns]
        index = df.index
        default = isinstance(index, pd.RangeIndex) and index.name is None and \
            index.start == 0 and index.step == 1
        if preserve_index or (preserve_index is None and not default):
            taken = {str(c) for c in df.columns}
            for level in range(index.nlevels):
                name = index.names[level]
                name = "__index_level_%d__" % level if name is None else str(name)
                if name in taken:
                    raise InvalidError("the index %r has the name of a column: rename one of "
                                       "them, or reset_index() first" % name)
                taken.add(name)
                specs.append(_series_spec(name, pd.Series(index.get_level_values(level))))
        return cls._wrap(_native.from_columns(len(df), specs))

    @classmethod
    def from_pylist(cls, rows, schema=None):
        """Rows given as dicts (the keys of all rows, in order of first
        appearance, are the columns; a missing key is a null)."""
        names = list(schema.names) if schema is not None else []
        for r in rows:
            if not isinstance(r, dict):
                raise InvalidError("from_pylist takes a list of dicts, not of %s"
                                   % type(r).__name__)
            if schema is None:
                names.extend(k for k in r if k not in names)
        return cls.from_pydict({n: [r.get(n) for r in rows] for n in names}) \
            if names or not rows else cls._wrap(_native.from_columns(len(rows), []))

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
        if isinstance(key, (str, int, np.integer)):
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

    def _numpy(self, c):
        sinfo, parts = self._column_parts(c)
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

    def _position(self, i):
        """The field index of column I (a name or a position)."""
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            if not -self.num_columns <= i < self.num_columns:
                raise IndexError("column %d out of range (%d columns)" % (i, self.num_columns))
            return self._cols[i]
        return self._index(i)

    def column(self, i):
        """Column I (a name or a position) as a numpy array that also speaks
        pyarrow's ChunkedArray (to_pylist, to_numpy, null_count, type): see
        the module docstring for which kind of array."""
        c = self._position(i)
        return Column._make(self._numpy(c), Table._wrap(self._arrays, [c], self._segs))

    @property
    def columns(self):
        """Every column (see column())."""
        return [self.column(i) for i in range(self.num_columns)]

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

    @property
    def shape(self):
        return (self.num_rows, self.num_columns)

    @property
    def nbytes(self):
        """Bytes of Arrow memory these columns and rows use (buffers as the
        Arrow IPC encoding of this view would hold them)."""
        return len(self.to_ipc()) if self.num_columns else 0

    # -- columns ----------------------------------------------------------------
    def drop_columns(self, columns):
        """A table without COLUMNS (a name or a list); no data is copied."""
        if isinstance(columns, str):
            columns = [columns]
        gone = {self._index(c) for c in columns}
        return Table._wrap(self._arrays, [c for c in self._cols if c not in gone], self._segs)

    drop = drop_columns

    def rename_columns(self, names):
        """The same columns under NAMES (a list as long as the columns, or a
        dict old -> new)."""
        if isinstance(names, dict):
            names = [names.get(n, n) for n in self.column_names]
        names = [str(n) for n in names]
        if len(names) != self.num_columns:
            raise InvalidError("rename_columns needs %d names, got %d"
                               % (self.num_columns, len(names)))
        return Table._wrap(_native.rename(self._arrays, self._cols, self._segs, names))

    def _as_column(self, name, data):
        """DATA (a Column, a one-column Table, numpy, a list) as a one-column
        table of this table's length."""
        if isinstance(data, Column) and data._source is not None:
            col = data._source
        elif isinstance(data, Table):
            col = data
        else:
            col = Table.from_pydict({name: data})
        if col.num_columns != 1 or col.num_rows != self.num_rows:
            raise InvalidError("column %r has %d rows, the table %d" % (name, col.num_rows,
                                                                       self.num_rows))
        return col.rename_columns([name])

    def _with_columns(self, parts):
        """A table of the columns in PARTS (one-column tables of one length)."""
        if len({tuple(s[2] for s in p._segs) for p in parts}) > 1:
            parts = [p.combine_chunks() for p in parts]
        return Table._wrap(_native.zip_columns([(p._arrays, p._cols[0], p._segs)
                                                for p in parts]))

    def _split(self):
        return [Table._wrap(self._arrays, [c], self._segs) for c in self._cols]

    def add_column(self, i, name, column):
        """A table with COLUMN inserted at position I."""
        parts = self._split()
        parts.insert(i, self._as_column(str(name), column))
        return self._with_columns(parts)

    def append_column(self, name, column):
        return self.add_column(self.num_columns, name, column)

    def set_column(self, i, name, column):
        """A table with column I replaced by COLUMN named NAME."""
        parts = self._split()
        parts[i] = self._as_column(str(name), column)
        return self._with_columns(parts)

    def remove_column(self, i):
        parts = self._split()
        del parts[i]
        return Table._wrap(self._arrays, [p._cols[0] for p in parts], self._segs)

    def combine_chunks(self):
        """The same rows as one batch (copied once; nested types are rebuilt
        from their values)."""
        if len(self._segs) <= 1:
            return self
        try:
            return Table._wrap(_native.combine(self._arrays, self._cols, self._segs))
        except InvalidError:
            return Table.from_pydict(self.to_pydict()) if self.num_columns else self.slice(0, 0)

    # -- relational operations: SQL that tarn composes, run by DuckDB over the
    # Arrow memory, confined (no file or network access) -------------------------
    def sort_by(self, sorting, null_placement="at_end"):
        """Rows sorted by SORTING: a column name, or a list of (name,
        "ascending" | "descending"). Stable; nulls at_end or at_start."""
        if isinstance(sorting, str):
            sorting = [(sorting, "ascending")]
        if null_placement not in ("at_end", "at_start"):
            raise InvalidError("null_placement must be 'at_end' or 'at_start'")
        keys = []
        for name, order in sorting:
            self._index(name)
            if order not in ("ascending", "descending"):
                raise InvalidError("sort order must be 'ascending' or 'descending', not %r"
                                   % (order,))
            keys.append("%s %s NULLS %s" % (_q(name), "ASC" if order == "ascending" else "DESC",
                                            "LAST" if null_placement == "at_end" else "FIRST"))
        return _sql("SELECT %s FROM (SELECT *, row_number() OVER () AS __tarn_row FROM t) "
                    "ORDER BY %s, __tarn_row" % (_cols_sql(self), ", ".join(keys)), t=self)

    def take(self, indices):
        """Rows at INDICES (positions, in that order, repeats allowed)."""
        idx = np.asarray(indices.to_numpy() if isinstance(indices, Column) else indices,
                         dtype=np.int64).reshape(-1)
        n = self.num_rows
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise IndexError("take: index out of range for %d rows" % n)
        idx = np.where(idx < 0, idx + n, idx)
        k = Table.from_pydict({"i": idx})
        return _sql("SELECT %s FROM (SELECT i, row_number() OVER () AS __tarn_pos FROM k) k "
                    "JOIN (SELECT *, row_number() OVER () - 1 AS __tarn_row FROM t) t "
                    "ON t.__tarn_row = k.i ORDER BY k.__tarn_pos" % _cols_sql(self, "t"),
                    t=self, k=k)

    def filter(self, mask, null_selection_behavior="drop"):
        """Rows where MASK (booleans, one per row) is true; a null in MASK
        drops the row ("emit_null" keeps it as a row of nulls)."""
        m = self._as_column("__tarn_mask", mask.to_pylist() if isinstance(mask, Column) and
                            mask._source is None else mask)
        if m.schema[0].format != "b":
            raise InvalidError("filter takes a boolean mask, not %s" % m.schema[0].type)
        if null_selection_behavior == "drop":
            where = "m.__tarn_mask"
            cols = _cols_sql(self, "t")
        elif null_selection_behavior == "emit_null":
            where = "m.__tarn_mask IS NOT FALSE"
            cols = ", ".join("CASE WHEN m.__tarn_mask IS NULL THEN NULL ELSE t.%s END AS %s"
                             % (_q(n), _q(n)) for n in self.column_names)
        else:
            raise InvalidError("null_selection_behavior must be 'drop' or 'emit_null'")
        return _sql("SELECT %s FROM t POSITIONAL JOIN m WHERE %s" % (cols, where), t=self, m=m)

    def join(self, right_table, keys, right_keys=None, join_type="left outer", left_suffix=None,
             right_suffix=None, coalesce_keys=True, use_threads=True):
        """pyarrow's Table.join: rows of both tables whose KEYS equal
        RIGHT_KEYS (nulls never match). JOIN_TYPE: "inner", "left outer",
        "right outer", "full outer", "left semi", "right semi", "left anti",
        "right anti". Keys appear once (coalesced); other columns whose names
        clash need LEFT_SUFFIX / RIGHT_SUFFIX. Rows come in the left table's
        order, then the right's."""
        right = Table._coerce(right_table)
        keys = [keys] if isinstance(keys, str) else list(keys)
        rkeys = keys if right_keys is None else \
            ([right_keys] if isinstance(right_keys, str) else list(right_keys))
        if len(keys) != len(rkeys) or not keys:
            raise InvalidError("join needs as many right_keys as keys (at least one)")
        for k in keys:
            self._index(k)
        for k in rkeys:
            right._index(k)
        kinds = {"inner": "JOIN", "left outer": "LEFT JOIN", "right outer": "RIGHT JOIN",
                 "full outer": "FULL JOIN", "left semi": "SEMI JOIN", "left anti": "ANTI JOIN"}
        if join_type in ("right semi", "right anti"):
            return right.join(self, rkeys, keys, "left" + join_type[5:])
        if join_type not in kinds:
            raise InvalidError("join_type must be one of %s" % ", ".join(
                sorted(kinds) + ["right anti", "right semi"]))
        on = " AND ".join("l.%s = r.%s" % (_q(a), _q(b)) for a, b in zip(keys, rkeys))
        order = "l.__tarn_l NULLS LAST"
        if join_type in ("left semi", "left anti"):
            cols = _cols_sql(self, "l")
        else:
            order += ", r.__tarn_r NULLS LAST"
            lother = [n for n in self.column_names if n not in keys]
            rother = [n for n in right.column_names if n not in rkeys or not coalesce_keys]
            out = []
            for n in self.column_names:
                if n in keys and coalesce_keys:
                    rk = rkeys[keys.index(n)]
                    expr = {"right outer": "r.%s" % _q(rk),
                            "full outer": "COALESCE(l.%s, r.%s)" % (_q(n), _q(rk))}.get(
                                join_type, "l.%s" % _q(n))
                    out.append((n, expr))
                else:
                    out.append((n, "l.%s" % _q(n)))
            clash = set(lother + (keys if not coalesce_keys else [])) & set(rother)
            clash |= {n for n in rother if n in keys and coalesce_keys}
            if clash and not (left_suffix or right_suffix):
                raise InvalidError("join: both tables have column(s) %s: give left_suffix or "
                                   "right_suffix" % ", ".join(sorted(clash)))
            out = [((n + (left_suffix or "")) if n in clash else n, e) for n, e in out]
            out += [((n + (right_suffix or "")) if n in clash else n, "r.%s" % _q(n))
                    for n in rother]
            cols = ", ".join("%s AS %s" % (e, _q(n)) for n, e in out)
        return _sql("SELECT %s FROM (SELECT *, row_number() OVER () AS __tarn_l FROM l) l %s "
                    "(SELECT *, row_number() OVER () AS __tarn_r FROM r) r ON %s ORDER BY %s"
                    % (cols, kinds[join_type], on, order), l=self, r=right)

    def group_by(self, keys, use_threads=True):
        """pyarrow's TableGroupBy: ``t.group_by("k").aggregate([("v", "sum")])``
        gives columns v_sum, k (groups in order of first appearance)."""
        return TableGroupBy(self, [keys] if isinstance(keys, str) else list(keys))

    def cast(self, target_schema, safe=True):
        """Columns cast to TARGET_SCHEMA: a Schema, a dict name -> type name or
        a list of (name, type name) pairs, in this table's column order (type
        names as Schema.types gives them: "int32", "float64", "string",
        "timestamp[us, tz=UTC]", "decimal128(10, 2)", ...). A value that does
        not fit is an error."""
        if isinstance(target_schema, Schema):
            pairs = [(f.name, f.type) for f in target_schema]
        elif isinstance(target_schema, dict):
            pairs = list(target_schema.items())
        else:
            pairs = [tuple(p) for p in target_schema]
        if [p[0] for p in pairs] != self.column_names:
            raise InvalidError("cast: the target schema's names %s differ from the table's %s"
                               % ([p[0] for p in pairs], self.column_names))
        cols = ", ".join("CAST(%s AS %s) AS %s" % (_q(n), _duck_type(str(t)), _q(n))
                         for n, t in pairs)
        return _sql("SELECT %s FROM t" % cols, t=self)

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


# ---- columns --------------------------------------------------------------------

class _ColumnMixin:
    """pyarrow's ChunkedArray methods on tarn's numpy columns."""

    _source = None  # the one-column Table this array shows (None for a derived array)

    @classmethod
    def _make(cls, arr, source):
        out = arr.view(MaskedColumn if isinstance(arr, np.ma.MaskedArray) else Column)
        out._source = source
        return out

    def __array_finalize__(self, obj):
        super_fin = getattr(super(), "__array_finalize__", None)
        if super_fin is not None:
            super_fin(obj)
        self._source = None  # a slice or a result: no longer the whole column

    @property
    def type(self):
        return self._source.schema[0].type if self._source is not None else str(self.dtype)

    @property
    def null_count(self):
        if self._source is not None:
            return sum(v is None for v in self._source.to_pydict()[self._source.column_names[0]])
        return sum(v is None for v in self.to_pylist())

    def to_pylist(self):
        """Python values (None for nulls), converted as Table.to_pylist does."""
        if self._source is not None:
            return self._source.to_pydict()[self._source.column_names[0]]
        if isinstance(self, np.ma.MaskedArray):
            return np.ma.MaskedArray.tolist(self)
        out = np.ndarray.tolist(np.asarray(self))
        if self.dtype.kind in "Mm":
            out = [None if np.isnat(v) else x for v, x in zip(np.asarray(self), out)]
        return out

    def to_numpy(self, zero_copy_only=False):
        """A plain numpy array (nulls: NaN for numbers, None for objects)."""
        if isinstance(self, np.ma.MaskedArray):
            if zero_copy_only:
                raise InvalidError("a column with nulls cannot be given without a copy")
            data = np.ma.getdata(self)
            if data.dtype.kind in "iub":
                return np.ma.MaskedArray(data.astype(object), mask=np.ma.getmaskarray(self)) \
                    .filled(None) if data.dtype.kind == "b" else \
                    np.ma.MaskedArray(data.astype(np.float64),
                                      mask=np.ma.getmaskarray(self)).filled(np.nan)
            return np.ma.MaskedArray(data, mask=np.ma.getmaskarray(self)).filled(np.nan)
        return np.asarray(self)

    def length(self):
        return len(self)

    def equals(self, other):
        return self.to_pylist() == (other.to_pylist() if hasattr(other, "to_pylist")
                                    else list(other))


class Column(_ColumnMixin, np.ndarray):
    """A column: a numpy array (a view of the Arrow memory where it can be)
    with pyarrow's ChunkedArray methods: to_pylist, to_numpy, null_count,
    type, length."""


class MaskedColumn(_ColumnMixin, np.ma.MaskedArray):
    """A column of numbers or booleans with nulls (a masked array)."""


# ---- SQL that tarn composes --------------------------------------------------

def _q(name):
    return '"%s"' % str(name).replace('"', '""')


def _cols_sql(t, alias=None):
    pre = alias + "." if alias else ""
    return ", ".join(pre + _q(n) for n in t.column_names) or "*"


def _widen(t):
    """T with float16 columns as float32 (DuckDB has no half float)."""
    if not any(f.format == "e" for f in t.schema):
        return t
    parts = []
    for f, part in zip(t.schema, t._split()):
        if f.format == "e":
            col = t._numpy(part._cols[0])
            arr = np.ma.getdata(col).astype(np.float32)
            mask = np.ma.getmaskarray(col) if isinstance(col, np.ma.MaskedArray) else None
            part = Table.from_pydict({f.name: np.ma.MaskedArray(arr, mask=mask)
                                      if mask is not None and mask.any() else arr})
        parts.append(part)
    return t._with_columns(parts)


def _sql(sql, **tables):
    """The result of SQL over TABLES (name -> Table), in a confined DuckDB."""
    regs = []
    for name, t in tables.items():
        t = _widen(t)
        regs.append((name, t._arrays, t._cols, t._segs))
    out = _native.duckdb_query(sql, regs, True)
    return Table._wrap(out) if out is not None else Table()


_DUCK_TYPES = {"bool": "BOOLEAN", "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER",
               "int64": "BIGINT", "uint8": "UTINYINT", "uint16": "USMALLINT",
               "uint32": "UINTEGER", "uint64": "UBIGINT", "float16": "FLOAT", "float32": "FLOAT",
               "float": "FLOAT", "float64": "DOUBLE", "double": "DOUBLE", "string": "VARCHAR",
               "utf8": "VARCHAR", "large_string": "VARCHAR", "large_utf8": "VARCHAR",
               "binary": "BLOB", "large_binary": "BLOB", "date32": "DATE", "date64": "DATE",
               "time64[us]": "TIME", "time32[ms]": "TIME", "time32[s]": "TIME",
               "timestamp[s]": "TIMESTAMP_S", "timestamp[ms]": "TIMESTAMP_MS",
               "timestamp[us]": "TIMESTAMP", "timestamp[ns]": "TIMESTAMP_NS", "uuid": "UUID",
               "month_day_nano_interval": "INTERVAL", "null": "INTEGER"}


def _duck_type(name):
    import re
    name = name.strip()
    if name in _DUCK_TYPES:
        return _DUCK_TYPES[name]
    m = re.fullmatch(r"decimal(?:128)?\((\d+),\s*(-?\d+)\)", name)
    if m:
        return "DECIMAL(%s, %s)" % m.groups()
    if re.fullmatch(r"timestamp\[\w+, tz=.+\]", name):
        return "TIMESTAMPTZ"
    if name.startswith("duration["):
        return "INTERVAL"
    raise InvalidError("cast: type %r is not one tarn can cast to (use names such as int64, "
                       "float64, string, timestamp[us], decimal128(10, 2))" % name)


_AGGREGATES = {"sum": "sum(%s)", "mean": "avg(%s)", "min": "min(%s)", "max": "max(%s)",
               "count": "count(%s)", "count_distinct": "count(DISTINCT %s)",
               "first": "first(%s ORDER BY __tarn_row)", "last": "last(%s ORDER BY __tarn_row)",
               "list": "list(%s ORDER BY __tarn_row)", "stddev": "stddev_pop(%s)",
               "variance": "var_pop(%s)", "product": "product(%s)", "any": "bool_or(%s)",
               "all": "bool_and(%s)", "approximate_median": "median(%s)",
               "distinct": "list(DISTINCT %s)", "one": "any_value(%s)"}


class TableGroupBy:
    """``Table.group_by(keys)``: call ``aggregate([(column, "sum"), ...])``."""

    def __init__(self, table, keys):
        for k in keys:
            table._index(k)
        self.table, self.keys = table, keys

    def aggregate(self, aggregations):
        """One row per group: columns COLUMN_FUNCTION for each (column,
        function) of AGGREGATIONS, then the keys, as pyarrow names them.
        Functions: %s; ([], "count_all") counts rows."""
        out = []
        for agg in aggregations:
            col, fn = agg[0], agg[1]
            fn = fn[5:] if fn.startswith("hash_") else fn
            if fn == "count_all":
                out.append(("count_all", "count(*)"))
                continue
            if isinstance(col, (list, tuple)):
                if len(col) != 1:
                    raise InvalidError("aggregate takes one column per function")
                col = col[0]
            self.table._index(col)
            if fn not in _AGGREGATES:
                raise InvalidError("unknown aggregate %r (use one of %s)"
                                   % (fn, ", ".join(sorted(_AGGREGATES) + ["count_all"])))
            expr = _AGGREGATES[fn] % _q(col)
            if fn in ("sum", "product") and self.table.schema.field(col).format in "cCsSiIlL":
                expr = "CAST(%s AS BIGINT)" % expr  # int64, as pyarrow sums integers
            out.append(("%s_%s" % (col, fn), expr))
        cols = [("%s AS %s" % (e, _q(n))) for n, e in out] + [_q(k) for k in self.keys]
        group = ", ".join(_q(k) for k in self.keys)
        return _sql("SELECT %s FROM (SELECT *, row_number() OVER () AS __tarn_row FROM t) "
                    "%s ORDER BY %s" % (", ".join(cols), "GROUP BY " + group if group else "",
                                        "min(__tarn_row)" if group else "1"), t=self.table)

    aggregate.__doc__ = aggregate.__doc__ % ", ".join(sorted(_AGGREGATES))


# ---- models: what a model is given, what it may return -------------------------

FORMATS = ("pyarrow", "polars", "tarn")


def _importable(module):
    import importlib.util
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def model_input(table, fmt=None):
    """TABLE as the model asked for it (tarn.Model(..., format=FMT)):
    "pyarrow" -> pyarrow.table(table), "polars" -> polars.from_arrow(table),
    both zero-copy through the Arrow PyCapsule stream; "tarn" -> the
    tarn.Table itself. None: pyarrow when the model's environment has it,
    else tarn."""
    if fmt is None:
        fmt = "pyarrow" if _importable("pyarrow") else "tarn"
    if fmt == "tarn":
        return table
    if fmt not in FORMATS:
        raise InvalidError("unknown input format %r (use one of %s)" % (fmt, ", ".join(FORMATS)))
    if not _importable(fmt):
        raise InvalidError("this input asks for format=%r but %s is not installed in the model's "
                           "environment: pin it with @tarn.python(..., pip={%r: VERSION}) or use "
                           "format='tarn'" % (fmt, fmt, fmt))
    import importlib
    lib = importlib.import_module(fmt)
    return lib.table(table) if fmt == "pyarrow" else lib.from_arrow(table)


def model_output(obj):
    """What a model returned as a tarn.Table: a tarn.Table, a pandas
    DataFrame (a named index or MultiIndex becomes columns), a dict of
    columns, a list of dicts, or any object with __arrow_c_stream__
    (pyarrow, polars, DuckDB). float16 columns are widened to float32 here:
    DuckDB, which writes the table, has no half float."""
    return _widen(Table._coerce(obj))
