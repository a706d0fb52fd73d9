"""`tarn serve` against a real server on 127.0.0.1 (a free port), started
and stopped by these tests even when one fails: every route and what the
API's description says about it, every right, protected branches, runs of
uploaded projects, abuse (malformed and huge bodies, slow clients, bad
tokens, path tricks, archives that try to escape), a shortened load test,
and a graceful stop on SIGTERM."""
import http.client
import io
import json
import os
import random
import re
import socket
import statistics
import subprocess
import tarfile
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARN = os.path.join(os.environ.get("TARN_BUILD", os.path.join(ROOT, "build")), "tarn")
OPENAPI = os.path.join(ROOT, "docs", "openapi.yaml")


def tarn(home, *args, check=True):
    env = dict(os.environ, TARN_HOME=home)
    env.pop("TARN_BRANCH", None)
    p = subprocess.run([TARN, *args], cwd=home, env=env, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"tarn {' '.join(args)} failed: {p.stderr}")
    return p


class Server:
    def __init__(self, home, *opts):
        self.home = home
        self.log_path = os.path.join(home, "serve.log")
        port_file = os.path.join(home, "port")
        env = dict(os.environ, TARN_HOME=home)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([TARN, "serve", "--listen", "127.0.0.1:0", "--port-file", port_file, *opts],
                                     cwd=home, env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            assert self.proc.poll() is None, open(self.log_path).read()
            assert time.time() < deadline, "the server did not start"
            time.sleep(0.05)
        self.port = int(open(port_file).read())

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def req(self, method, path, token=None, body=None, headers=None, raw=False):
        c = self.conn()
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=body, headers=h)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before taking the whole body (413): read that answer
        r = c.getresponse()
        data = r.read()
        c.close()
        if raw:
            return r.status, data, r
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode, open(self.log_path).read()


def catalog_args(home):
    """With TARN_TEST_CATALOG (tests/lib/with_postgres.sh), the lakehouse's
    catalog goes into a schema of its own in that PostgreSQL database."""
    url = os.environ.get("TARN_TEST_CATALOG")
    if not url:
        return []
    schema = "serve_" + re.sub(r"[^a-z0-9]", "_", os.path.basename(home).lower())
    return ["--catalog", url + ("&" if "?" in url else "?") + "schema=" + schema]


def project_tar(files, extra=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buf.getvalue()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("serve"))
    tarn(home, "init", *catalog_args(home))
    if os.environ.get("TARN_TEST_CATALOG"):
        assert "postgresql://" in open(os.path.join(home, ".tarn", "config")).read()
    with open(os.path.join(home, "t.csv"), "w") as f:
        f.write("id,country,usd\n1,IT,10\n2,FR,20\n3,DE,30\n")
    tarn(home, "table", "import", "trips", "--from", "t.csv")
    tok = {}
    for name, *args in [("admin", "--admin"), ("reader", "--read", "main"),
                        ("alice", "--write", "alice.*,dev", "--read", "*"), ("revoked", "--read", "*"),
                        ("expiring", "--read", "*", "--expires", "1")]:
        tok[name] = tarn(home, "token", "create", name, *args).stdout.strip()
    tarn(home, "token", "revoke", tok["revoked"])
    srv = Server(home, "--max-body", "64K", "--max-upload", "8M", "--idle-timeout", "3", "--max-queries", "2",
                 "--queue", "2", "--query-timeout", "3", "--max-runs", "2")
    time.sleep(1.1)  # the expiring token is past its second
    yield home, srv, tok
    code, log = srv.stop()
    assert code == 0, log
    assert "tarn serve: stopped" in log
    for t in tok.values():
        assert t not in log, "a token reached the log"


def test_health_needs_no_token_and_everything_else_does(lake):
    home, srv, tok = lake
    assert srv.req("GET", "/api/v1/health") == (200, {"status": "ok"})
    for path in ["/api/v1/branches", "/api/v1/tables", "/metrics", "/api/v1/info"]:
        st, body = srv.req("GET", path)
        assert st == 401 and body["error"]["code"] == "unauthorized"


