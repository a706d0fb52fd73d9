"""``tarn.standard_expectations``: the checks data-quality expectations use
most, with Bauplan's names and meanings (``bauplan.standard_expectations``
is this module)::

    @tarn.expectation()
    @tarn.python("3.11")
    def trips_ok(data=tarn.Model("trips", columns=["id", "fare"])):
        return expect_column_no_nulls(data, "id") and expect_column_all_unique(data, "id")

Each takes a table — a ``tarn.Table``, anything with ``__arrow_c_stream__``
(a pyarrow or polars table, without a copy) or a pandas DataFrame — and
returns a bool. Each is one DuckDB query over the table's Arrow memory,
never a loop over rows in Python. A column the table lacks raises
``tarn.InvalidError`` naming the columns it has.

Nulls count as pyarrow counts them: a null is one value for uniqueness,
is accepted only when ``None`` is among the accepted values, is left out
of a mean (a column with no values has no mean: the check is False), and
a row whose concatenation has a null part is not checked.
"""

from .errors import InvalidError
from .table import Table, _q, _sql

__all__ = [
    "expect_column_no_nulls", "expect_column_some_null", "expect_column_all_null",
    "expect_column_all_unique", "expect_column_not_unique", "expect_column_accepted_values",
    "expect_column_mean_greater_than", "expect_column_mean_greater_or_equal_than",
    "expect_column_mean_smaller_than", "expect_column_mean_smaller_or_equal_than",
    "expect_column_equal_concatenation",
]


def _columns(table, names):
    """TABLE as a tarn.Table holding only the columns NAMES (a view)."""
    if not isinstance(table, Table):
        try:
            table = Table._coerce(table)
        except InvalidError:
            raise InvalidError("a standard expectation takes a table (tarn.Table, pyarrow, polars "
                               "or pandas), not %s" % type(table).__name__) from None
    have = table.column_names
    for n in names:
        if n not in have:
            raise InvalidError("the table has no column %r (it has: %s)" % (n, ", ".join(have)))
    return table.select(list(dict.fromkeys(names)))


def _scalar(sql, **tables):
    out = _sql(sql, **tables).to_pylist()
    return next(iter(out[0].values())) if out else None


def _counts(table, column_name):
    """(rows, non-null values, distinct values with null counted as one)."""
    t = _columns(table, [column_name])
    c = _q(column_name)
    row = _sql("SELECT count(*) AS n, count(%s) AS v, count(DISTINCT %s) AS d FROM t" % (c, c),
               t=t).to_pylist()[0]
    return row["n"], row["v"], row["d"] + (1 if row["v"] < row["n"] else 0)


def expect_column_no_nulls(table, column_name):
    """True when COLUMN_NAME holds no null."""
    n, v, _ = _counts(table, column_name)
    return v == n


def expect_column_some_null(table, column_name):
    """True when COLUMN_NAME holds at least one null."""
    n, v, _ = _counts(table, column_name)
    return v < n


def expect_column_all_null(table, column_name):
    """True when every value of COLUMN_NAME is null (an empty table too)."""
    _, v, _ = _counts(table, column_name)
    return v == 0


def expect_column_all_unique(table, column_name):
    """True when no value of COLUMN_NAME repeats (two nulls repeat)."""
    n, _, d = _counts(table, column_name)
    return d == n


def expect_column_not_unique(table, column_name):
    """True when some value of COLUMN_NAME repeats."""
    n, _, d = _counts(table, column_name)
    return d < n


def expect_column_accepted_values(table, column_name, accepted_values):
    """True when every value of COLUMN_NAME is one of ACCEPTED_VALUES (a null
    only when None is one of them)."""
    values = list(accepted_values)
    t = _columns(table, [column_name])
    c = _q(column_name)
    n, v, _ = _counts(t, column_name)
    if v < n and None not in values:
        return False
    wanted = [x for x in values if x is not None]
    if not wanted:
        return v == 0
    try:
        bad = _scalar("SELECT count(*) FROM t WHERE %s IS NOT NULL AND NOT EXISTS "
                      "(SELECT 1 FROM accepted a WHERE a.v = t.%s)" % (c, c),
                      t=t, accepted=Table.from_pydict({"v": wanted}))
    except Exception as e:
        raise InvalidError("expect_column_accepted_values: the values of %r cannot be compared "
                           "with %r: %s" % (column_name, wanted, e)) from None
    return bad == 0


def _mean(table, column_name):
    t = _columns(table, [column_name])
    try:
        return _scalar("SELECT avg(%s) FROM t" % _q(column_name), t=t)
    except Exception as e:
        raise InvalidError("column %r has no mean: %s" % (column_name, e)) from None


def _mean_is(table, column_name, value, holds):
    m = _mean(table, column_name)
    return m is not None and holds(m, value)


def expect_column_mean_greater_than(table, column_name, value):
    """True when the mean of COLUMN_NAME (nulls left out) is > VALUE."""
    return _mean_is(table, column_name, value, lambda m, v: m > v)


def expect_column_mean_greater_or_equal_than(table, column_name, value):
    """True when the mean of COLUMN_NAME (nulls left out) is >= VALUE."""
    return _mean_is(table, column_name, value, lambda m, v: m >= v)


def expect_column_mean_smaller_than(table, column_name, value):
    """True when the mean of COLUMN_NAME (nulls left out) is < VALUE."""
    return _mean_is(table, column_name, value, lambda m, v: m < v)


def expect_column_mean_smaller_or_equal_than(table, column_name, value):
    """True when the mean of COLUMN_NAME (nulls left out) is <= VALUE."""
    return _mean_is(table, column_name, value, lambda m, v: m <= v)


def expect_column_equal_concatenation(table, target_column, columns, separator=""):
    """True when, on every row, TARGET_COLUMN equals the values of COLUMNS
    (as text) joined with SEPARATOR."""
    columns = list(columns)
    if not columns:
        raise InvalidError("expect_column_equal_concatenation needs at least one column to join")
    t = _columns(table, [target_column] + columns)
    joined = " || s.sep || ".join("CAST(t.%s AS VARCHAR)" % _q(c) for c in columns)
    ok = _scalar("SELECT bool_and(CAST(t.%s AS VARCHAR) = (%s)) FROM t, s"
                 % (_q(target_column), joined),
                 t=t, s=Table.from_pydict({"sep": [str(separator)]}))
    return ok is None or bool(ok)  # no row to check: nothing is wrong
