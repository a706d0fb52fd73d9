"""The remote client: tarn.Client(URL, token=...) and every `tarn` command
with TARN_REMOTE / --remote talk to a `tarn serve` on loopback and act on
its lakehouse. Asserts what lands in the served lakehouse (read back
locally), the errors a bad token or an unreachable server give, that an
interrupted remote run is cancelled on the server, that a project's link
leading out of its folder is never uploaded, and HTTPS with the server's
own certificate. (The client suites themselves run a second time through a
server: TARN_TEST_REMOTE=1 in scripts/test.sh.)"""
import json
import os
import pathlib
import shutil
import tempfile
import signal
import subprocess
import time

import pandas as pd
import pytest

import tarn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARN = os.path.join(os.environ.get("TARN_BUILD", os.path.join(ROOT, "build")), "tarn")
EXAMPLE = os.path.join(ROOT, "examples", "quickstart")


def local_env():
    return {k: v for k, v in os.environ.items() if k not in ("TARN_REMOTE", "TARN_TOKEN", "TARN_HOME",
                                                              "TARN_BRANCH")}


def tarn_cli(cwd, *args, env=None, check=True):
    p = subprocess.run([TARN, *args], cwd=cwd, env=env or local_env(), capture_output=True, text=True,
                       timeout=300)
    if check and p.returncode != 0:
        raise AssertionError("tarn %s failed: %s" % (" ".join(args), p.stderr))
    return p


