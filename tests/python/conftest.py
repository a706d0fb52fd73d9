"""pytest setup for tarn's Python SDK: import tarn from the build tree.

Run from the repository root after a build:
    PYTHONPATH=build/python /usr/bin/python3 -m pytest tests/python
(TARN_PYTHONPATH or PYTHONPATH names another build's python/ folder.)"""
import os
import sys

_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_build = os.environ.get("TARN_PYTHONPATH")
if _build:
    sys.path.insert(0, _build)
elif not any(os.path.isdir(os.path.join(p, "tarn")) and
             os.path.exists(os.path.join(p, "tarn", "__init__.py")) for p in sys.path if p):
    sys.path.insert(0, os.path.join(_root, "build", "python"))


# ---- the client tests a second time, through a server ----------------------------
#
# With TARN_TEST_REMOTE=1 (scripts/test.sh runs the client tests so), every
# tarn.Client.init(PATH) of a test makes the lakehouse in PATH as usual,
# serves it with `tarn serve` on a free loopback port (stopped when the
# test ends) and returns tarn.Client("http://127.0.0.1:PORT", token=...):
# the test then runs unchanged against the server. A test that cannot
# apply there is marked @pytest.mark.local_only("why") and reported
# skipped with that reason.
import subprocess
import time

import pytest

REMOTE = os.environ.get("TARN_TEST_REMOTE") == "1"
_TARN = os.path.join(os.environ.get("TARN_BUILD", os.path.join(_root, "build")), "tarn")


def pytest_configure(config):
    config.addinivalue_line("markers", "local_only(why): the test needs the lakehouse's own host")


def pytest_collection_modifyitems(config, items):
    if not REMOTE:
        return
    for item in items:
        mark = item.get_closest_marker("local_only")
        if mark:
            item.add_marker(pytest.mark.skip(reason="through a server: " + (mark.args[0] if mark.args else "")))


def _serve(path, servers, *opts):
    """Serves the lakehouse in PATH (started already: `tarn init`); returns
    (url, token) with an admin token of the tests' user."""
    env = {k: v for k, v in os.environ.items() if k not in ("TARN_REMOTE", "TARN_TOKEN", "TARN_HOME")}
    user = os.environ.get("TARN_AUTHOR") or os.environ.get("USER") or "tests"
    out = subprocess.run([_TARN, "-O", "json", "token", "create", user, "--admin"], cwd=path, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    token = __import__("json").loads(out)["token"]
    port_file = os.path.join(path, ".tarn-test-port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(os.path.join(path, ".tarn-test-serve.log"), "a")
    proc = subprocess.Popen([_TARN, "serve", "--listen", "127.0.0.1:0", "--port-file", port_file, *opts],
                            cwd=path, env=env, stdout=log, stderr=log)
    servers.append(proc)
    deadline = time.time() + 60
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        assert proc.poll() is None, open(log.name).read()
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    return "http://127.0.0.1:%s" % open(port_file).read().strip(), token


def _stop(servers):
    for proc in servers:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def tarn_server():
    """serve(PATH, *serve_options) -> (url, admin_token): a `tarn serve` of
    the lakehouse in PATH, stopped when the test ends."""
    servers = []
    yield lambda path, *opts: _serve(os.fspath(path), servers, *opts)
    _stop(servers)


@pytest.fixture(autouse=True)
def _remote_clients(monkeypatch, tmp_path):
    if not REMOTE:
        yield
        return
    import tarn

    servers = []
    local_init = tarn.Client.init.__func__
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "client-state"))

    def init(cls, path="."):
        local_init(cls, path)
        url, token = _serve(os.fspath(path), servers)
        return cls(url, token=token)

    monkeypatch.setattr(tarn.Client, "init", classmethod(init))
    yield
    _stop(servers)


# ---- a cache folder of the session's own ---------------------------------------
#
# Runs keep their source scans (and S3 data files) in $XDG_CACHE_HOME/tarn:
# the tests keep theirs in a folder of their own rather than the user's.
@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory):
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved
