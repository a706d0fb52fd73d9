"""tarn.Client with the names and semantics of Bauplan's client: a script
written for bauplan.Client runs after replacing `bauplan` with `tarn`.
Asserts results as objects (Branch, Tag, Commit, Table, Namespace, Job,
RunState, InfoState), aware datetimes, filters, if_exists/if_not_exists,
Ref objects accepted as refs, the query_to_* family and scan."""
import datetime as dt
import json
import os

import pytest

import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "quickstart")


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.delenv("TARN_BRANCH", raising=False)
    monkeypatch.setenv("TARN_AUTHOR", "ada")
    monkeypatch.chdir(tmp_path)
    c = tarn.Client.init(tmp_path)
    c.import_data("transactions", os.path.join(EXAMPLE, "data", "transactions.csv"))
    return c


def test_refs_as_objects(client):
    main = client.get_branch("main")
    assert isinstance(main, tarn.Branch) and main.type == "BRANCH" and main.active
    assert main.updated_at.tzinfo is not None
    dev = client.create_branch("dev", from_ref=main)          # a Branch is a ref
    assert dev.hash == main.hash
    assert client.create_branch("dev", from_ref="main", if_not_exists=True).name == "dev"
    with pytest.raises(tarn.ExistsError):
        client.create_branch("dev", from_ref="main")
    assert client.has_branch("dev") and not client.has_branch("nope")
    renamed = client.rename_branch("dev", "alice.dev")
    assert renamed.name == "alice.dev" and not client.has_branch("dev")
    assert client.delete_branch("alice.dev") is True
    assert client.delete_branch("alice.dev", if_exists=True) is False
    with pytest.raises(tarn.NotFoundError):
        client.delete_branch("alice.dev")
    tag = client.create_tag("v1", from_ref="main")
    assert isinstance(tag, tarn.Tag) and tag.type == "TAG" and client.has_tag("v1")
    assert client.get_tag("v1").hash == main.hash
    release = client.rename_tag("v1", "release-1")
    assert release.name == "release-1"
    assert client.delete_tag("v1", if_exists=True) is False
    assert [c.hash for c in client.get_commits(release)] == [c.hash for c in client.get_commits("release-1")]


def test_namespaces_and_tables(client):
    ns = client.create_namespace("sales")
    assert ns.name == "sales" and client.has_namespace("sales")
    assert client.create_namespace("sales", if_not_exists=True) == "sales"
    assert client.get_namespace("sales").name == "sales"
    with pytest.raises(tarn.NotFoundError):
        client.get_namespace("nope")
    client.import_data("orders", {"id": [1, 2]}, namespace="sales")
    t = client.get_table("orders", namespace="sales")
    assert (t.name, t.namespace, t.fqn, t.records) == ("orders", "sales", "sales.orders", 2)
    assert [f.name for f in t.fields] == ["id"] and t["name"] == "sales.orders"
    assert [x.fqn for x in client.get_tables(filter_by_namespace="sales")] == ["sales.orders"]
    assert [x.name for x in client.get_tables(filter_by_name="trans")] == ["transactions"]
    assert client.has_table("sales.orders") and not client.has_table("sales.nope")
    assert client.delete_table("sales.orders") is True
    assert client.delete_table("sales.orders", if_exists=True) is False
    assert client.delete_namespace("sales") is True
    assert client.delete_namespace("sales", if_exists=True) is False


def test_commits_objects_and_filters(client):
    client.import_data("late", {"id": [1], "usd": [1.0]}, message="late row")
    commits = client.get_commits("main")
    c = commits[0]
    assert isinstance(c, tarn.Commit) and c.ref.hash == c.hash and c.message == "late row"
    assert c.author == "ada" and c.author.name == "ada"
    assert c.authored_date.tzinfo is not None
    assert c.parent_hashes == [commits[1].hash]
    assert [x.hash for x in client.get_commits("main", filter_by_message="late")] == [c.hash]
    assert client.get_commits("main", filter_by_author_username="bob") == []
    assert len(client.get_commits("main", limit=2)) == 2
    now = dt.datetime.now(dt.timezone.utc)
    assert client.get_commits("main", filter_by_authored_date_start_at=now + dt.timedelta(hours=1)) == []
    assert len(client.get_commits("main", filter_by_authored_date_end_at=now + dt.timedelta(hours=1))) == len(commits)
    assert [x.hash for x in client.get_commits("main", filter_by_parent_hash=commits[1].hash)] == [c.hash]
    assert client.get_commits(c) and client.get_commits(c)[0].hash == c.hash   # a Commit is a ref


