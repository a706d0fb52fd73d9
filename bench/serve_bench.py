"""bench/serve_bench.py BUILD — `tarn serve` measured, each row beside its
baseline from the same run:

1. Request latency, p50/p99 of BENCH_SERVE_REQS sequential requests
   (default 200): branch create, SELECT 1, a 1,000-row query. Through the
   server as raw HTTP on one kept-alive connection and through the remote
   tarn.Client (libtarn over libcurl); baseline: the same call on a local
   tarn.Client in the same process (no server).
2. Throughput with 16 clients (threads, each its own connection) doing
   SELECT 1 for BENCH_TPUT_SECONDS (default 10); baseline: 1 client.
3. A BENCH_SERVE_ROWS-row result (default 10M: id, a DOUBLE, a category)
   streamed as Arrow IPC and as JSON: seconds, bytes, and the server's
   peak RSS (VmHWM) after each, which shows that the result is never held
   whole; baseline: the same query on a local tarn.Client.
4. The load test at full length: 32 clients for BENCH_LOAD_SECONDS
   (default 60) mixing queries, branch creation, imports, merges and runs
   (tests/python/test_serve.py's run_load), with its checks: no 5xx, every
   import answered 201 present and read back.
5. The quickstart pipeline, warm (one run first builds its environment):
   `tarn run` locally vs the same command through the server (TARN_REMOTE)
   vs a raw POST /api/v1/runs?follow=1, beside a local run without the warm
   runtime (TARN_RUNTIME=off); medians of BENCH_REPS (default 5).

Prints markdown tables (bench/run.sh adds them to bench/out/results.md).
BENCH_SERVE_ONLY=quickstart measures point 5 alone.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
os.environ["TARN_BUILD"] = BUILD
sys.path.insert(0, os.path.join(BUILD, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import tarn  # noqa: E402
import test_serve as ts  # noqa: E402  (the server harness and the load test)

ROWS = int(os.environ.get("BENCH_SERVE_ROWS", "10000000"))
REQS = int(os.environ.get("BENCH_SERVE_REQS", "200"))
TPUT_S = float(os.environ.get("BENCH_TPUT_SECONDS", "10"))
LOAD_S = float(os.environ.get("BENCH_LOAD_SECONDS", "60"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
EXAMPLE = os.path.join(ROOT, "examples", "quickstart")


def log(*a):
    print("serve bench:", *a, file=sys.stderr, flush=True)


def ms(x):
    return "%.1f" % (x * 1000)


def p50_p99(lat):
    lat = sorted(lat)
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]


class Conn:
    """One kept-alive HTTP connection, as a client library keeps one."""

    def __init__(self, port, token):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def post(self, path, body):
        self.c.request("POST", path, body=json.dumps(body), headers=self.h)
        r = self.c.getresponse()
        n = 0
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        assert r.status < 300, (path, r.status)
        return n


def timed(fn, n):
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t0)
    return lat


def vmhwm(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main():
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    home = tempfile.mkdtemp(prefix="serve-", dir=out)
    try:
        run(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(home):
    ts.tarn(home, "init")
    if os.environ.get("BENCH_SERVE_ONLY") == "quickstart":
        return run_quickstart_only(home)
    log("making the tables (%d rows)" % ROWS)
    ts.tarn(home, "query", "SELECT i AS id, i * 0.5 AS a, 'c' || (i % 10)::VARCHAR AS s FROM range(1000) t(i)",
            "--output", "small.parquet")
    ts.tarn(home, "query", "SELECT i AS id, i * 0.25 AS a, 'cat' || (i %% 50)::VARCHAR AS category "
            "FROM range(%d) t(i)" % ROWS, "--output", "big.parquet")
    ts.tarn(home, "table", "import", "small", "--from", "small.parquet")
    ts.tarn(home, "table", "import", "big", "--from", "big.parquet")
    with open(os.path.join(home, "t.csv"), "w") as f:
        f.write("id,country,usd\n1,IT,10\n2,FR,20\n3,DE,30\n")
    ts.tarn(home, "table", "import", "trips", "--from", "t.csv")
    for t in ("transactions", "countries"):
        ts.tarn(home, "table", "import", t, "--from", os.path.join(EXAMPLE, "data", t + ".csv"))
    tok = {"admin": ts.tarn(home, "token", "create", "bench", "--admin").stdout.strip(),
           "reader": ts.tarn(home, "token", "create", "reader", "--read", "*").stdout.strip()}
    srv = ts.Server(home)  # the default limits
    url = "http://127.0.0.1:%d" % srv.port
    try:
        measure(home, srv, url, tok)
    finally:
        code, text = srv.stop()
        if code != 0:
            log("the server ended with %s:\n%s" % (code, text[-2000:]))


def run_quickstart_only(home):
    for t in ("transactions", "countries"):
        ts.tarn(home, "table", "import", t, "--from", os.path.join(EXAMPLE, "data", t + ".csv"))
    tok = {"admin": ts.tarn(home, "token", "create", "bench", "--admin").stdout.strip()}
    srv = ts.Server(home)
    try:
        quickstart(home, srv, "http://127.0.0.1:%d" % srv.port, tok)
    finally:
        srv.stop()


def measure(home, srv, url, tok):
    local = tarn.Client(home)
    remote = tarn.Client(url, token=tok["admin"])
    conn = Conn(srv.port, tok["admin"])
    print("#### Request latency (ms, p50 / p99 of %d sequential requests)" % REQS)
    print()
    print("| request | HTTP, one kept-alive connection | remote tarn.Client (libcurl) | local tarn.Client, "
          "no server (baseline) |")
    print("|---|---:|---:|---:|")
    cases = [
        ("branch create",
         lambda i: conn.post("/api/v1/branches", {"name": "h%d" % i, "from": "main"}),
         lambda i: remote.create_branch("r%d" % i, "main"),
         lambda i: local.create_branch("l%d" % i, "main")),
        ("SELECT 1",
         lambda i: conn.post("/api/v1/query", {"sql": "SELECT 1 AS one", "format": "json"}),
         lambda i: remote.query("SELECT 1 AS one"),
         lambda i: local.query("SELECT 1 AS one")),
        ("1,000-row query (Arrow)",
         lambda i: conn.post("/api/v1/query", {"sql": "SELECT * FROM small", "ref": "main"}),
         lambda i: remote.query("SELECT * FROM small", ref="main"),
         lambda i: local.query("SELECT * FROM small", ref="main")),
    ]
    for name, *fns in cases:
        cells = []
        for fn in fns:
            if name != "branch create":
                fn(-1)  # one warm-up (creates are not repeated: names are unique)
            a, b = p50_p99(timed(fn, REQS))
            cells.append("%s / %s" % (ms(a), ms(b)))
        log(name, cells)
        print("| %s | %s |" % (name, " | ".join(cells)))
    print()

    print("#### Throughput: SELECT 1 over HTTP for %.0f s (server defaults: 8 query slots, queue 64)" % TPUT_S)
    print()
    print("| clients | requests/s | p50 (ms) | p99 (ms) |")
    print("|---:|---:|---:|---:|")
    for clients in (1, 16):
        lat, lock, stop = [], threading.Lock(), time.time() + TPUT_S

        def worker():
            c = Conn(srv.port, tok["reader"])
            while time.time() < stop:
                t0 = time.perf_counter()
                c.post("/api/v1/query", {"sql": "SELECT 1 AS one", "format": "json"})
                with lock:
                    lat.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.time() - t0
        a, b = p50_p99(lat)
        log("throughput", clients, len(lat) / took)
        print("| %d%s | %.0f | %s | %s |" % (clients, " (baseline)" if clients == 1 else "", len(lat) / took, ms(a),
                                             ms(b)))
    print()

    print("#### A %d-row result (id BIGINT, a DOUBLE, category VARCHAR)" % ROWS)
    print()
    print("| how | seconds | MB received | rows/s | server peak RSS after (MiB) |")
    print("|---|---:|---:|---:|---:|")
    sql = "SELECT * FROM big"
    for fmt in ("arrow", "json"):
        t0 = time.perf_counter()
        n = conn.post("/api/v1/query", {"sql": sql, "ref": "main", "format": fmt})
        took = time.perf_counter() - t0
        log("big result", fmt, took, n)
        print("| streamed over HTTP as %s | %.2f | %.0f | %.2fM | %.0f |" % (
            "Arrow IPC" if fmt == "arrow" else "JSON", took, n / 1e6, ROWS / took / 1e6,
            vmhwm(srv.proc.pid) / 2 ** 20))
    t0 = time.perf_counter()
    t = local.query(sql, ref="main")
    took = time.perf_counter() - t0
    assert len(t) == ROWS
    print("| local tarn.Client, in process, as a tarn.Table (baseline) | %.2f | | %.2fM | |" % (took,
                                                                                             ROWS / took / 1e6))
    del t
    print()

    log("load: 32 clients for %.0f s" % LOAD_S)
    r = ts.run_load(srv, tok, LOAD_S, 32)
    ts.check_committed(srv, tok, r["committed"])
    print("#### Load: 32 clients for %.0f s mixing queries, branch creation, imports, merges and runs" % LOAD_S)
    print()
    print("| requests | per second | p50 (ms) | p99 (ms) | 5xx | imports committed (all present, read back) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print("| %d | %.0f | %s | %s | %d | %d |" % (r["requests"], r["requests"] / r["seconds"], ms(r["p50"]),
                                                  ms(r["p99"]), len(r["errors"]), len(r["committed"])))
    print()
    print("Answers by operation: " + ", ".join("%s %s" % (op, dict(sorted(st.items())))
                                               for op, st in sorted(r["answers"].items())) +
          " (429: the queue was full, the client is told to come back).")
    print()

    quickstart(home, srv, url, tok)


def quickstart(home, srv, url, tok):
    env_local = {k: v for k, v in os.environ.items() if k not in ("TARN_REMOTE", "TARN_TOKEN", "TARN_BRANCH")}
    env_local["TARN_HOME"] = home
    env_remote = dict(env_local, TARN_REMOTE=url, TARN_TOKEN=tok["admin"],
                      XDG_STATE_HOME=os.path.join(home, "client-state"))
    del env_remote["TARN_HOME"]
    tarn_exe = os.path.join(BUILD, "tarn")
    project = ts.project_tar({name: open(os.path.join(EXAMPLE, name)).read()
                              for name in os.listdir(EXAMPLE) if name.endswith((".py", ".sql", ".toml"))})

    def cli(env, branch):
        t0 = time.perf_counter()
        # every model runs: --cache off (an unchanged run would reuse them all)
        p = subprocess.run([tarn_exe, "run", "-p", EXAMPLE, "--ref", branch, "--cache", "off"], env=env,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        return time.perf_counter() - t0

    def http_run(branch):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
        t0 = time.perf_counter()
        c.request("POST", "/api/v1/runs?ref=%s&follow=1&cache=off" % branch, body=project,
                  headers={"Authorization": "Bearer " + tok["admin"]})
        r = c.getresponse()
        last = None
        for line in r:
            if line.strip():
                last = json.loads(line)
        took = time.perf_counter() - t0
        assert last and last.get("exit_code") == 0, last
        return took

    for b in ("qs_local", "qs_remote", "qs_http"):
        ts.tarn(home, "branch", "create", b)
    log("quickstart: a first run builds its environment")
    cli(env_local, "qs_local")
    env_cold = dict(env_local, TARN_RUNTIME="off")
    rows = [("`tarn run` locally, no warm runtime (TARN_RUNTIME=off)", [cli(env_cold, "qs_local") for _ in range(REPS)]),
            ("`tarn run` locally (baseline)", [cli(env_local, "qs_local") for _ in range(REPS)]),
            ("`tarn run` through the server (TARN_REMOTE)", [cli(env_remote, "qs_remote") for _ in range(REPS)]),
            ("POST /api/v1/runs?follow=1 (raw HTTP)", [http_run("qs_http") for _ in range(REPS)])]
    print("#### The quickstart pipeline, warm (its environment built), end to end")
    print()
    print("| how | median (ms) | min (ms) |")
    print("|---|---:|---:|")
    for name, xs in rows:
        log(name, xs)
        print("| %s | %s | %s |" % (name, ms(statistics.median(xs)), ms(min(xs))))
    print()
    print("The goal of issue 12 (point 5) is <= 200 ms through the server, warm. Runs on the server run on "
          "threads of the server through the library's run entry point (start_run(), src/server/api_runs.c), "
          "borrowing warm Python parents from the warm runtime as local runs do; the `TARN_REMOTE` row also "
          "pays the client's own `tarn` process.")


if __name__ == "__main__":
    main()
