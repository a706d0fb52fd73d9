"""The pipeline programming model: decorators and input declarations.

A project is a folder of ``*.py`` and ``*.sql`` files. In Python files,
functions of the shape ``Table(s) -> Table`` are declared with::

    @tarn.model(materialization_strategy="REPLACE")
    @tarn.python("3.11", pip={"pandas": "1.5.3"})
    def usd_by_country(data=tarn.Model("euro_selection", columns=["usd"])):
        ...

The decorators only record metadata on the function (``__tarn__``) and
return it unchanged, so a decorated function is still a plain function:
``tarn run`` discovers them (``tarn.discover``) and calls them in workers.
"""

import inspect
import math
import re

__all__ = ["Model", "Parameter", "model", "python", "expectation", "resources", "registered"]

_MATERIALIZATIONS = ("NONE", "REPLACE", "APPEND")
_registry = []


class Model:
    """An input: a lakehouse table or another model's output.

    ``columns`` and ``filter`` (a SQL boolean expression, may use
    ``$param``) are pushed down into the scan; ``ref`` reads a source table
    from another branch, tag or commit."""

    def __init__(self, name, columns=None, filter=None, ref=None, format=None, connector=None,
                 connector_config_key=None, connector_config_uri=None):
        if not isinstance(name, str) or not name:
            raise TypeError("tarn.Model needs a table or model name")
        if connector is not None or connector_config_key is not None or \
                connector_config_uri is not None:
            raise ValueError("tarn.Model(%r): external connectors (connector=%r) are not supported: "
                             "import the data into a table first" % (name, connector))
        if columns is not None and not isinstance(columns, str) and list(columns) == ["*"]:
            columns = None  # Bauplan's wildcard: every column
        if columns is not None and (
            isinstance(columns, str) or not all(isinstance(c, str) for c in columns)
        ):
            raise TypeError("tarn.Model columns must be a list of column names")
        if filter is not None and not isinstance(filter, str):
            raise TypeError("tarn.Model filter must be a SQL expression string")
        if format not in (None, "pyarrow", "polars", "tarn"):
            raise TypeError("tarn.Model format must be 'pyarrow', 'polars' or 'tarn'")
        self.format = format  # None: pyarrow when the environment has it, else tarn
        self.name = name
        self.columns = list(columns) if columns is not None else None
        self.filter = filter
        self.ref = ref

    def __repr__(self):
        return "tarn.Model(%r, columns=%r, filter=%r, ref=%r)" % (
            self.name, self.columns, self.filter, self.ref)


class Parameter:
    """A run parameter (``--param name=value``), declared with its type and
    default in ``tarn_project.toml``; usable as a default argument and as
    ``$name`` in SQL and filters."""

    def __init__(self, name):
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError("tarn.Parameter needs a parameter name")
        self.name = name

    def __repr__(self):
        return "tarn.Parameter(%r)" % self.name


def _meta(fn):
    if not callable(fn):
        raise TypeError("tarn decorators apply to functions")
    meta = getattr(fn, "__tarn__", None)
    if meta is None:
        meta = {"kind": None, "name": None, "materialization": "NONE", "columns": None,
                "python": None, "pip": {}, "resources": None, "internet_access": False}
        fn.__tarn__ = meta
        _registry.append(fn)
    return meta


_MODEL_KEYWORDS = ("name", "columns", "partitioned_by", "materialization_strategy",
                   "cache_strategy", "internet_access", "overwrite_filter", "materialize")


def _unknown_keywords(what, kwargs, known):
    """A TypeError naming the first unknown keyword, with a did-you-mean."""
    import difflib
    key = sorted(kwargs)[0]
    near = difflib.get_close_matches(key, known, n=1)
    return TypeError("%s got an unknown keyword %r%s (keywords: %s)"
                     % (what, key, " (did you mean %r?)" % near[0] if near else "",
                        ", ".join(known)))


def model(name=None, columns=None, partitioned_by=None, materialization_strategy=None,
          cache_strategy=None, internet_access=False, overwrite_filter=None, materialize=None,
          **kwargs):
    """Declares a model; ``@tarn.model`` and ``@tarn.model()`` are the same.

    ``name`` is the output's name (default: the function's), ``ns.table``
    to put it in a namespace. ``materialization_strategy`` is NONE (the
    output stays in memory), REPLACE or APPEND; ``materialize=True`` means
    REPLACE. ``columns`` lists the columns the output must have, exactly
    (``["*"]``: any). ``internet_access=True`` lets it open network
    connections (a model has none otherwise; see docs/models.md).
    ``cache_strategy="NONE"`` makes it run every time, and what reads it
    too (DEFAULT: a run reuses its earlier output when nothing it depends
    on changed; see docs/speed.md). ``partitioned_by`` is accepted for
    Bauplan projects and changes nothing (tarn's tables are not
    partitioned)."""
    if callable(name) and not isinstance(name, str):
        return model()(name)  # @tarn.model without parentheses
    if kwargs:
        raise _unknown_keywords("tarn.model()", kwargs, _MODEL_KEYWORDS)
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError("tarn.model name must be a table name such as 'orders' or 'sales.orders'")
    strategy = materialization_strategy
    if strategy is None:
        strategy = "REPLACE" if materialize else "NONE"
    strategy = str(strategy).upper()
    if strategy == "OVERWRITE_PARTITIONS" or overwrite_filter is not None:
        raise ValueError("materialization_strategy OVERWRITE_PARTITIONS (and overwrite_filter) is "
                         "not supported: tarn's tables are not partitioned; use REPLACE or APPEND")
    if strategy not in _MATERIALIZATIONS:
        raise ValueError("materialization_strategy must be one of %s" % ", ".join(_MATERIALIZATIONS))
    if not isinstance(internet_access, bool) and internet_access is not None:
        raise TypeError("internet_access must be True or False")
    if columns is not None:
        if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
            raise TypeError("tarn.model columns must be a list of column names")
        columns = None if list(columns) == ["*"] else list(columns)
        if columns is not None and len(set(columns)) != len(columns):
            raise ValueError("tarn.model columns names a column twice: %r" % (columns,))
    if partitioned_by is not None and not isinstance(partitioned_by, str) and \
            not all(isinstance(c, str) for c in partitioned_by):
        raise TypeError("partitioned_by must be a column name or a list of them")
    if cache_strategy is not None and str(cache_strategy).upper() not in ("NONE", "DEFAULT"):
        raise ValueError("cache_strategy must be NONE or DEFAULT")

    def wrap(fn):
        meta = _meta(fn)
        meta["kind"] = "model"
        meta["name"] = name or fn.__name__
        meta["materialization"] = strategy
        meta["internet_access"] = bool(internet_access)
        meta["cache_strategy"] = None if cache_strategy is None else str(cache_strategy).upper()
        meta["columns"] = columns
        return fn
    return wrap


