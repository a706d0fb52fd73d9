"""A lakehouse on S3 from Python: Client.init(path, storage="s3://..."),
import_data from a path and from s3:// globs, queries through a cold and a
warm cache, a pipeline run whose output goes to the bucket, gc (by the
command); refusals of a prefix that already holds data. Against s3rver (npm, pinned by
scripts/setup.sh), started here on a free loopback port."""
import os
import re
import subprocess
import time
import urllib.request
import uuid

import pytest

import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S3RVER = os.path.join(ROOT, ".deps", "node", "node_modules", "s3rver", "bin", "s3rver.js")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    if not os.path.exists(S3RVER):
        pytest.fail("s3rver is missing: run scripts/setup.sh")
    data = tmp_path_factory.mktemp("s3rver")
    log = open(data / "log", "w+")
    proc = subprocess.Popen(["node", "--openssl-legacy-provider", S3RVER, "-d", str(data / "d"), "-a", "127.0.0.1", "-p", "0",
                             "--configure-bucket", "lake", "--configure-bucket", "source"],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = None
    for _ in range(100):
        log.seek(0)
        m = re.search(r"listening on (127\.0\.0\.1:\d+)", log.read())
        if m:
            endpoint = "http://" + m.group(1)
            break
        time.sleep(0.1)
    if not endpoint:
        proc.kill()
        pytest.fail("s3rver did not start")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "XDG_CACHE_HOME")}
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "S3RVER"
    os.environ["XDG_CACHE_HOME"] = str(data / "cache")
    yield endpoint, data
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    proc.terminate()
    proc.wait(10)
    log.close()


def put(endpoint, bucket, key, payload):
    req = urllib.request.Request(f"{endpoint}/{bucket}/{key}", data=payload, method="PUT")
    urllib.request.urlopen(req).read()


def bucket_keys(data, bucket, prefix):
    root = data / "d" / bucket
    return sorted(str(p.relative_to(root))[:-len("._S3rver_object")]
                  for p in root.rglob("*._S3rver_object") if str(p.relative_to(root)).startswith(prefix))


def test_lakehouse_on_s3(s3, tmp_path):
    endpoint, data = s3
    prefix = "py-" + uuid.uuid4().hex[:8]
    client = tarn.Client.init(tmp_path / "lake", storage=f"s3://lake/{prefix}", endpoint=endpoint)
    config = (tmp_path / "lake" / ".tarn" / "config").read_text()
    assert f"storage = s3://lake/{prefix}" in config and "S3RVER" not in config
    csv = tmp_path / "t.csv"
    csv.write_text("id,v\n1,a\n2,b\n3,c\n")
    assert client.import_data("t", str(csv))["rows"] == 3
    keys = bucket_keys(data, "lake", prefix + "/data/")
    assert len(keys) == 1 and keys[0].endswith(".parquet")
    assert client.query("SELECT sum(id) AS s FROM t").to_pylist() == [{"s": 6}]

    # a cold cache: the data comes back from the bucket
    for p in (data / "cache").rglob("*.parquet"):
        p.unlink()
    # (a sum, not count(*), which the catalog's statistics answer without the file)
    assert client.query("SELECT sum(id) AS n FROM t").to_pylist() == [{"n": 6}]
    assert any((data / "cache").rglob("*.parquet"))

    # S3 sources, by glob
    for i in range(3):
        put(endpoint, "source", f"drop/part-{i}.csv", f"id,v\n{10 + i},x\n".encode())
    put(endpoint, "source", "drop/readme.txt", b"not data")
    assert client.import_data("more", f"s3://source/drop/part-*.csv")["rows"] == 3
    assert client.query("SELECT sum(id) AS s FROM more").to_pylist() == [{"s": 33}]

    # a run's outputs go to the bucket
    qs = os.path.join(ROOT, "examples", "quickstart")
    client.import_data("transactions", os.path.join(qs, "data", "transactions.csv"))
    client.import_data("countries", os.path.join(qs, "data", "countries.csv"))
    n_before = len(bucket_keys(data, "lake", prefix + "/data/"))
    state = client.run(qs, parameters={"min_usd": 0})
    assert state.job_status.upper() == "SUCCESS", state.error
    assert client.query("SELECT count(*) AS n FROM country_report").to_pylist()[0]["n"] > 0
    assert len(bucket_keys(data, "lake", prefix + "/data/default.country_report/")) == 1
    assert len(bucket_keys(data, "lake", prefix + "/data/")) > n_before

    # gc removes from the bucket what no ref reaches any more
    client.create_branch("scratch", from_ref="main")
    client.import_data("t", str(csv), branch="scratch", mode="append")
    before = set(bucket_keys(data, "lake", prefix + "/data/"))
    client.delete_branch("scratch")
    tarn_bin = os.path.join(os.environ.get("TARN_BUILD", os.path.join(ROOT, "build")), "tarn")
    subprocess.run([tarn_bin, "gc", "--grace", "0"], cwd=tmp_path / "lake", check=True,
                   stdout=subprocess.DEVNULL)
    after = set(bucket_keys(data, "lake", prefix + "/data/"))
    assert len(before - after) == 1 and after < before
    assert client.query("SELECT sum(id) AS n FROM t").to_pylist() == [{"n": 6}]


def test_init_refuses_a_prefix_in_use(s3, tmp_path):
    endpoint, _ = s3
    put(endpoint, "lake", "taken/data/x.parquet", b"someone's data")
    with pytest.raises(tarn.ExistsError, match="already holds objects"):
        tarn.Client.init(tmp_path / "lake", storage="s3://lake/taken", endpoint=endpoint)
    assert not (tmp_path / "lake" / ".tarn").exists()
    with pytest.raises(tarn.InvalidError, match="s3://"):
        tarn.Client.init(tmp_path / "lake2", storage="gs://bucket/x")


def test_plans_through_a_server(s3, tmp_path, tarn_server):
    """A plan of s3:// files through a server is made by the server, with
    the lakehouse's credentials; a plan of the caller's own files is made
    where they are; the table a plan describes is created on the server."""
    endpoint, data = s3
    prefix = "plan-" + uuid.uuid4().hex[:8]
    tarn.Client.init(tmp_path / "lake", storage=f"s3://lake/{prefix}", endpoint=endpoint)
    url, token = tarn_server(tmp_path / "lake")
    client = tarn.Client(url, token=token)
    put(endpoint, "source", f"{prefix}/a.csv", b"id,amount\n1,1.5\n")
    put(endpoint, "source", f"{prefix}/b.csv", b"id,amount\n2,x\n")
    state = client.plan_table_creation("remote_plan", f"s3://source/{prefix}/*.csv", auto_apply=False)
    assert state.files_to_be_imported == [f"s3://source/{prefix}/*.csv"]
    assert not state.can_auto_apply and "amount" in state.plan
    client.apply_table_creation_plan(state.plan.replace("type: null", "type: VARCHAR"))
    assert [f.type for f in client.get_table("remote_plan").fields] == ["BIGINT", "VARCHAR"]
    local = tmp_path / "mine.csv"
    local.write_text("k,v\n1,2.5\n")
    state = client.plan_table_creation("mine", str(local), auto_apply=False)
    assert state.files_to_be_imported == [str(local)] and state.can_auto_apply
    assert not client.has_table("mine")