def documented_routes():
    import yaml
    spec = yaml.safe_load(open(OPENAPI))
    out = set()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "head", "post", "put", "patch", "delete"):
                out.add((method.upper(), path))
    return out


def test_openapi_matches_the_server(lake):
    home, srv, tok = lake
    st, body = srv.req("GET", "/api/v1/routes", tok["admin"])
    assert st == 200
    served = {(r["method"], r["path"].replace("*}", "}")) for r in body["routes"]}
    documented = documented_routes()
    assert served - documented == set(), "routes the description leaves out"
    assert documented - served == set(), "documented routes the server does not have"
    # Every documented route answers (a resource may be missing, the route not).
    for method, path in sorted(documented):
        concrete = re.sub(r"\{[^}]+\}", "nosuchthing", path)
        st, body = srv.req(method, concrete, tok["admin"], body={} if method in ("POST", "PUT", "PATCH") else None)
        assert st not in (405,), (method, path)
        if st == 404 and isinstance(body, dict):
            assert "no such route" not in body["error"]["message"], (method, path)


def test_rights(lake):
    home, srv, tok = lake
    st, body = srv.req("POST", "/api/v1/branches", tok["reader"], {"name": "r1", "from": "main"})
    assert st == 403 and body["error"]["code"] == "denied"
    st, _ = srv.req("POST", "/api/v1/tables/x/import?filename=x.csv&branch=main", tok["reader"], b"a\n1\n")
    assert st == 403
    st, body = srv.req("GET", "/api/v1/tables?ref=main", tok["reader"])
    assert st == 200 and [t["name"] for t in body["tables"]] == ["default.trips"]
    # alice.* and dev, nothing else
    assert srv.req("POST", "/api/v1/branches", tok["alice"], {"name": "alice.exp", "from": "main"})[0] == 201
    assert srv.req("POST", "/api/v1/branches", tok["alice"], {"name": "bob.x", "from": "main"})[0] == 403
    assert srv.req("POST", "/api/v1/merge", tok["alice"], {"source": "alice.exp", "into": "main"})[0] == 403
    assert srv.req("POST", "/api/v1/branches", tok["admin"], {"name": "bob.x", "from": "main"})[0] == 201
    assert srv.req("DELETE", "/api/v1/branches/bob.x", tok["alice"])[0] == 403
    assert srv.req("POST", "/api/v1/tables/bobs/import?filename=b.csv&branch=bob.x", tok["alice"], b"a\n1\n")[0] == 403
    # a reader of main does not see other branches
    names = [b["name"] for b in srv.req("GET", "/api/v1/branches", tok["reader"])[1]["branches"]]
    assert names == ["main"]
    assert srv.req("GET", "/api/v1/commits?ref=alice.exp", tok["reader"])[0] == 403
    # admin routes
    assert srv.req("GET", "/api/v1/tokens", tok["alice"])[0] == 403
    assert srv.req("GET", "/metrics", tok["alice"])[0] == 403
    # revoked, expired and made-up tokens are refused alike
    for t in [tok["revoked"], tok["expiring"], "tarn_0000000000000000_" + "0" * 64, "nonsense",
              tok["admin"][:-1] + ("0" if tok["admin"][-1] != "0" else "1")]:
        st, body = srv.req("GET", "/api/v1/branches", t)
        assert st == 401 and "unknown, revoked or expired" not in json.dumps(body)


def test_commits_are_authored_by_the_tokens_user(lake):
    home, srv, tok = lake
    st, _ = srv.req("POST", "/api/v1/tables/alices/import?filename=a.csv&branch=alice.exp", tok["alice"],
                    b"id,v\n1,2\n")
    assert st == 201
    st, body = srv.req("GET", "/api/v1/commits?ref=alice.exp&limit=1", tok["alice"])
    assert body["commits"][0]["author"] == "alice"