def python(version=None, pip=None):
    """The interpreter version and pinned packages a function runs with:
    ``"3.11"`` is any 3.11.x, ``"3.11.2"`` exactly that one; None: the
    project's default (bauplan_project.yml defaults.python.version) or the
    lakehouse's interpreter."""
    if version is not None and (not isinstance(version, str) or
                                not re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", version)):
        raise TypeError("tarn.python needs a version string such as '3.11' or '3.11.2', not %r"
                        % (version,))
    pins = dict(pip or {})

    def wrap(fn):
        meta = _meta(fn)
        meta["python"] = version
        meta["pip"] = {str(k): str(v) for k, v in pins.items()}
        return fn
    return wrap


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _memory_mb(memory):
    """MiB from ``memory``: a number of MiB, or a string with a unit
    ("512M", "1.5GiB", "2GB"; K, M, G, T are powers of 1024)."""
    if isinstance(memory, bool):
        raise TypeError("memory must be a number of MiB or a string such as '2G', not a bool")
    if isinstance(memory, (int, float)):
        mb = float(memory)
    elif isinstance(memory, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kKmMgGtT]?)(?:[iI]?[bB])?\s*", memory)
        if not m:
            raise ValueError("memory=%r: write a size such as '512M', '2G' or 1024 (MiB)" % memory)
        mb = float(m.group(1)) * _UNITS[m.group(2).lower()] / (1 << 20)
    else:
        raise TypeError("memory must be a number of MiB or a string such as '2G'")
    if not math.isfinite(mb) or mb < 16:
        raise ValueError("memory=%r is less than 16 MiB: a Python worker needs more" % (memory,))
    return int(mb)


def resources(cpus=None, memory=None, memory_swap=None, timeout=None):
    """Limits of one function (Bauplan's decorator): ``memory`` (MiB, or a
    size string such as '2G') it may allocate beyond its inputs, ``timeout``
    (seconds) from start to result, ``cpus`` it may run on (a fraction takes
    one). Unset ones come from .tarn/config (run.memory_limit_mb,
    run.timeout_s, run.cpus). ``memory_swap`` is accepted for compatibility
    and has no effect (tarn does not give workers swap of their own)."""
    out = {}
    if memory is not None:
        out["memory_mb"] = _memory_mb(memory)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or \
                not math.isfinite(timeout) or timeout <= 0:
            raise ValueError("timeout=%r: give a positive number of seconds" % (timeout,))
        out["timeout_s"] = float(timeout)
    if cpus is not None:
        if isinstance(cpus, bool) or not isinstance(cpus, (int, float)) or \
                not math.isfinite(cpus) or cpus <= 0:
            raise ValueError("cpus=%r: give a positive number of CPUs" % (cpus,))
        out["cpus"] = float(cpus)
    if memory_swap is not None:
        _memory_mb(memory_swap)  # still checked: a typo should not pass silently

    def wrap(fn):
        _meta(fn)["resources"] = out
        return fn
    return wrap


def expectation(fn=None):
    """Declares an expectation: a function returning a bool about its
    inputs; ``@tarn.expectation`` and ``@tarn.expectation()`` are the same."""
    if fn is not None:
        return expectation()(fn)

    def wrap(fn):
        meta = _meta(fn)
        meta["kind"] = "expectation"
        meta["name"] = meta["name"] or fn.__name__
        return fn
    return wrap


def registered():
    """The decorated functions seen so far, in definition order."""
    return list(_registry)


def describe(fn):
    """The plan-time description of a decorated function (JSON-able)."""
    meta = fn.__tarn__
    inputs, params = [], []
    for pname, p in inspect.signature(fn).parameters.items():
        d = p.default
        if isinstance(d, Model):
            inputs.append({"param": pname, "name": d.name, "columns": d.columns,
                           "filter": d.filter, "ref": d.ref, "format": d.format})
        elif isinstance(d, Parameter):
            params.append({"param": pname, "name": d.name})
        elif p.default is inspect.Parameter.empty:
            raise TypeError("argument '%s' of %s has no tarn.Model or tarn.Parameter default"
                            % (pname, fn.__name__))
    code = inspect.getsourcelines(fn)
    return {
        "name": meta["name"] or fn.__name__,
        "function": fn.__name__,
        "kind": meta["kind"] or "model",
        "materialization": meta["materialization"],
        "python": meta["python"],
        "pip": meta["pip"],
        "resources": meta["resources"],
        "internet_access": meta["internet_access"],
        "cache_strategy": meta.get("cache_strategy"),
        "columns": meta["columns"],
        "line": code[1],
        "source": "".join(code[0]),
        "inputs": inputs,
        "parameters": params,
    }
