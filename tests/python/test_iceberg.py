"""A table of several hundred data files read as Iceberg by a reader no one
here wrote: icebird reads the exported metadata, manifests and every
Parquet file, and each row is compared with `tarn query` at the same ref
(tests/iceberg/compare.mjs); python3-avro reads the manifests. The same
table is then loaded through the REST catalog of a real `tarn serve` and
its files read from the server, row for row."""
import json
import os
import subprocess
import time

import pandas as pd
import pytest
import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARN = os.path.join(os.environ.get("TARN_BUILD", os.path.join(ROOT, "build")), "tarn")
ICE = os.path.join(ROOT, "tests", "iceberg")
FILES = 300


def run(*args, cwd):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert p.returncode == 0, f"{args}: {p.stderr}{p.stdout}"
    return p.stdout


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    base = tmp_path_factory.mktemp("iceberg")
    client = tarn.Client.init(str(base / "lake"))
    for i in range(FILES):
        df = pd.DataFrame({"id": [2 * i, 2 * i + 1], "name": [f"row {2 * i}", None],
                           "amount": [i * 0.5, -i * 1.25], "day": pd.to_datetime(["2024-01-01", "2024-06-30"])})
        client.import_data("many", df, mode="append" if i else "create")
    return base


def test_several_hundred_files_read_row_for_row(many):
    lake = str(many / "lake")
    info = json.loads(run(TARN, "-O", "json", "table", "get", "many", cwd=lake))
    assert info["file_count"] == FILES and info["row_count"] == 2 * FILES
    out = json.loads(run(TARN, "-O", "json", "table", "export-iceberg", "many", "--to", str(many / "out"), cwd=lake))
    assert out["files"] == FILES
    got = json.loads(run("node", os.path.join(ICE, "compare.mjs"), "--tarn", TARN, "--ref", "main", "--table",
                         "default.many", "--metadata", out["metadata_location"], cwd=lake))
    assert got["rows"] == 2 * FILES
    manifests = json.loads(run("/usr/bin/python3", os.path.join(ICE, "check_avro.py"), out["metadata_location"],
                               cwd=lake))
    assert sum(m["files"] for m in manifests["manifests"]) == FILES
    assert len({f["path"] for f in manifests["files"]}) == FILES
    assert manifests["bounds"]["id"] == {"min": 0, "max": 2 * FILES - 1}


def test_several_hundred_files_through_the_rest_catalog(many):
    lake = str(many / "lake")
    token = json.loads(run(TARN, "-O", "json", "token", "create", "reader", "--read", "main", cwd=lake))["token"]
    port_file = str(many / "port")
    server = subprocess.Popen([TARN, "serve", "--listen", "127.0.0.1:0", "--port-file", port_file], cwd=lake,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            assert server.poll() is None and time.time() < deadline, "the server did not start"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{open(port_file).read().strip()}/iceberg"
        got = json.loads(run("node", os.path.join(ICE, "compare.mjs"), "--tarn", TARN, "--ref", "main", "--table",
                             "default.many", "--rest", url, "--warehouse", "main", "--token", token, cwd=lake))
        assert got["rows"] == 2 * FILES
        assert got["metadata_location"].startswith(url + "/files/iceberg/")
        # icebird fetched every data file from the server (and the metadata)
        assert got["fetches"] >= FILES
    finally:
        server.terminate()
        server.wait(timeout=30)
