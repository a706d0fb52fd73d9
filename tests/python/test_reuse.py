"""Model reuse from Python: client.run(..., cache="off"), RunState.reused,
and Bauplan's cache_strategy, on the quickstart example and on a small
project. The same tests run through a server (scripts/test.sh)."""
import os

import pytest

import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "quickstart")


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    c = tarn.Client.init(tmp_path / "lake")
    c.import_data("transactions", os.path.join(EXAMPLE, "data", "transactions.csv"))
    c.import_data("countries", os.path.join(EXAMPLE, "data", "countries.csv"))
    return c


def rows(client, sql):
    return client.query(sql).to_pandas().values.tolist()


def test_quickstart_second_run_reuses(client):
    first = client.run(EXAMPLE, parameters={"min_usd": 100})
    assert first.job_status == "SUCCESS", first.error
    assert first.reused == []
    before = rows(client, "SELECT * FROM country_report ORDER BY country")
    head = client.resolve("main")
    second = client.run(EXAMPLE, parameters={"min_usd": 100})
    assert second.job_status == "SUCCESS", second.error
    # euro_selection is not materialized: not needed once its reader is reused
    assert sorted(second.reused) == ["country_report", "euro_selection", "usd_by_country"]
    assert {t["name"]: t.get("reused_from") for t in second.tasks if t.get("reused")} == {
        "euro_selection": None, "usd_by_country": first.job_id, "country_report": first.job_id}
    assert second.expectations == [{"name": "no_negative_usd", "passed": True}]
    assert client.resolve("main") == head
    assert rows(client, "SELECT * FROM country_report ORDER BY country") == before
    assert sorted(client.get_job(second.job_id).reused) == sorted(second.reused)
    # cache="off": everything runs, and the branch gets a new commit
    third = client.run(EXAMPLE, parameters={"min_usd": 100}, cache="off")
    assert third.job_status == "SUCCESS" and third.reused == []
    assert client.resolve("main") != head
    assert rows(client, "SELECT * FROM country_report ORDER BY country") == before
    # another parameter: every model reads it, directly or not
    fourth = client.run(EXAMPLE, parameters={"min_usd": 1000})
    assert fourth.reused == []
    with pytest.raises(tarn.InvalidError):
        client.run(EXAMPLE, cache="sometimes")


def test_bauplan_cache_strategy_none(client, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "models.py").write_text(
        "import bauplan\n\n"
        "@bauplan.model(materialization_strategy='REPLACE', cache_strategy='NONE')\n"
        "@bauplan.python('3.11')\n"
        "def fresh(data=bauplan.Model('countries', columns=['country'])):\n"
        "    return data\n\n"
        "@bauplan.model(materialization_strategy='REPLACE')\n"
        "@bauplan.python('3.11')\n"
        "def kept(data=bauplan.Model('countries', columns=['country'])):\n"
        "    return data\n")
    (proj / "after_fresh.sql").write_text(
        "-- bauplan: materialization_strategy=REPLACE\nSELECT count(*) AS n FROM fresh\n")
    assert client.run(str(proj)).job_status == "SUCCESS"
    again = client.run(str(proj))
    assert again.job_status == "SUCCESS", again.error
    # NONE runs, and so does what reads it
    assert again.reused == ["kept"]
    assert rows(client, "SELECT n FROM after_fresh") == [[8]]