def test_protected_branch(lake):
    home, srv, tok = lake
    assert srv.req("POST", "/api/v1/branches", tok["admin"], {"name": "prot", "from": "main"})[0] == 201
    assert srv.req("POST", "/api/v1/branches", tok["admin"], {"name": "feature", "from": "main"})[0] == 201
    assert srv.req("PUT", "/api/v1/protected/prot", tok["admin"], {"mode": "merges"})[0] == 200
    head = srv.req("GET", "/api/v1/resolve?ref=prot", tok["admin"])[1]["commit"]
    st, body = srv.req("POST", "/api/v1/tables/direct/import?filename=d.csv&branch=prot", tok["admin"], b"a\n1\n")
    assert st == 403 and "protected" in body["error"]["message"]
    assert srv.req("DELETE", "/api/v1/tables/trips?branch=prot", tok["admin"])[0] == 403
    assert srv.req("DELETE", "/api/v1/branches/prot", tok["admin"])[0] == 403
    assert srv.req("GET", "/api/v1/resolve?ref=prot", tok["admin"])[1]["commit"] == head
    assert srv.req("POST", "/api/v1/tables/feat/import?filename=f.csv&branch=feature", tok["admin"], b"a\n1\n")[0] == 201
    st, body = srv.req("POST", "/api/v1/merge", tok["admin"], {"source": "feature", "into": "prot"})
    assert st == 200, body
    # runs only: a branch no run made is refused, a run's output is taken
    assert srv.req("PUT", "/api/v1/protected/prot", tok["admin"], {"mode": "runs"})[0] == 200
    srv.req("POST", "/api/v1/tables/feat2/import?filename=f.csv&branch=feature", tok["admin"], b"a\n1\n")
    st, body = srv.req("POST", "/api/v1/merge", tok["admin"], {"source": "feature", "into": "prot"})
    assert st == 403 and "successful runs" in body["error"]["message"]
    tar = project_tar({"big.sql": "-- tarn: materialization_strategy=REPLACE\nSELECT country, usd FROM trips WHERE usd > 15\n"})
    st, body, _ = srv.req("POST", "/api/v1/runs?ref=feature&follow=1", tok["admin"], tar, raw=True)
    last = json.loads(body.decode().strip().splitlines()[-1])
    assert st == 200 and last["exit_code"] == 0, body
    st, body = srv.req("POST", "/api/v1/merge", tok["admin"], {"source": "feature", "into": "prot"})
    assert st == 200, body
    assert srv.req("DELETE", "/api/v1/protected/prot", tok["admin"])[0] == 200


def test_query_formats_and_limits(lake):
    home, srv, tok = lake
    sql = "SELECT id, country, usd FROM trips ORDER BY id"
    st, body = srv.req("POST", "/api/v1/query", tok["reader"], {"sql": sql, "format": "json"})
    assert st == 200 and body["rows"] == [[1, "IT", 10], [2, "FR", 20], [3, "DE", 30]]
    st, data, _ = srv.req("POST", "/api/v1/query", tok["reader"], {"sql": sql, "format": "csv"}, raw=True)
    assert data.decode() == "id,country,usd\n1,IT,10\n2,FR,20\n3,DE,30\n"
    st, data, resp = srv.req("POST", "/api/v1/query", tok["reader"], {"sql": sql}, raw=True)
    assert resp.getheader("Content-Type") == "application/vnd.apache.arrow.stream"
    import tarn
    t = tarn.Table.from_ipc(data) if hasattr(tarn.Table, "from_ipc") else None
    if t is not None:
        assert t.num_rows == 3
    assert data[:4] == b"\xff\xff\xff\xff" and data[-8:] == b"\xff\xff\xff\xff\x00\x00\x00\x00"
    st, body = srv.req("POST", "/api/v1/query", tok["reader"], {"sql": sql, "format": "json", "max_rows": 2})
    assert body["rows"] == [[1, "IT", 10], [2, "FR", 20]] and body["truncated"] is True
    # no host files, no other ref
    st, body = srv.req("POST", "/api/v1/query", tok["admin"], {"sql": "SELECT * FROM read_csv('/etc/passwd')"})
    assert st == 400
    assert srv.req("POST", "/api/v1/query", tok["reader"], {"sql": "SELECT 1", "ref": "alice.exp"})[0] == 403
    # past its time limit a query is stopped: the stream is cut, never ended as if whole
    c = srv.conn()
    c.request("POST", "/api/v1/query", json.dumps({"sql": "SELECT count(*) FROM range(100000000000)",
                                                    "format": "json"}),
              {"Authorization": "Bearer " + tok["admin"]})
    started = time.time()
    r = c.getresponse()
    try:
        data = r.read()
        # stopped before the first byte: a whole error answer
        assert r.status == 409 and b"time limit" in data, (r.status, data)
    except (http.client.IncompleteRead, http.client.HTTPException, ConnectionError):
        pass  # stopped after it: the stream is cut
    assert time.time() - started < 30


