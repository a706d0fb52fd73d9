"""tarn query skips data files by their statistics and answers count(*),
min and max from them: results are identical with and without (TARN_NO_PRUNE=1
gives DuckDB every file), on random data and random filters, with NULLs,
NaN, -0.0, strings longer than Parquet's statistics keep, and struct
fields. The queries run in process, one after another, through the
lakehouse's pool of DuckDB sessions."""
import math
import os
import random

import pytest

import tarn

FILES = 12
ROWS = 40
SEED = int(os.environ.get("TARN_TEST_SEED", "20261130"))


def _lit(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if math.isnan(v):
            return "'nan'::DOUBLE"
        return repr(v) + "::DOUBLE"
    if isinstance(v, int):
        return str(v)
    return "'" + v.replace("'", "''") + "'"


def _word(rnd):
    # short words, and long ones sharing a prefix: Parquet keeps only the
    # start of long strings in its statistics
    if rnd.random() < 0.4:
        return "p" * 70 + rnd.choice("abcxyz") * rnd.randint(1, 5)
    return "".join(rnd.choice("abcdxyz") for _ in range(rnd.randint(0, 4)))


def _row(rnd, base):
    i = base + rnd.randint(0, 30)
    v = rnd.choice([None, float("nan"), -0.0, 0.0, rnd.uniform(-5, 5), float(i)])
    return {
        "id": None if rnd.random() < 0.1 else i,
        "v": v,
        "s": None if rnd.random() < 0.1 else _word(rnd),
        "d": "DATE '2026-01-01' + %d" % (i % 400),
        "dec": "%d.%02d" % (i // 3, i % 100),
        "b": rnd.random() < 0.5,
        "st": (i * 7) % 50,
        "sy": _word(rnd),
    }


def _file_sql(rows):
    vals = []
    for r in rows:
        vals.append("(%s, %s, %s, %s, %s::DECIMAL(10,2), %s, {'x': %d, 'y': %s})" % (
            _lit(r["id"]), _lit(r["v"]), _lit(r["s"]), r["d"], r["dec"], _lit(r["b"]), r["st"],
            _lit(r["sy"])))
    return ("SELECT id::BIGINT AS id, v, s, d, dec, b, st FROM (VALUES %s) AS t(id, v, s, d, dec, b, st)"
            % ", ".join(vals))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("prune")
    old = os.getcwd()
    os.chdir(root)
    os.environ.pop("TARN_HOME", None)
    c = tarn.Client.init(root)
    rnd = random.Random(SEED)
    for f in range(FILES):
        # ids mostly rise from file to file, as appends do; some overlap
        base = f * 25 + rnd.randint(-10, 10)
        path = root / ("f%d.parquet" % f)
        c.query_to_parquet_file(path, _file_sql([_row(rnd, base) for _ in range(ROWS)]))
        c.import_data("t", str(path), mode="create" if f == 0 else "append")
    c.import_data("u", {"k": list(range(0, 300, 7)), "w": ["w%d" % i for i in range(0, 300, 7)]})
    yield c
    os.chdir(old)


def _term(rnd):
    col, kind = rnd.choice([("id", "int"), ("id", "int"), ("v", "float"), ("s", "str"), ("d", "date"),
                            ("dec", "dec"), ("b", "bool"), ("st.x", "int"), ("st.y", "str"),
                            ("t.id", "int")])
    def const():
        if kind == "int":
            return str(rnd.randint(-20, 330))
        if kind == "float":
            return rnd.choice(["0.0", "-0.0", "'nan'::DOUBLE", "%.3f" % rnd.uniform(-6, 300)])
        if kind == "str":
            return _lit(_word(rnd))
        if kind == "date":
            return "DATE '2026-01-01' + %d" % rnd.randint(-5, 410)
        if kind == "dec":
            return "%d.%02d" % (rnd.randint(0, 110), rnd.randint(0, 99))
        return rnd.choice(["TRUE", "FALSE"])
    shape = rnd.random()
    if shape < 0.5:
        op = rnd.choice(["=", "<", "<=", ">", ">=", "<>"])
        return "%s %s %s" % (col, op, const()) if rnd.random() < 0.8 else "%s %s %s" % (const(), op, col)
    if shape < 0.7:
        a, b = const(), const()
        return "%s BETWEEN %s AND %s" % (col, a, b)
    if shape < 0.85:
        return "%s IN (%s)" % (col, ", ".join(const() for _ in range(rnd.randint(1, 4))))
    if shape < 0.93:
        return "(%s > %s OR %s IS NULL)" % (col, const(), col)
    return "%s IS NOT NULL" % col


def _where(rnd):
    return " AND ".join(_term(rnd) for _ in range(rnd.randint(1, 3)))


def _statement(rnd):
    w = _where(rnd)
    shape = rnd.random()
    if shape < 0.3:
        return "SELECT * FROM t WHERE %s ORDER BY ALL" % w
    if shape < 0.55:
        return "SELECT count(*), min(id), max(id), min(s), max(s), max(d), min(dec) FROM t WHERE %s" % w
    if shape < 0.65:
        return "SELECT count(*), min(id), max(s) FROM t"
    if shape < 0.75:
        return ("SELECT t.id, u.w FROM t JOIN u ON t.id = u.k WHERE %s AND u.k < %d ORDER BY ALL"
                % (w, rnd.randint(0, 300)))
    if shape < 0.85:
        return ("SELECT count(*) FROM t WHERE %s UNION ALL SELECT count(*) FROM t WHERE %s"
                % (w, _where(rnd)))
    if shape < 0.93:
        return ("SELECT a.id, b.s FROM t a LEFT JOIN t b ON a.id = b.id + 1 WHERE %s AND %s ORDER BY ALL"
                % (w.replace("t.id", "a.id"), _where(rnd).replace("t.id", "b.id").replace("st.", "b.st.")))
    return "SELECT id FROM t WHERE id IN (SELECT k FROM u WHERE k > %d) AND %s ORDER BY ALL" % (
        rnd.randint(0, 300), w)


def _rows(client, sql):
    t = client.query(sql)
    out = []
    for r in t.to_pylist():
        out.append(tuple("NaN" if isinstance(x, float) and math.isnan(x) else
                         ("-0.0" if isinstance(x, float) and x == 0 and math.copysign(1, x) < 0 else x)
                         for x in r.values()))
    return t.column_names, out


def test_results_identical_with_and_without_pruning(lake, monkeypatch):
    rnd = random.Random(SEED + 1)
    statements = [_statement(rnd) for _ in range(150)]
    for sql in statements:
        monkeypatch.setenv("TARN_NO_PRUNE", "1")
        try:
            want = _rows(lake, sql)
        except tarn.Error as e:
            want = ("error", str(e).split(":")[0])
        monkeypatch.delenv("TARN_NO_PRUNE")
        try:
            got = _rows(lake, sql)
        except tarn.Error as e:
            got = ("error", str(e).split(":")[0])
        assert got == want, sql


def test_pruned_files_are_not_read(lake):
    """A file ruled out is never opened: hidden from the store, statements
    that cannot need it still run; one that may need it fails."""
    import sqlite3
    db = sqlite3.connect(os.path.join(os.getcwd(), ".tarn", "catalog.db"))
    files = [r[0] for r in db.execute(
        "SELECT file FROM version_files WHERE version = (SELECT version FROM version_files "
        "GROUP BY version ORDER BY count(*) DESC LIMIT 1) ORDER BY ord")]
    db.close()
    assert len(files) == FILES
    last = os.path.join(os.getcwd(), ".tarn", "objects", files[-1])  # the highest ids
    os.rename(last, last + ".away")
    try:
        with pytest.raises(tarn.Error):
            lake.query("SELECT count(*) AS n FROM t WHERE id > 0")
        assert lake.query("SELECT count(*) AS n FROM t WHERE id < -100").column("n")[0] == 0
        assert lake.query("SELECT count(*) AS n FROM t WHERE id < 200 AND s <> 'q'").column("n")[0] > 0
        assert lake.query("SELECT count(*) AS n FROM t").column("n")[0] == FILES * ROWS
    finally:
        os.rename(last + ".away", last)
