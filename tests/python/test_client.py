"""tarn.Client: the lakehouse operations from Python, through libtarn, on a
fresh lakehouse per test. Asserts what the operations leave behind: refs,
row counts, commits, exception types."""
import os

import pandas as pd
import pytest

import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "quickstart")


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tarn.Client.init(tmp_path)


def count(client, table, ref=None):
    return client.query("SELECT count(*) AS n FROM %s" % table, ref=ref).column("n")[0]


def test_branches_tags_and_refs(client):
    head = client.resolve("main")
    dev = client.create_branch("dev", from_ref="main")
    assert dev.name == "dev" and dev.hash == head and dev.type == "BRANCH"
    assert [b["name"] for b in client.get_branches()] == ["dev", "main"]
    with pytest.raises(tarn.ExistsError):
        client.create_branch("dev", from_ref="main")
    with pytest.raises(tarn.InvalidError):
        client.create_branch("bad name")
    with pytest.raises(tarn.NotFoundError):
        client.create_branch("x", from_ref="nope")
    client.create_tag("v1", from_ref="main")
    assert client.get_tags() == [{"name": "v1", "commit": head, "aborted": False}]
    assert [(t.name, t.hash, t.type) for t in client.get_tags()] == [("v1", head, "TAG")]
    client.delete_branch("dev")
    assert [b["name"] for b in client.get_branches()] == ["main"]


def test_import_query_and_history(client, tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("id,usd,country\n1,10.5,IT\n2,20,FR\n3,,DE\n")
    r = client.import_data("transactions", str(csv))
    assert r["rows"] == 3 and len(r["commit"]) == 64
    df = pd.DataFrame({"id": [4, 5], "usd": [1.0, 2.0], "country": ["ES", "IT"]})
    client.import_data("transactions", df, mode="append")
    assert count(client, "transactions") == 5
    assert count(client, "transactions", ref="main~1") == 3
    with pytest.raises(tarn.ExistsError):
        client.import_data("transactions", str(csv), mode="create")
    with pytest.raises(tarn.InvalidError):
        client.import_data("transactions", {"other": [1]}, mode="append")
    t = client.query("SELECT country, sum(usd) AS usd FROM transactions GROUP BY 1 ORDER BY 1")
    assert isinstance(t, tarn.Table)
    assert t.to_pandas()["country"].tolist() == ["DE", "ES", "FR", "IT"]
    info = client.get_table("transactions")
    assert info["row_count"] == 5 and info["file_count"] == 2
    assert [c["name"] for c in info["columns"]] == ["id", "usd", "country"]
    log = client.get_commits(limit=2)
    assert len(log) == 2 and log[0]["parents"] == [log[1]["hash"]]
    with pytest.raises(tarn.NotFoundError):
        client.query("SELECT * FROM transaction")
    with pytest.raises(tarn.InvalidError):
        client.query("SELEC 1")


def test_merge_conflict_and_revert(client):
    client.import_data("t", {"id": [1, 2]})
    client.create_branch("dev", from_ref="main")
    client.import_data("t", {"id": [3]}, branch="dev", mode="append")
    client.import_data("t", {"id": [4]}, mode="append")
    m = client.merge_branch("dev", into_branch="main")
    assert not m["fast_forward"] and count(client, "t") == 4
    client.import_data("t", {"id": [9]}, branch="dev", mode="replace")
    client.import_data("t", {"id": [5]}, mode="append")
    before = client.resolve("main")
    with pytest.raises(tarn.ConflictError) as e:
        client.merge_branch("dev", into_branch="main")
    assert e.value.tables == ["default.t"]
    assert client.resolve("main") == before
    client.revert_table("t", source_ref="main~1", into_branch="main")
    assert count(client, "t") == 4


def test_run_from_python(client):
    client.import_data("transactions", os.path.join(EXAMPLE, "data", "transactions.csv"))
    client.import_data("countries", os.path.join(EXAMPLE, "data", "countries.csv"))
    plan = client.run(EXAMPLE, dry_run=True)
    assert plan.job_status == "PLANNED" and plan.job_id is None
    state = client.run(EXAMPLE, parameters={"min_usd": 100}, preview=3)
    assert state.job_status == "SUCCESS", state.error
    assert [t["name"] for t in state.tasks] == ["euro_selection", "usd_by_country",
                                                "no_negative_usd", "country_report"]
    assert state.expectations == [{"name": "no_negative_usd", "passed": True}]
    assert client.resolve("main") == state.commit
    assert count(client, "usd_by_country") == 3
    assert len(state.previews["country_report"]["rows"]) == 3
    assert client.get_jobs()[0]["id"] == state.job_id
    with pytest.raises(tarn.InvalidError):
        client.run(EXAMPLE, parameters={"nope": 1})


def test_failed_run_reports_and_changes_nothing(client, tmp_path):
    client.import_data("t", {"id": [1, 2, 3]})
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "m.py").write_text(
        "import tarn\n\n"
        "@tarn.model(materialize=True)\n"
        "@tarn.python('3.11')\n"
        "def boom(data=tarn.Model('t')):\n"
        "    raise RuntimeError('nope')\n")
    before = client.resolve("main")
    state = client.run(proj)
    assert state.job_status == "FAILED" and "RuntimeError: nope" in state.error
    assert client.resolve("main") == before
    run_branch = state.report["run_branch"]
    assert client.get_branch(run_branch)["aborted"] is True
    with pytest.raises(tarn.AbortedError):
        client.merge_branch(run_branch, into_branch="main")