@pytest.fixture
def lake(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for k in ("TARN_REMOTE", "TARN_TOKEN", "TARN_HOME", "TARN_BRANCH"):
        monkeypatch.delenv(k, raising=False)
    path = tmp_path / "lake"
    path.mkdir()
    tarn_cli(path, "init")
    (tmp_path / "t.csv").write_text("id,v\n1,a\n2,b\n3,c\n")
    tarn_cli(path, "table", "import", "t", "--from", str(tmp_path / "t.csv"))
    return path


def remote_env(url, token, tmp_path):
    return dict(local_env(), TARN_REMOTE=url, TARN_TOKEN=token, XDG_STATE_HOME=str(tmp_path / "state"))


def test_remote_client_acts_on_the_served_lakehouse(lake, tarn_server):
    url, token = tarn_server(lake)
    here = tarn.Client(lake)
    there = tarn.Client(url, token=token)
    assert there.path == url and there.info().user.username == here.info().user.username
    there.create_branch("dev", from_ref="main")
    there.import_data("frame", pd.DataFrame({"x": [1, 2, 3], "y": ["p", "q", None]}), branch="dev")
    assert here.has_table("frame", ref="dev") and not here.has_table("frame", ref="main")
    q_here = here.query("SELECT x, y FROM frame ORDER BY x", ref="dev").to_pandas()
    q_there = there.query("SELECT x, y FROM frame ORDER BY x", ref="dev").to_pandas()
    pd.testing.assert_frame_equal(q_here, q_there)
    there.merge_branch("dev", into_branch="main")
    assert here.get_branch("main").hash == there.get_branch("main").hash
    # the active branch is the client's own: checking out through the server
    # leaves the server's HEAD alone
    cli = tarn_cli(lake, "checkout", "dev", env=remote_env(url, token, lake.parent))
    assert "dev" in cli.stdout
    assert open(lake / ".tarn" / "HEAD").read().strip() == "main"
    info = json.loads(tarn_cli(lake, "-O", "json", "info", env=remote_env(url, token, lake.parent)).stdout)
    assert info["branch"] == "dev" and info["remote"] == url


def test_bad_tokens_and_unreachable_servers_say_so(lake, tarn_server, tmp_path):
    url, token = tarn_server(lake)
    with pytest.raises(tarn.DeniedError) as e:
        tarn.Client(url, token="tarn_0000000000000000_" + "0" * 43).get_branches()
    assert "valid token" in str(e.value)
    with pytest.raises(tarn.InvalidError):
        tarn.Client(url, token="")
    p = tarn_cli(tmp_path, "--remote", url, "--token", "nope", "branch", "ls", check=False)
    assert p.returncode == 1 and "valid token" in p.stderr
    # a port nobody listens on (the server's, once it is stopped)
    p = tarn_cli(tmp_path, "--remote", "http://127.0.0.1:9", "--token", token, "branch", "ls", check=False)
    assert p.returncode == 1 and "cannot reach the tarn server at http://127.0.0.1:9" in p.stderr
    p = tarn_cli(tmp_path, "--remote", "ftp://x", "--token", token, "branch", "ls", check=False)
    assert p.returncode == 1 and "is not a server URL" in p.stderr


def test_a_read_token_cannot_write_through_the_cli(lake, tarn_server, tmp_path):
    url, token = tarn_server(lake)
    reader = json.loads(tarn_cli(lake, "-O", "json", "token", "create", "dash", "--read", "*").stdout)["token"]
    env = dict(remote_env(url, reader, tmp_path))
    p = tarn_cli(tmp_path, "branch", "create", "x", env=env, check=False)
    assert p.returncode == 1 and "may not write 'x'" in p.stderr
    assert "x" not in tarn_cli(lake, "branch", "ls").stdout
    assert "3" in tarn_cli(tmp_path, "query", "SELECT count(*) AS n FROM t", env=env).stdout


def test_an_interrupted_remote_run_is_cancelled(lake, tarn_server, tmp_path):
    url, token = tarn_server(lake)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "models.py").write_text(
        "import time\nimport tarn\n\n\n@tarn.model(materialize=True)\n@tarn.python('3.11')\n"
        "def slow(data=tarn.Model('t')):\n    time.sleep(600)\n    return data\n")
    head = tarn_cli(lake, "-O", "json", "commit", "-n", "1").stdout
    # Ctrl-C as a terminal sends it: SIGINT with its default action (a test
    # run in the background inherits SIGINT ignored, which a shell sets).
    run = subprocess.Popen([TARN, "run", "-p", str(proj)], cwd=tmp_path, env=remote_env(url, token, tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    for line in run.stdout:  # the run's progress, live from the server
        seen.append(line)
        if line.startswith("job "):
            break
    assert seen and seen[-1].startswith("job "), "".join(seen)
    job = seen[-1].split()[1]
    time.sleep(2)  # the model is sleeping on the server now
    run.send_signal(signal.SIGINT)
    run.wait(timeout=60)
    deadline = time.time() + 120
    status = None
    while time.time() < deadline:
        jobs = json.loads(tarn_cli(lake, "-O", "json", "job", "ls").stdout)
        status = [j["status"] for j in jobs if j["id"] == job]
        if status and status[0] != "running":
            break
        time.sleep(1)
    assert status == ["cancelled"], status  # stopped through the catalog, as `tarn job stop` stops a job
    assert tarn_cli(lake, "-O", "json", "commit", "-n", "1").stdout == head
    assert "slow" not in tarn_cli(lake, "table", "ls").stdout


def test_links_out_of_the_project_are_not_uploaded(lake, tarn_server, tmp_path):
    url, token = tarn_server(lake)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "m.sql").write_text("SELECT * FROM t\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the server\n")
    os.symlink(secret, proj / "notes.txt")
    p = tarn_cli(tmp_path, "run", "-p", str(proj), env=remote_env(url, token, tmp_path), check=False)
    assert p.returncode == 1 and "'notes.txt' is a link that leads out of the project folder" in p.stderr
    assert "/api/v1/runs" not in open(lake / ".tarn-test-serve.log").read()
    # a link that stays inside the project is sent as the file it names
    os.unlink(proj / "notes.txt")
    os.symlink(proj / "m.sql", proj / "again.sql")
    p = tarn_cli(tmp_path, "-O", "json", "run", "-p", str(proj), env=remote_env(url, token, tmp_path),
                 check=False)
    assert p.returncode == 0, p.stderr
    assert sorted(t["name"] for t in json.loads(p.stdout)["tasks"]) == ["again", "m"]


def test_https_with_the_servers_certificate(lake, tarn_server, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, timeout=120)
    url, token = tarn_server(lake, "--tls-cert", str(cert), "--tls-key", str(key))
    url = url.replace("http://", "https://")
    env = dict(remote_env(url, token, tmp_path))
    p = tarn_cli(tmp_path, "branch", "ls", env=env, check=False)
    assert p.returncode == 1 and "cannot reach" in p.stderr  # an unknown certificate is refused
    env["TARN_CA_BUNDLE"] = str(cert)
    assert "main" in tarn_cli(tmp_path, "branch", "ls", env=env).stdout
    assert "3" in tarn_cli(tmp_path, "query", "SELECT count(*) AS n FROM t", env=env).stdout


def test_runs_on_the_server_borrow_warm_parents(lake, tarn_server, tmp_path, monkeypatch):
    """A run through the server borrows a warm Python parent from the warm
    runtime of the server's tarn and gives it back: the next run reuses that
    very parent (it pays neither the interpreter's start-up nor pandas')."""
    # A short folder: a Unix socket's path holds at most 107 bytes, and with a
    # longer one the runtime refuses (saying so) and runs start their own.
    runtime = pathlib.Path(tempfile.mkdtemp(prefix="tarn-rt-", dir="/tmp"))
    runtime.chmod(0o700)
    monkeypatch.setenv("TARN_RUNTIME_DIR", str(runtime))  # the server's runs and this test's status
    monkeypatch.delenv("TARN_RUNTIME", raising=False)
    url, token = tarn_server(lake)
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "models.py").write_text(
        "import os\nimport tarn\n\n\n@tarn.model(materialize=True)\n@tarn.python('3.11')\n"
        "def pid_seen(data=tarn.Model('t')):\n    return {'pid': [os.getppid()]}\n")
    env = remote_env(url, token, tmp_path)

    def idle_zygotes():
        p = tarn_cli(tmp_path, "-O", "json", "runtime", "status", check=False)
        if p.returncode != 0:
            return []
        return [z["pid"] for z in json.loads(p.stdout)["zygotes"] if z["state"] == "idle"]

    def run_and_wait_idle():
        tarn_cli(tmp_path, "run", "-p", str(proj), env=env)
        deadline = time.time() + 30
        while not idle_zygotes() and time.time() < deadline:
            time.sleep(0.1)
        return idle_zygotes()

    try:
        first = run_and_wait_idle()
        assert len(first) == 1, "the first run on the server left no warm parent in the runtime"
        second = run_and_wait_idle()
        assert second == first, "the second run did not borrow the first run's warm parent"
    finally:
        tarn_cli(tmp_path, "runtime", "stop", check=False)
        shutil.rmtree(runtime, ignore_errors=True)
