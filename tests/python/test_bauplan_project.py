"""A Bauplan client script and project on tarn: `import bauplan` gives
tarn's SDK, commit_body/commit_properties on every write, table creation
plans, detached runs and cancel_job, query(max_rows) computed no further
than asked, scan filters checked as one expression, EXPLAIN, and
standard_expectations on every kind of table."""
import json
import subprocess
import sys
import time

import pytest

import tarn
from tarn import standard_expectations as se

from test_bauplan_client import client  # noqa: F401  (the fixture: a lakehouse with transactions)


def test_import_bauplan_is_tarn(client, tmp_path):
    import bauplan
    assert bauplan.Client is tarn.Client and bauplan.model is tarn.model
    assert bauplan.standard_expectations.expect_column_no_nulls is se.expect_column_no_nulls
    assert issubclass(bauplan.exceptions.TableNotFoundError, tarn.NotFoundError)
    assert bauplan.exceptions.BranchExistsError is tarn.ExistsError
    c = bauplan.Client()  # the lakehouse found from here, as tarn.Client() finds it
    assert [t.name for t in c.get_tables()] == ["transactions"]
    with pytest.raises(bauplan.exceptions.TableNotFoundError):
        c.get_table("nope")
    # a script run by another interpreter imports it the same way
    out = subprocess.run([sys.executable, "-c", "import bauplan; print(bauplan.Client().get_table("
                          "'transactions').records)"], capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == "1000", out.stderr


def test_commit_body_and_properties_on_every_write(client):
    def last():
        return client.get_commits("main", limit=1)[0]

    client.import_data("t", {"id": [1, 2]}, message="load t", commit_body="why", commit_properties={"k": "1"})
    assert (last().message, last().body, last().properties) == ("load t\n\nwhy", "why", {"k": "1"})
    client.create_namespace("sales", commit_body="team", commit_properties={"owner": "ada"})
    assert last().body == "team" and last().properties == {"owner": "ada"}
    client.delete_namespace("sales", commit_properties={"owner": "bob"})
    assert last().properties == {"owner": "bob"}
    client.delete_table("t", commit_body="gone", commit_properties={"ticket": "D-1"})
    assert last().message == "Delete table default.t\n\ngone" and last().properties == {"ticket": "D-1"}
    client.revert_table("t", source_ref="main~1", into_branch="main", commit_properties={"why": "oops"})
    assert last().properties["why"] == "oops" and last().properties["reverted_table"] == "default.t"
    client.create_branch("dev", "main")
    client.import_data("t", {"id": [3]}, branch="dev")
    merged = client.merge_branch("dev", "main", commit_message="merge dev", commit_body="all of it",
                                 commit_properties={"review": "ok"})
    c = last()
    assert not merged.fast_forward and len(c.parent_hashes) == 2  # something to say: a merge commit
    assert (c.message, c.properties) == ("merge dev\n\nall of it", {"review": "ok"})
    head = client.get_branch("main").hash
    with pytest.raises(tarn.InvalidError, match="'source_commit' is one tarn sets"):
        client.revert_table("t", source_ref="main~1", into_branch="main",
                            commit_properties={"source_commit": "x"})
    with pytest.raises(tarn.InvalidError, match="dict of text"):
        client.delete_table("t", commit_properties=["k"])
    assert client.get_branch("main").hash == head


def test_table_creation_plans(client, tmp_path):
    (tmp_path / "a.csv").write_text("id,name,amount\n1,a,1.5\n2,b,2\n")
    (tmp_path / "b.csv").write_text("id,name,amount\n3,c,x\n")
    state = client.plan_table_creation("trips", "a.csv", auto_apply=False)
    assert state.can_auto_apply and state.files_to_be_imported == ["a.csv"]
    assert not client.has_table("trips")  # a plan writes nothing
    import yaml
    plan = yaml.safe_load(state.plan)
    assert plan["schema"] == [{"name": "id", "type": "BIGINT"}, {"name": "name", "type": "VARCHAR"},
                              {"name": "amount", "type": "DOUBLE"}]
    # the plan is the schema tarn gives the table: edit it, apply it, then import
    client.apply_table_creation_plan(state.plan.replace("type: DOUBLE", "type: DECIMAL(10,2)"),
                                     commit_properties={"from": "plan"})
    t = client.get_table("trips")
    assert t.records == 0 and [f.type for f in t.fields] == ["BIGINT", "VARCHAR", "DECIMAL(10,2)"]
    assert client.get_commits(limit=1)[0].properties == {"from": "plan"}
    client.import_data("trips", "a.csv")
    assert client.get_table("trips").records == 2
    # without conflicts plan_table_creation applies at once, as Bauplan's does
    made = client.create_table("made", str(tmp_path / "a.csv"), namespace="raw")
    assert made.fqn == "raw.made" and made.records == 0
    # files that disagree: nothing is made until the plan says which type
    state = client.plan_table_creation("mixed", "*.csv")
    assert not state.can_auto_apply and not client.has_table("mixed")
    assert yaml.safe_load(state.plan)["conflicts"] == [{"name": "amount", "types": ["DOUBLE", "VARCHAR"]}]
    with pytest.raises(tarn.InvalidError, match="disagree"):
        client.create_table("mixed", "*.csv")
    with pytest.raises(tarn.InvalidError, match="column 'amount' has no type in the plan"):
        client.apply_table_creation_plan(state)
    with pytest.raises(tarn.InvalidError, match="is not a type name"):
        client.apply_table_creation_plan(state.plan.replace("type: null", "type: INT); DROP TABLE x; --"))
    with pytest.raises(tarn.InvalidError, match="not valid YAML"):
        client.apply_table_creation_plan("schema: [")
    assert not client.has_table("mixed")
    client.apply_table_creation_plan(state.plan.replace("type: null", "type: VARCHAR"))
    client.import_data("mixed", "*.csv")
    assert client.query("SELECT amount FROM mixed ORDER BY id").to_pydict() == {"amount": ["1.5", "2", "x"]}


def test_query_max_rows_stops_early(client):
    # Computing the whole result would raise at row 1,000,000: a query
    # that stops after 5 rows never gets there.
    sql = ("SELECT CASE WHEN i < 1000000 THEN i ELSE error('computed too far') END AS i "
           "FROM range(100000000) t(i)")
    assert client.query(sql, max_rows=5).to_pydict() == {"i": [0, 1, 2, 3, 4]}
    assert [r["i"] for r in client.query_to_generator(sql, max_rows=3)] == [0, 1, 2]
    with pytest.raises(tarn.InvalidError, match="computed too far"):
        client.query(sql)
    assert client.query("SELECT id FROM transactions ORDER BY id DESC", max_rows=2).to_pydict() == \
        {"id": [1000, 999]}
    assert client.query("SELECT 1 AS x", max_rows=0).num_rows == 0
    with pytest.raises(tarn.InvalidError, match="max_rows"):
        client.query("SELECT 1", max_rows=-3)


def test_scan_filters_are_one_expression(client):
    t = client.scan("transactions", columns=["id", "country"], filters="country = 'IT' AND id < 50", limit=3)
    assert t.column_names == ["id", "country"] and t.num_rows == 3
    assert set(t.column("country").to_pylist()) == {"IT"}
    everything = client.query("SELECT count(*) AS n FROM transactions").column("n").to_pylist()[0]
    for bad in ["country = 'IT') OR (1=1", "1=1; DROP TABLE transactions", "id IN (SELECT 1)",
                "true) UNION ALL SELECT * FROM transactions WHERE (true", "id > $x"]:
        with pytest.raises(tarn.InvalidError):
            r = client.scan("transactions", filters=bad)
            assert r.num_rows < everything  # never all rows through a spliced filter
    assert client.get_table("transactions").records == everything
    # a trailing comment ends where the filter does
    assert client.scan("transactions", filters="id < 3 -- the first ones").num_rows == 2


def test_explain(client):
    plan = client.query("EXPLAIN SELECT country, count(*) FROM transactions GROUP BY 1")
    assert plan.column_names == ["explain_key", "explain_value"]
    assert "HASH_GROUP_BY" in plan.column("explain_value").to_pylist()[0]
    with pytest.raises(tarn.InvalidError):
        client.query("EXPLAIN COPY transactions TO '/tmp/x.csv'")


def _slow_project(tmp_path):
    proj = tmp_path / "slowproj"
    proj.mkdir()
    (proj / "bauplan_project.yml").write_text("project:\n  id: 1\n  name: slow\n")
    (proj / "m.py").write_text(
        "import time\nimport bauplan\n\n"
        "@bauplan.model(materialization_strategy='REPLACE')\n"
        "def slow(data=bauplan.Model('transactions', columns=['id'])):\n"
        "    print('sleeping', flush=True)\n"
        "    time.sleep(600)\n"
        "    return data\n")
    return proj


def test_detached_run_and_cancel_job(client, tmp_path):
    head = client.get_branch("main").hash
    state = client.run(str(_slow_project(tmp_path)), detach=True)
    assert state.job_status == "RUNNING" and state.job_id
    assert client.get_job(state.job_id).status == "RUNNING"
    for _ in range(600):
        if any("sleeping" in str(line) for line in client.get_job_logs(state.job_id)):
            break
        time.sleep(0.1)
    client.cancel_job(state.job_id)
    for _ in range(300):
        job = client.get_job(state.job_id)
        if job.status != "RUNNING":
            break
        time.sleep(0.1)
    assert job.status == "CANCELLED" and [t["outcome"] for t in job.tasks] == ["cancelled"]
    assert client.get_branch("main").hash == head
    with pytest.raises(tarn.InvalidError, match="not running"):
        client.cancel_job(state.job_id)
    with pytest.raises(tarn.NotFoundError):
        client.run(str(tmp_path / "nowhere"), detach=True)


def test_run_a_bauplan_project_with_namespace(client, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "bauplan_project.yml").write_text(
        "project:\n  id: 2\n  name: ns\nparameters:\n  key:\n    type: secret\n")
    (proj / "m.py").write_text(
        "import bauplan\n\n"
        "@bauplan.model(materialization_strategy='REPLACE')\n"
        "def it_only(data=bauplan.Model('transactions', filter=\"country = 'IT'\"),\n"
        "            key=bauplan.Parameter('key')):\n"
        "    assert key == 'Kq9-value'\n"
        "    return data\n")
    state = client.run(str(proj), namespace="dev", parameters={"key": "Kq9-value"})
    assert state.job_status == "SUCCESS", state.error
    assert "Kq9-value" not in json.dumps(state.report)
    assert client.get_table("dev.it_only").records == \
        client.query("SELECT count(*) AS n FROM transactions WHERE country = 'IT'").column("n").to_pylist()[0]
    commit = client.get_commits("main", limit=1)[0]
    assert commit.properties["bpln_job_id"] == state.job_id == commit.properties["job_id"]


class _Stream:
    """A stand-in for a pyarrow table: only the Arrow PyCapsule stream."""

    def __init__(self, table):
        self._t = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._t.__arrow_c_stream__(requested_schema)


def test_standard_expectations_semantics():
    t = tarn.Table.from_pydict({"id": [1, 2, 3, None], "dup": [1, 1, None, None],
                                "cat": ["a", "b", None, "a"], "x": [1.0, 2.0, 3.0, None],
                                "first": ["a", "b", "c", None], "last": ["x", "y", "z", "w"],
                                "full": ["a-x", "b-y", "c-z", "q"], "nothing": [None] * 4})
    import pandas as pd
    for table in (t, _Stream(t), t.to_pandas()):
        assert se.expect_column_some_null(table, "id") and not se.expect_column_no_nulls(table, "id")
        assert se.expect_column_all_unique(table, "id")          # one null: still unique
        assert not se.expect_column_all_unique(table, "dup")     # 1, 1 and two nulls repeat
        assert se.expect_column_not_unique(table, "dup")
        assert se.expect_column_all_null(table, "nothing") and not se.expect_column_all_null(table, "id")
        assert not se.expect_column_accepted_values(table, "cat", ["a", "b"])   # a null is not accepted
        assert se.expect_column_accepted_values(table, "cat", ["a", "b", None])
        assert not se.expect_column_accepted_values(table, "cat", ["a", None])
        assert se.expect_column_mean_greater_than(table, "x", 1.9)              # nulls left out: 2.0
        assert not se.expect_column_mean_greater_than(table, "x", 2.0)
        assert se.expect_column_mean_greater_or_equal_than(table, "x", 2.0)
        assert se.expect_column_mean_smaller_than(table, "x", 2.1)
        assert se.expect_column_mean_smaller_or_equal_than(table, "x", 2.0)
        assert not se.expect_column_mean_greater_than(table, "nothing", -1)     # no values, no mean
        assert se.expect_column_equal_concatenation(table, "full", ["first", "last"], "-")
        assert not se.expect_column_equal_concatenation(table, "full", ["last", "first"], "-")
        with pytest.raises(tarn.InvalidError, match="no column 'nope'"):
            se.expect_column_no_nulls(table, "nope")
    assert isinstance(t.to_pandas(), pd.DataFrame)
    with pytest.raises(tarn.InvalidError, match="takes a table"):
        se.expect_column_no_nulls(42, "id")
