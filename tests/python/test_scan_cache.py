"""The scan cache never changes a result: on random data, a model's input is
exactly what its scan asks for (columns, rows) whether the scan was served
from a kept result (exact, a subset of its columns or an implied filter,
an append-only newer version) or read from the files; a rewrite of the
table is never served from what was kept, a filter whose value may change
between calls is never kept, cache="off" bypasses it, and the run's state
and the job record say how every scan was served."""
import os
import random

import pytest

import tarn

SEED = int(os.environ.get("TARN_TEST_SEED", "20261130"))
STEPS = int(os.environ.get("TARN_TEST_SCAN_STEPS", "6"))

# cache_strategy="NONE": the model runs every time (unchanged, model reuse
# would take its earlier output and scan nothing).
MODEL = """import tarn

@tarn.model(materialize=True, cache_strategy="NONE")
@tarn.python("3.11")
def picked(data=tarn.Model("t", columns=%r, filter=%r)):
    return data
"""


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    c = tarn.Client.init(str(tmp_path / "lake"))
    (tmp_path / "proj").mkdir()
    return c, tmp_path


def _rows(rnd, n, base):
    return {
        "id": [base + i for i in range(n)],
        "v": [None if rnd.random() < 0.15 else round(rnd.uniform(-50, 50), 3) for _ in range(n)],
        "s": [None if rnd.random() < 0.1 else rnd.choice(["a", "b", "c", "dd", "e'e"]) for _ in range(n)],
        "k": [rnd.randint(0, 9) for _ in range(n)],
    }


def _key(row):
    return tuple((k, repr(v)) for k, v in sorted(row.items()))


def _run(c, tmp, columns, flt, **kw):
    (tmp / "proj" / "m.py").write_text(MODEL % (columns, flt))
    state = c.run(str(tmp / "proj"), **kw)
    assert state.job_status == "SUCCESS", state.error
    got = c.query("SELECT * FROM picked").to_pylist()
    cols = "*" if not columns else ", ".join('"%s"' % x for x in columns)
    where = " WHERE %s" % flt if flt else ""
    want = c.query("SELECT %s FROM t%s" % (cols, where)).to_pylist()
    # what the model received: exactly its columns, exactly its rows
    assert sorted(map(_key, got)) == sorted(map(_key, want)), (columns, flt)
    if got:
        assert list(got[0].keys()) == (columns or ["id", "v", "s", "k"])
    assert len(state.scans) == 1, state.scans
    return state.scans[0]


def test_random_scans_give_the_files_results(lake):
    c, tmp = lake
    rnd = random.Random(SEED)
    print("seed", SEED)
    base = 0
    c.import_data("t", _rows(rnd, 60, base))
    base += 60
    terms = ["id > %d" % rnd.randint(5, 40), "v < %d" % rnd.randint(-10, 30), "s IN ('a', 'dd', 'e''e')",
             "k %% 3 = %d" % rnd.randint(0, 2), "s IS NOT NULL", "(v IS NULL OR v > 0)"]
    seen = []
    # each way of serving at least once, then random scans
    seen.append(_run(c, tmp, None, None)["cache"])
    seen.append(_run(c, tmp, ["id", "v"], terms[0])["cache"])
    seen.append(_run(c, tmp, ["id", "v"], terms[0])["cache"])
    c.import_data("t", _rows(rnd, 7, base), mode="append")
    base += 7
    seen.append(_run(c, tmp, ["id", "v"], terms[0])["cache"])
    assert seen == ["miss", "subset", "exact", "append"], seen
    for step in range(STEPS):
        if rnd.random() < 0.3:
            c.import_data("t", _rows(rnd, rnd.randint(1, 9), base), mode="append")
            base += 10
        columns = rnd.choice([None, ["id"], ["id", "v"], ["s", "id", "k"], ["v", "s"]])
        flt = " AND ".join(rnd.sample(terms, rnd.randint(0, 3))) or None
        seen.append(_run(c, tmp, columns, flt)["cache"])
    print("served:", seen)


def test_rewrites_are_never_served_from_the_cache(lake):
    c, tmp = lake
    rnd = random.Random(SEED + 1)
    c.import_data("t", _rows(rnd, 30, 0))
    assert _run(c, tmp, ["id", "s"], "k < 5")["cache"] == "miss"
    assert _run(c, tmp, ["id", "s"], "k < 5")["cache"] == "exact"
    # a replace: other files, nothing kept applies
    c.import_data("t", _rows(rnd, 30, 100), mode="replace")
    assert _run(c, tmp, ["id", "s"], "k < 5")["cache"] == "miss"
    # removed and made again with the same name
    c.delete_table("t")
    c.import_data("t", _rows(rnd, 20, 500))
    assert _run(c, tmp, ["id", "s"], "k < 5")["cache"] == "miss"
    # a filter whose value changes between calls is never kept
    scan = _run(c, tmp, ["id"], "random() < 2")
    assert scan["cache"] == "uncached" and "change" in scan["note"]
    assert _run(c, tmp, ["id"], "random() < 2")["cache"] == "uncached"


def test_cache_off_and_the_job_record(lake):
    c, tmp = lake
    rnd = random.Random(SEED + 2)
    c.import_data("t", _rows(rnd, 40, 0))
    cache = tmp / "cache" / "tarn" / "scans"

    def entries():
        return sorted(p.name for p in cache.rglob("*.arrows")) if cache.exists() else []

    assert _run(c, tmp, ["id", "v"], "v > 0", cache="off")["cache"] == "off"
    assert entries() == []
    assert _run(c, tmp, ["id", "v"], "v > 0")["cache"] == "miss"
    kept = entries()
    assert len(kept) == 1
    assert _run(c, tmp, ["id", "v"], "v > 0", cache="off")["cache"] == "off"
    assert entries() == kept
    (tmp / "proj" / "m.py").write_text(MODEL % (["id", "v"], "v > 0"))
    state = c.run(str(tmp / "proj"))
    assert state.scans[0]["cache"] == "exact"
    job = c.get_job(state.job_id)
    assert [s["cache"] for s in job.scans] == ["exact"]
    assert job.scans[0]["table"] == "default.t" and job.scans[0]["model"] == "picked"
    with pytest.raises(tarn.InvalidError):
        c.run(str(tmp / "proj"), cache="sometimes")
