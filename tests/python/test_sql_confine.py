"""client.query and client.run from Python keep SQL inside the tables it
names: no host file, no other branch's data file; parameters are bound as
values; names compare without regard to case."""
import glob
import os

import pytest

import tarn


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("TARN_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    c = tarn.Client.init(tmp_path)
    c.import_data("t", {"id": [1, 2], "name": ["a", "it's"]})
    return c


def test_query_reads_no_file(client, tmp_path):
    (tmp_path / "host.txt").write_text("host-file-content\n")
    client.create_branch("other", from_ref="main")
    client.import_data("secret", {"x": [42]}, branch="other")
    secret = glob.glob(os.path.join(str(tmp_path), ".tarn", "objects", "data", "default.secret", "*.parquet"))
    assert len(secret) == 1
    for sql in ["SELECT * FROM read_text('%s')" % (tmp_path / "host.txt"),
                "SELECT * FROM read_csv('/etc/passwd')",
                "SELECT * FROM glob('/*')",
                "SELECT * FROM read_parquet('%s')" % secret[0]]:
        with pytest.raises(tarn.InvalidError) as e:
            client.query(sql)
        assert "tarn table import" in str(e.value)
    # the table itself, at its ref, is what SQL reads
    assert client.query("SELECT x FROM secret", ref="other").column("x").tolist() == [42]
    assert client.query("SELECT count(*) AS n FROM T").column("n")[0] == 2
    assert client.query('SELECT count(*) AS n FROM "default".t').column("n")[0] == 2


def test_run_binds_parameters(client, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "tarn_project.toml").write_text('[parameters]\nwho = { type = "str", default = "a" }\n')
    (proj / "m.sql").write_text("-- tarn: materialize=true\n-- it's bound: $who in a comment is no use\n"
                                "SELECT id FROM t WHERE name = $who\n")
    state = client.run(str(proj), parameters={"who": "it's"})
    assert state.job_status.lower() == "success", state.error
    assert client.query("SELECT id FROM m").column("id").tolist() == [2]