def test_a_cut_stream_says_why_to_its_own_user_only(lake):
    home, srv, tok = lake
    # fails on row 1,000,000, long after the answer's status and first rows were sent
    sql = ("SELECT CASE WHEN i < 1000000 THEN i ELSE error('computed too far') END AS i "
           "FROM range(3000000) t(i)")
    c = srv.conn()
    c.request("POST", "/api/v1/query", json.dumps({"sql": sql, "format": "csv"}),
              {"Authorization": "Bearer " + tok["reader"]})
    r = c.getresponse()
    assert r.status == 200
    rid = r.getheader("X-Tarn-Request")
    assert rid and re.fullmatch("[0-9a-f]{32}", rid)
    with pytest.raises((http.client.IncompleteRead, http.client.HTTPException, ConnectionError)):
        r.read()  # cut: never ended as if whole
    c.close()
    st, body = srv.req("GET", "/api/v1/failures/" + rid, tok["reader"])
    assert st == 200 and body["error"]["code"] == "invalid" and "computed too far" in body["error"]["message"]
    # another user (even an admin) is not told; an unknown id is not found
    assert srv.req("GET", "/api/v1/failures/" + rid, tok["admin"])[0] == 404
    assert srv.req("GET", "/api/v1/failures/" + "0" * 32, tok["reader"])[0] == 404
    assert srv.req("GET", "/api/v1/failures/" + rid)[0] == 401


def test_table_plans_and_creation(lake, tmp_path):
    home, srv, tok = lake
    # an empty table from columns, in one commit authored by the token's user
    cols = [{"name": "id", "type": "BIGINT"}, {"name": "amount", "type": "DECIMAL(10,2)"}]
    assert srv.req("POST", "/api/v1/branches", tok["alice"], {"name": "alice.plan", "from": "main"})[0] == 201
    st, body = srv.req("POST", "/api/v1/tables/planned/create?branch=alice.plan", tok["alice"],
                       {"columns": cols, "message": "from a plan"})
    assert st == 201 and body["rows"] == 0, body
    st, log = srv.req("GET", "/api/v1/commits?ref=alice.plan&limit=1", tok["alice"])
    assert st == 200 and json.dumps(log).count('"alice"') >= 1 and "from a plan" in json.dumps(log)
    st, t = srv.req("GET", "/api/v1/tables/planned?ref=alice.plan", tok["alice"])
    assert [c["type"] for c in t["columns"]] == ["BIGINT", "DECIMAL(10,2)"]
    # a type that is not a type name changes nothing; a reader may not create
    st, body = srv.req("POST", "/api/v1/tables/bad/create?branch=alice.plan", tok["alice"],
                       {"columns": [{"name": "x", "type": "INT); DROP TABLE y; --"}]})
    assert st == 400 and "is not a type name" in body["error"]["message"]
    assert srv.req("GET", "/api/v1/tables/bad?ref=alice.plan", tok["alice"])[0] == 404
    assert srv.req("POST", "/api/v1/tables/x/create", tok["reader"], {"columns": cols})[0] == 403
    assert srv.req("POST", "/api/v1/tables/x/create", tok["admin"], {"columns": []})[0] == 400
    # the server plans object storage only, never its own files
    st, body = srv.req("GET", "/api/v1/table-plans?uri=/etc/passwd", tok["admin"])
    assert st == 400 and "s3://" in body["error"]["message"]


