"""tarn.Client.import_data: the CSV options as keyword arguments, strict
reading (a bad line raises InvalidError naming it, and nothing changes),
appends that widen types, and tables without columns refused."""
import os
import subprocess

import pytest

import tarn


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tarn.Client.init(tmp_path)


def rows(client, sql):
    return client.query(sql).to_pylist()


def test_csv_options_as_keywords(client, tmp_path):
    f = tmp_path / "cities.csv"
    f.write_bytes(b"# exported\nzip;city;pop\n02134;Z\xfcrich;NA\n10001;New York;8000000\n")
    r = client.import_data("cities", str(f), skip=1, delimiter=";", null="NA",
                           column_types={"zip": "VARCHAR", "pop": "BIGINT"}, encoding="latin-1",
                           header=True)
    assert r["rows"] == 2
    cols = {c["name"]: c["type"] for c in client.get_table("cities")["columns"]}
    assert cols == {"zip": "VARCHAR", "city": "VARCHAR", "pop": "BIGINT"}
    assert rows(client, "SELECT zip, city, pop FROM cities ORDER BY zip") == [
        {"zip": "02134", "city": "Z\u00fcrich", "pop": None},
        {"zip": "10001", "city": "New York", "pop": 8000000},
    ]
    # header=False: the first line is data, the columns are named for DuckDB
    g = tmp_path / "nums.csv"
    g.write_text("1,2\n3,4\n")
    client.import_data("nums", str(g), header=False)
    assert [c["name"] for c in client.get_table("nums")["columns"]] == ["column0", "column1"]
    assert rows(client, "SELECT count(*) AS n FROM nums") == [{"n": 2}]


def test_bad_lines_raise_and_change_nothing(client, tmp_path):
    f = tmp_path / "extra.csv"
    f.write_text("id,name,amount\n" + "".join("%d,n,%d.5\n" % (i, i) for i in range(1000)) +
                 "1000,x,1.5,extra\n")
    head = client.resolve("main")
    with pytest.raises(tarn.InvalidError) as e:
        client.import_data("t", str(f))
    assert "line 1002 of" in str(e.value) and "expected 3 fields, found 4" in str(e.value)
    assert client.resolve("main") == head
    assert client.get_tables() == []
    with pytest.raises(tarn.InvalidError, match="not a type"):
        client.import_data("t", str(f), column_types={"id": "NOPE"})
    with pytest.raises(tarn.InvalidError, match="header must be True, False or None"):
        client.import_data("t", str(f), header="yes")
    with pytest.raises(tarn.InvalidError, match="delimiter applies to CSV files"):
        client.import_data("t", {"id": [1]}, delimiter=";")


def test_append_widens(client, tmp_path):
    client.import_data("t", {"id": [1], "v": [1.5]})
    f = tmp_path / "more.csv"
    f.write_text("id,v\n2,3\n")
    client.import_data("t", str(f), mode="append")
    client.import_data("t", {"id": [3], "v": [4]}, mode="append")  # int64 into DOUBLE
    assert rows(client, "SELECT sum(v) AS s, count(*) AS n FROM t") == [{"s": 8.5, "n": 3}]
    with pytest.raises(tarn.InvalidError, match="column 'v' is DOUBLE in the table but VARCHAR"):
        client.import_data("t", {"id": [4], "v": ["x"]}, mode="append")


def test_no_columns(client):
    with pytest.raises(tarn.InvalidError, match="the table has no columns"):
        client.import_data("empty", tarn.Table.from_pydict({}))
    assert client.get_tables() == []


def test_commit_message_not_utf8(client, tmp_path):
    """A commit written by the CLI with a Latin-1 byte in its message reads
    back with U+FFFD (before: UnicodeDecodeError out of get_commits)."""
    build = os.environ.get("TARN_BUILD")
    if not build:
        pytest.skip("TARN_BUILD names the build with the tarn command")
    f = tmp_path / "a.csv"
    f.write_text("id\n1\n")
    subprocess.run([os.path.join(build, "tarn"), "table", "import", "t", "--from", str(f),
                    "-m", b"from caf\xe9"], check=True, cwd=tmp_path, capture_output=True)
    assert client.get_commits(limit=1)[0]["message"] == "from caf\ufffd"
