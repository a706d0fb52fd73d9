"""bench/pipeline_bench.py BUILD_DIR — what `tarn run` costs, side by side.

1. The quickstart example end to end (examples/quickstart on its 1,000-row
   sample): `tarn run`, the whole command, median of 5, borrowing warm
   Python parents from the warm runtime, against TARN_RUNTIME=off (each run
   starts its own), interleaved; every model runs (--cache off). And the
   same run with model reuse on: nothing changed, so every model takes the
   previous run's output (warm runtime both).
2. Runtime overhead per task: a chain of 20 trivial Python models (each
   returns its input, 100 rows) against a chain of 1; the marginal cost of a
   task is (T20 - T1) / 19. The mean task duration from the run's report is
   shown too.
3. The quickstart pipeline on 10M transactions, against the usual
   alternative: a script that runs each step as its own process and passes
   Parquet files between them (DuckDB reads and writes them, pandas runs the
   same function bodies). Both results are checked equal.

BENCH_PIPELINE_ONLY=warm measures 1 and 2 alone (the warm runs).

Prints a markdown table (also written to bench/out/pipeline.md)."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
TARN = os.path.join(BUILD, "tarn")
OUT = os.path.join(ROOT, "bench", "out", "pipeline")
PY = "/usr/bin/python3"
ROWS = int(os.environ.get("BENCH_PIPELINE_ROWS", "10000000"))
REPS = int(os.environ.get("BENCH_REPS", "5"))
ENV = dict(os.environ, PYTHONPATH=os.path.join(BUILD, "python"), TARN_AUTHOR="bench")
ENV.pop("TARN_HOME", None)
# Repeated runs of one project measure running it: model reuse off.
OFF = ("--cache", "off")
# A warm runtime of the benchmark's own, stopped at the end.
ENV["TARN_RUNTIME_DIR"] = os.path.join(OUT, "runtime")


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def tarn(*args, cwd, check=True, env=None):
    p = subprocess.run([TARN, *args], cwd=cwd, env=env or ENV, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit("tarn %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def timed(fn, reps=REPS):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fresh_lake(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    tarn("init", ".", cwd=d)
    return d


def quickstart():
    lake = fresh_lake("quickstart")
    data = os.path.join(ROOT, "examples", "quickstart", "data")
    tarn("table", "import", "transactions", "--from", os.path.join(data, "transactions.csv"), cwd=lake)
    tarn("table", "import", "countries", "--from", os.path.join(data, "countries.csv"), cwd=lake)
    proj = os.path.join(ROOT, "examples", "quickstart")
    warm, cold, reused = [], [], []
    # Warm: Python parents borrowed from the warm runtime (started by the
    # warm-up run); cold: TARN_RUNTIME=off, each run starts its own; both
    # run every model (--cache off). Reused: the run right after a warm
    # one, nothing changed, reusing every model's output. Interleaved, so
    # that the machine's load weighs on all alike.
    tarn("run", "-p", proj, cwd=lake)  # warm-up, starts the warm runtime
    for _ in range(REPS):
        for env, times, opts in ((dict(ENV, TARN_RUNTIME="off"), cold, OFF), (ENV, warm, OFF),
                                 (ENV, reused, ())):
            t0 = time.perf_counter()
            p = tarn("-O", "json", "run", "-p", proj, *opts, cwd=lake, env=env)
            times.append(time.perf_counter() - t0)
            if not opts and len(json.loads(p.stdout).get("reused", [])) != 3:
                raise SystemExit("the unchanged quickstart run did not reuse its 3 models:\n" + p.stdout)
    return statistics.median(warm), statistics.median(cold), statistics.median(reused)


def chain_project(path, n):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    lines = ["import tarn\n"]
    for i in range(n):
        src = "small" if i == 0 else "m%d" % (i - 1)
        lines.append("@tarn.model()\n@tarn.python('3.11')\n"
                     "def m%d(data=tarn.Model('%s')):\n    return data\n" % (i, src))
    with open(os.path.join(path, "models.py"), "w") as f:
        f.write("\n".join(lines))


def per_task():
    lake = fresh_lake("tasks")
    with open(os.path.join(lake, "small.csv"), "w") as f:
        f.write("id,v\n" + "".join("%d,%d\n" % (i, i * 2) for i in range(100)))
    tarn("table", "import", "small", "--from", "small.csv", cwd=lake)
    p1, p20 = os.path.join(lake, "one"), os.path.join(lake, "twenty")
    chain_project(p1, 1)
    chain_project(p20, 20)
    tarn("run", "-p", p20, cwd=lake)  # warm-up
    t1 = timed(lambda: tarn("run", "-p", p1, *OFF, cwd=lake))
    t20 = timed(lambda: tarn("run", "-p", p20, *OFF, cwd=lake))
    report = json.loads(tarn("-O", "json", "run", "-p", p20, *OFF, cwd=lake).stdout)
    durations = []
    for t in report["tasks"]:
        a = time.strptime(t["started"][:19], "%Y-%m-%dT%H:%M:%S")
        b = time.strptime(t["ended"][:19], "%Y-%m-%dT%H:%M:%S")
        frac = float("0." + t["ended"][20:26]) - float("0." + t["started"][20:26])
        durations.append((time.mktime(b) - time.mktime(a)) + frac)
    return t1, t20, (t20 - t1) / 19, statistics.mean(durations)


BASELINE_STEP = r'''
import sys, time
import pandas as pd
import tarn
from tarn import _native

def read(path):
    return tarn.Table._wrap(_native.duckdb_query("SELECT * FROM read_parquet('%s')" % path))

def write(df, path):
    t = tarn.Table.from_pandas(df)
    _native.duckdb_query("COPY t TO '%s' (FORMAT parquet)" % path,
                         [("t", t._arrays, list(t._cols), list(t._segs))])

step, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
if step == "euro_selection":
    src = tarn.Table._wrap(_native.duckdb_query(
        "SELECT id, usd, country FROM read_parquet('%s') WHERE country IN ('IT', 'FR', 'DE') AND usd >= 0" % a))
    write(src.to_pandas(), b)
elif step == "usd_by_country":
    df = read(a).to_pandas()
    write(df.groupby("country", as_index=False)["usd"].sum(), b)
elif step == "no_negative_usd":
    assert bool((read(a).column("usd") >= 0).all())
elif step == "country_report":
    countries = sys.argv[4]
    _native.duckdb_query(
        "COPY (SELECT u.country, c.name, c.region, round(u.usd, 2) AS usd FROM read_parquet('%s') u "
        "JOIN read_csv_auto('%s') c USING (country) ORDER BY usd DESC) TO '%s' (FORMAT parquet)"
        % (a, countries, b))
'''


def transactions_parquet(lake, first, n):
    """A Parquet file of N quickstart transactions with ids from FIRST."""
    src = os.path.join(OUT, "transactions_%d.parquet" % n if first == 0 else
                       "transactions_%d_%d.parquet" % (first, n))
    if not os.path.exists(src):
        log("generating %d transactions" % n)
        tarn("query", "SELECT range AS id, round(((range * 7919) %% 500000) / 100.0, 2) AS usd, "
             "['IT','FR','DE','ES','US','GB','JP','BR'][(range %% 8) + 1] AS country, "
             "TIMESTAMP '2026-01-01' + INTERVAL (range) SECOND AS event_time FROM range(%d, %d)"
             % (first, first + n), "--output", src, cwd=lake)
    return src


def scan_cache():
    """The quickstart pipeline's source scan (euro_selection reading
    transactions: 3 columns, a filter keeping 3/8 of the rows) on ROWS
    rows: cold (--cache off: read from the files), a second run with
    nothing changed (served exactly from the kept result), and a run after
    appending 1% of the rows (the kept result plus the added file). The
    times are the scan's own, from the run's report; medians of REPS."""
    lake = fresh_lake("scancache")
    env = dict(ENV, XDG_CACHE_HOME=os.path.join(OUT, "scancache-cache"))
    shutil.rmtree(env["XDG_CACHE_HOME"], ignore_errors=True)
    data = os.path.join(ROOT, "examples", "quickstart", "data")
    tarn("table", "import", "transactions", "--from", transactions_parquet(lake, 0, ROWS), cwd=lake)
    tarn("table", "import", "countries", "--from", os.path.join(data, "countries.csv"), cwd=lake)
    # The quickstart, its models running every time (cache_strategy="NONE"):
    # unchanged, model reuse would take their outputs and scan nothing.
    proj = os.path.join(OUT, "scancache-proj")
    shutil.rmtree(proj, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "examples", "quickstart"), proj,
                    ignore=shutil.ignore_patterns("data"))
    models = os.path.join(proj, "models.py")
    with open(models) as f:
        text = f.read()
    with open(models, "w") as f:
        f.write(text.replace("@tarn.model()", '@tarn.model(cache_strategy="NONE")'))

    def scan_ms(*opts):
        report = json.loads(tarn("-O", "json", "run", "-p", proj, *opts, cwd=lake, env=env).stdout)
        scan = [s for s in report["scans"] if s["model"] == "euro_selection"][0]
        return scan["cache"], scan["ms"]

    reps = max(3, REPS // 2)
    scan_ms("--cache", "off")  # warm-up: page cache, environments
    cold = [scan_ms("--cache", "off") for _ in range(reps)]
    first = scan_ms()  # reads the files and keeps the result
    exact = [scan_ms() for _ in range(reps)]
    appended = []
    for i in range(reps):
        extra = transactions_parquet(lake, ROWS + i * (ROWS // 100), ROWS // 100)
        tarn("table", "import", "transactions", "--from", extra, "--mode", "append", cwd=lake)
        appended.append(scan_ms())
    assert first[0] == "miss" and all(c == "exact" for c, _ in exact) and \
        all(c == "append" for c, _ in appended), (first, exact, appended)
    med = lambda xs: statistics.median(ms for _, ms in xs)  # noqa: E731
    return med(cold), first[1], med(exact), med(appended)


def versus_script():
    lake = fresh_lake("big")
    src = transactions_parquet(lake, 0, ROWS)
    data = os.path.join(ROOT, "examples", "quickstart", "data")
    tarn("table", "import", "transactions", "--from", src, cwd=lake)
    tarn("table", "import", "countries", "--from", os.path.join(data, "countries.csv"), cwd=lake)
    proj = os.path.join(ROOT, "examples", "quickstart")
    files = json.loads(tarn("-O", "json", "table", "get", "transactions", cwd=lake).stdout)
    step_py = os.path.join(OUT, "baseline_step.py")
    with open(step_py, "w") as f:
        f.write(BASELINE_STEP)
    work = os.path.join(OUT, "script")
    countries = os.path.join(data, "countries.csv")

    def script():
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        sel, agg, rep = (os.path.join(work, n + ".parquet") for n in ("sel", "agg", "report"))
        for args in (["euro_selection", src, sel], ["usd_by_country", sel, agg],
                     ["no_negative_usd", agg, "-"], ["country_report", agg, rep, countries]):
            subprocess.run([PY, step_py, *args], env=ENV, check=True)

    tarn("run", "-p", proj, cwd=lake)  # warm-up
    script()
    reps = max(3, REPS // 2)
    t_tarn = timed(lambda: tarn("run", "-p", proj, *OFF, cwd=lake), reps)
    t_script = timed(script, reps)
    # same answer both ways
    ours = json.loads(tarn("-O", "json", "query", "SELECT country, usd FROM country_report ORDER BY country",
                           "--all-rows", cwd=lake).stdout)["rows"]
    # SQL in tarn reads only tables: the script's report is imported to compare
    tarn("table", "import", "script_report", "--from", os.path.join(work, "report.parquet"), cwd=lake)
    theirs = json.loads(tarn("-O", "json", "query", "SELECT country, usd FROM script_report ORDER BY country",
                             "--all-rows", cwd=lake).stdout)["rows"]
    assert ours == theirs, (ours, theirs)
    return files["row_count"], t_tarn, t_script


def main():
    os.makedirs(ENV["TARN_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    os.chmod(ENV["TARN_RUNTIME_DIR"], 0o700)
    try:
        measure()
    finally:
        tarn("runtime", "stop", cwd=OUT, check=False)


def measure():
    log("quickstart end to end")
    t_quick, t_cold, t_reused = quickstart()
    log("per-task overhead (20 trivial models)")
    t1, t20, marginal, mean_task = per_task()
    only_warm = os.environ.get("BENCH_PIPELINE_ONLY") == "warm"
    if not only_warm:
        log("quickstart pipeline on %d rows vs a script passing Parquet files" % ROWS)
        rows, t_tarn, t_script = versus_script()
        log("the source scan of the quickstart pipeline on %d rows: cold, unchanged, after a 1%% append" % ROWS)
        sc_cold, sc_first, sc_exact, sc_append = scan_cache()
    md = ["| pipeline measurement | tarn | baseline | ratio |", "|---|---:|---:|---:|",
          "| quickstart example end to end, warm runtime (1,000 rows, `tarn run`; goal <= 300 ms) "
          "vs without it (TARN_RUNTIME=off) | %.0f ms | %.0f ms | %.2f |"
          % (t_quick * 1e3, t_cold * 1e3, t_quick / t_cold),
          "| quickstart second run, nothing changed: every model reused (warm runtime) vs "
          "`--cache off` | %.0f ms | %.0f ms | %.2f |" % (t_reused * 1e3, t_quick * 1e3, t_reused / t_quick),
          "| chain of 1 trivial Python model (`tarn run`) | %.0f ms | | |" % (t1 * 1e3),
          "| chain of 20 trivial Python models (`tarn run`) | %.0f ms | | |" % (t20 * 1e3),
          "| runtime overhead per task: (T20 - T1) / 19 | %.1f ms | goal < 20 ms | |" % (marginal * 1e3),
          "| mean task duration in the 20-model report | %.1f ms | | |" % (mean_task * 1e3)]
    if not only_warm:
        md += ["| quickstart pipeline on %s rows vs a script passing Parquet | %.2f s | %.2f s | %.1fx faster |"
               % (format(rows, ","), t_tarn, t_script, t_script / t_tarn),
               "| source scan, second run with nothing changed (scan cache; goal <= 0.10) vs cold "
               "(`--cache off`) | %.0f ms | %.0f ms | %.3f |" % (sc_exact, sc_cold, sc_exact / sc_cold),
               "| source scan after appending 1%% of the rows (goal <= 0.25) vs cold | %.0f ms | %.0f ms | %.3f |"
               % (sc_append, sc_cold, sc_append / sc_cold),
               "| source scan, first run keeping its result vs cold | %.0f ms | %.0f ms | %.2f |"
               % (sc_first, sc_cold, sc_first / sc_cold)]
    text = "\n".join(md) + "\n"
    print(text)
    with open(os.path.join(ROOT, "bench", "out", "pipeline.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