def test_iceberg_register_is_off_unless_given_a_folder(lake):
    home, srv, tok = lake
    # this server was started without --iceberg-register-root: nothing on
    # its host is read for a client, whatever the location
    st, body = srv.req("POST", "/iceberg/main/v1/namespaces/default/register", tok["admin"],
                       {"name": "x", "metadata-location": "file://" + home + "/nothing.metadata.json"})
    assert st == 403 and "registering tables through this catalog is off" in body["error"]["message"]
    assert "--iceberg-register-root" in body["error"]["message"]


def test_queue_full_is_429_with_retry_after(lake):
    home, srv, tok = lake
    results = []

    def slow():
        c = srv.conn()
        c.request("POST", "/api/v1/query", json.dumps({"sql": "SELECT count(*) FROM range(30000000000)"}),
                  {"Authorization": "Bearer " + tok["admin"]})
        r = c.getresponse()
        results.append((r.status, r.getheader("Retry-After")))
        try:
            r.read()
        except Exception:
            pass
    threads = [threading.Thread(target=slow) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    busy = [r for r in results if r[0] == 429]
    assert busy and all(r[1] for r in busy), results
    assert all(r[0] in (200, 409, 429) for r in results), results  # 409: past the time limit
    assert srv.req("GET", "/api/v1/health")[0] == 200


def test_runs_follow_and_cancel(lake):
    home, srv, tok = lake
    tar = project_tar({"rich.sql": "-- tarn: materialization_strategy=REPLACE\nSELECT * FROM trips WHERE usd >= 20\n"})
    st, body, _ = srv.req("POST", "/api/v1/runs?ref=alice.exp&follow=1", tok["alice"], tar, raw=True)
    lines = [json.loads(l) for l in body.decode().splitlines()]
    assert lines[-1]["exit_code"] == 0 and lines[-1]["report"]["outcome"] == "success"
    assert any("rich" in l.get("line", "") for l in lines)
    st, body = srv.req("GET", "/api/v1/tables/rich?ref=alice.exp", tok["alice"])
    assert st == 200 and body["rows"] == 2
    # a run on a branch the token may not write is refused
    assert srv.req("POST", "/api/v1/runs?ref=main", tok["alice"], tar)[0] == 403
    # cancel: the job fails, the branch is unchanged
    slow = project_tar({"models.py": "import tarn, time\n\n@tarn.model()\n@tarn.python('3.11')\n"
                                      "def nap(data=tarn.Model('trips')):\n    time.sleep(60)\n    return data\n"})
    before = srv.req("GET", "/api/v1/resolve?ref=alice.exp", tok["alice"])[1]["commit"]
    st, body = srv.req("POST", "/api/v1/runs?ref=alice.exp", tok["alice"], slow)
    assert st == 202
    rid = body["id"]
    deadline = time.time() + 30
    while time.time() < deadline and not srv.req("GET", f"/api/v1/runs/{rid}", tok["alice"])[1]["job_id"]:
        time.sleep(0.2)
    st, body = srv.req("DELETE", f"/api/v1/runs/{rid}", tok["alice"])
    assert st == 200
    run = srv.req("GET", f"/api/v1/runs/{rid}", tok["alice"])[1]
    assert run["status"] == "cancelled"
    st, job = srv.req("GET", f"/api/v1/jobs/{run['job_id']}", tok["alice"])
    assert st == 200, (st, job, run)
    assert job["status"] == "cancelled"  # stopped through the catalog, as `tarn job stop` stops a job
    assert srv.req("GET", "/api/v1/resolve?ref=alice.exp", tok["alice"])[1]["commit"] == before


def test_archives_that_escape_are_refused(lake):
    home, srv, tok = lake
    before = srv.req("GET", "/api/v1/resolve?ref=alice.exp", tok["alice"])[1]["commit"]
    up = tarfile.TarInfo("../escape.sql")
    up.size = 1
    link = tarfile.TarInfo("link.sql")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    absolute = tarfile.TarInfo("/tmp/abs.sql")
    absolute.size = 1
    for bad in [up, link, absolute]:
        tar = project_tar({"ok.sql": "SELECT 1 AS x\n"}, [bad])
        st, body = srv.req("POST", "/api/v1/runs?ref=alice.exp", tok["alice"], tar)
        assert st == 400 and "refused" in body["error"]["message"], body
    assert srv.req("POST", "/api/v1/runs?ref=alice.exp", tok["alice"], b"not a tar file" * 100)[0] == 400
    assert not os.path.exists(os.path.join(home, ".tarn", "escape.sql"))
    assert srv.req("GET", "/api/v1/resolve?ref=alice.exp", tok["alice"])[1]["commit"] == before


def test_malformed_huge_and_tricky_requests(lake):
    home, srv, tok = lake
    heads = {b["name"]: b["commit"] for b in srv.req("GET", "/api/v1/branches", tok["admin"])[1]["branches"]}
    st, body = srv.req("POST", "/api/v1/branches", tok["admin"], b"{not json",
                       {"Content-Type": "application/json"})
    assert st == 400 and body["error"]["code"] == "invalid"
    assert srv.req("POST", "/api/v1/branches", tok["admin"], b"[1,2]")[0] == 400
    assert srv.req("POST", "/api/v1/branches", tok["admin"], b'{"name": "a", "name": "b"}')[0] == 400
    assert srv.req("POST", "/api/v1/branches", tok["admin"], {"name": 5})[0] == 400
    st, body = srv.req("POST", "/api/v1/branches", tok["admin"], b"{" + b" " * (200 * 1024) + b"}")
    assert st == 413
    st, body = srv.req("POST", "/api/v1/tables/huge/import?filename=h.csv&branch=dev", tok["admin"],
                       b"a\n" + b"1\n" * (5 * 1024 * 1024))
    assert st == 413
    for path in ["/api/v1/../../etc/passwd", "/api/v1/tables/..%2f..%2fetc%2fpasswd?ref=main",
                 "/api/v1/branches/%2e%2e", "/api/v1/tables/a%00b", "//api/v1/branches", "/api/v1/branches/" + "x" * 5000,
                 "/api/v1/tables/trips?ref=../../etc"]:
        st, _ = srv.req("GET", path, tok["admin"])
        assert 400 <= st < 500, (path, st)
    st, _ = srv.req("POST", "/api/v1/branches", tok["admin"], {"name": "../evil", "from": "main"})
    assert st == 400
    st, _ = srv.req("POST", "/api/v1/tables/ev/import?uri=/etc/passwd&branch=dev", tok["admin"], b"")
    assert st in (400, 403)
    after = {b["name"]: b["commit"] for b in srv.req("GET", "/api/v1/branches", tok["admin"])[1]["branches"]}
    assert after == heads


def test_bad_tokens_and_slow_clients_do_not_stop_others(lake):
    home, srv, tok = lake
    # 10,000 bad tokens over a few keep-alive connections
    refused = 0
    c = srv.conn()
    for i in range(10000):
        c.request("GET", "/api/v1/branches", headers={"Authorization": "Bearer tarn_%016x_%064x" % (i, i)})
        r = c.getresponse()
        r.read()
        refused += r.status == 401
    c.close()
    assert refused == 10000
    # slowloris: 40 connections that send half a request, a byte at a time
    socks = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"GET /api/v1/branches HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    for _ in range(3):
        started = time.time()
        assert srv.req("GET", "/api/v1/branches", tok["reader"])[0] == 200
        assert time.time() - started < 2
        for s in socks:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(0.3)
    # silent ones are dropped after the idle timeout (3 s)
    time.sleep(4)
    closed = 0
    for s in socks:
        s.settimeout(1)
        try:
            closed += s.recv(1) == b""
        except (ConnectionResetError, socket.timeout, OSError):
            closed += 1
        s.close()
    assert closed == len(socks)


LOAD_PROJECT = project_tar({"counted.sql": "SELECT count(*) AS n FROM trips\n"})


def run_load(srv, tok, seconds, clients=32):
    """CLIENTS clients for SECONDS against SRV, each on a branch of its own
    (and all merging into `dev`): queries, branch creation, imports,
    merges and runs of a small project. Returns what happened: latencies,
    answers by operation, server errors, the imports answered 201."""
    stop = time.time() + seconds
    lat, errors, committed, answers = [], [], [], {}
    lock = threading.Lock()

    def client(n):
        rnd = random.Random(n)
        mine = f"load{n}"
        srv.req("POST", "/api/v1/branches", tok["admin"], {"name": mine, "from": "main"})
        k = 0
        while time.time() < stop:
            k += 1
            op = rnd.choice(["query", "query", "query", "branch", "import", "import", "merge", "run"])
            t0 = time.time()
            if op == "query":
                st, _ = srv.req("POST", "/api/v1/query", tok["reader"], {"sql": "SELECT count(*) AS n FROM trips",
                                                                         "format": "json"})
            elif op == "branch":
                st, _ = srv.req("POST", "/api/v1/branches", tok["admin"], {"name": f"{mine}.b{k}", "from": mine})
            elif op == "import":
                st, _ = srv.req("POST", f"/api/v1/tables/t{n}_{k}/import?filename=x.csv&branch={mine}", tok["admin"],
                                f"a,b\n{n},{k}\n".encode())
                if st == 201:
                    with lock:
                        committed.append((mine, f"t{n}_{k}"))
            elif op == "run":
                st, _ = srv.req("POST", f"/api/v1/runs?ref={mine}", tok["admin"], LOAD_PROJECT)
            else:
                st, _ = srv.req("POST", "/api/v1/merge", tok["admin"], {"source": mine, "into": "dev"})
                if st == 409:
                    st = 200  # a conflict is an answer, not a failure
            with lock:
                lat.append(time.time() - t0)
                answers.setdefault(op, {}).setdefault(st, 0)
                answers[op][st] += 1
                if st >= 500 or st == 0:
                    errors.append((op, st))
    srv.req("POST", "/api/v1/branches", tok["admin"], {"name": "dev", "from": "main"})
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 120)
    took = time.time() - started
    lat.sort()
    return {"requests": len(lat), "seconds": took, "p50": lat[len(lat) // 2], "p99": lat[int(len(lat) * 0.99)],
            "errors": errors, "committed": committed, "answers": answers}


def check_committed(srv, tok, committed):
    """Every import answered 201 is on its branch, and its data is read."""
    by_branch = {}
    for branch, table in committed:
        by_branch.setdefault(branch, set()).add("default." + table)
    for branch, tables in by_branch.items():
        st, body = srv.req("GET", f"/api/v1/tables?ref={branch}", tok["admin"])
        assert tables <= {t["name"] for t in body["tables"]}, branch
        union = " UNION ALL ".join(f"SELECT count(*) AS n FROM {t.split('.')[1]}" for t in sorted(tables))
        st, body = srv.req("POST", "/api/v1/query", tok["admin"],
                           {"sql": f"SELECT sum(n) AS n FROM ({union})", "ref": branch, "format": "json"})
        assert st == 200 and body["rows"][0][0] == len(tables), (branch, st, body)


def test_load_shortened(lake):
    """32 clients for about 10 seconds: queries, branch creation, imports,
    merges and runs. No 5xx; every import that was answered 201 is there,
    its file read back."""
    home, srv, tok = lake
    r = run_load(srv, tok, float(os.environ.get("TARN_LOAD_SECONDS", "10")))
    assert not r["errors"], r["errors"][:10]
    print(f"\nload: {r['requests']} requests in {r['seconds']:.1f} s = {r['requests'] / r['seconds']:.0f}/s, "
          f"p50 {r['p50'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, {len(r['committed'])} imports, "
          f"answers {r['answers']}")
    assert r["answers"].get("run", {}).get(202), "no run was taken"
    check_committed(srv, tok, r["committed"])