def test_revert_errors(client):
    with pytest.raises(tarn.NotFoundError):
        client.revert_table("typo_table", source_ref="main", into_branch="main")
    client.create_branch("before", from_ref="main")
    client.delete_table("transactions")
    with pytest.raises(tarn.NotFoundError):
        client.revert_table("transactions", source_ref="main", into_branch="main")
    client.import_data("transactions", {"id": [1]})
    with pytest.raises(tarn.ExistsError):
        client.revert_table("transactions", source_ref="before", into_branch="main", replace=False)
    client.revert_table("transactions", source_ref="before", into_branch="main", replace=True)
    assert client.get_table("transactions").records == 1000


def test_queries_to_files_and_scan(client, tmp_path):
    rows = list(client.query_to_generator("SELECT id FROM transactions ORDER BY id", max_rows=3))
    assert rows == [{"id": 1}, {"id": 2}, {"id": 3}]
    p = client.query_to_csv_file(tmp_path / "a.csv", "SELECT id, country FROM transactions ORDER BY id", max_rows=2)
    assert p.read_text().splitlines()[0] == "id,country" and len(p.read_text().splitlines()) == 3
    j = client.query_to_json_file(tmp_path / "a.json", "SELECT id FROM transactions ORDER BY id", max_rows=2)
    assert json.loads(j.read_text()) == [{"id": 1}, {"id": 2}]
    jl = client.query_to_json_file(tmp_path / "a.jsonl", "SELECT id FROM transactions ORDER BY id",
                                   file_format="jsonl", max_rows=2)
    assert [json.loads(x) for x in jl.read_text().splitlines()] == [{"id": 1}, {"id": 2}]
    pq = client.query_to_parquet_file(tmp_path / "a.parquet", "SELECT id FROM transactions")
    client.import_data("copied", str(pq))
    assert client.get_table("copied").records == 1000
    t = client.scan("transactions", columns=["id", "country"], filters="country = 'IT' AND id < 50", limit=5)
    assert t.column_names == ["id", "country"] and t.num_rows <= 5
    assert set(t.column("country").to_pylist()) == {"IT"}


def test_import_glob_and_folder(client, tmp_path):
    d = tmp_path / "drop"
    d.mkdir()
    for i in range(3):
        (d / ("part%d.csv" % i)).write_text("id,v\n%d,x\n%d,y\n" % (2 * i, 2 * i + 1))
    client.import_data("parts", str(d))
    assert client.get_table("parts").records == 6
    client.import_data("parts", str(d / "part*.csv"))           # exists: appended
    assert client.get_table("parts").records == 12
    (d / "other.json").write_text('{"id": 1}')
    with pytest.raises(tarn.InvalidError):
        client.import_data("mixed", str(d))


def test_info_jobs_and_run_options(client):
    info = client.info()
    assert info.user.username == "ada" and info.client_version and info.branch == "main"
    client.import_data("countries", os.path.join(EXAMPLE, "data", "countries.csv"))
    state = client.run(EXAMPLE, ref="main", strict="on", transaction="on", parameters={"min_usd": 100})
    assert state.job_status == "SUCCESS" and state.ok, state.error
    assert set(state.tasks_started) == {"euro_selection", "usd_by_country", "no_negative_usd", "country_report"}
    job = client.get_job(state.job_id)
    assert job.id == state.job_id and job.status == "SUCCESS" and job.finished_at >= job.created_at
    assert [j.id for j in client.get_jobs(filter_by_statuses="SUCCESS")] == [state.job_id]
    assert client.get_jobs(filter_by_statuses=["FAILED"]) == []
    assert [j.id for j in client.get_jobs(filter_by_ids=[job])] == [state.job_id]
    logs = client.get_job_logs(job)
    assert any("euro_selection @ models.py" in e.message for e in logs)
    with pytest.raises(tarn.InvalidError):
        client.run(EXAMPLE, strict="maybe")
    notx = client.run(EXAMPLE, transaction="off", parameters={"min_usd": 100})
    assert notx.job_status == "SUCCESS" and "run_branch" not in notx.report
