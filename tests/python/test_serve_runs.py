"""Runs inside `tarn serve`: each run executes on a thread of the server
(the library's run entry point), while its user code runs only in confined
workers. These tests hold the server to what a run as a process of its own
gave: a model cannot reach the lakehouse, and one that fails or crashes
changes nothing and leaves the server serving; runs at once keep their own
author, parameters, outputs and logs; a cancel (even while the project is
still being planned) ends the job cancelled with its branch untouched; bad
run options are refused before anything starts."""
import json
import os
import threading
import time

import pytest

import test_serve as ts


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    home = str(tmp_path_factory.mktemp("serveruns"))
    ts.tarn(home, "init", *ts.catalog_args(home))
    with open(os.path.join(home, "t.csv"), "w") as f:
        f.write("id,country,usd\n1,IT,10\n2,FR,20\n3,DE,30\n")
    ts.tarn(home, "table", "import", "trips", "--from", "t.csv")
    tok = {name: ts.tarn(home, "token", "create", name, *args).stdout.strip()
           for name, *args in [("admin", "--admin"), ("alice", "--write", "alice.*", "--read", "*"),
                               ("bob", "--write", "bob.*", "--read", "*")]}
    for b in ("alice.a", "alice.b", "bob.a", "alice.c"):
        ts.tarn(home, "branch", "create", b)
    srv = ts.Server(home, "--max-runs", "4")
    yield home, srv, tok
    code, log = srv.stop()
    assert code == 0, log


def head(srv, tok, ref):
    return srv.req("GET", "/api/v1/resolve?ref=" + ref, tok)[1]["commit"]


def follow(srv, tok, ref, files, query=""):
    st, body, _ = srv.req("POST", "/api/v1/runs?ref=%s&follow=1%s" % (ref, query), tok,
                          ts.project_tar(files), raw=True)
    assert st == 200, body
    lines = [json.loads(l) for l in body.decode().splitlines() if l.strip()]
    return lines[-1], [l["line"] for l in lines if "line" in l]


def server_pid(srv):
    return srv.proc.pid if srv.proc.poll() is None else None


def test_a_model_in_the_server_is_confined_and_its_failure_changes_nothing(lake):
    home, srv, tok = lake
    pid = server_pid(srv)
    before = head(srv, tok["alice"], "alice.a")
    config = os.path.join(home, ".tarn", "config")
    evil = os.path.join(home, ".tarn", "evil")
    probe = ("import tarn\n\n"
             "@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
             "def probe(data=tarn.Model('trips')):\n"
             "    open(%r, 'w').write('x')\n"
             "    return {'config': [open(%r).read()]}\n" % (evil, config))
    last, lines = follow(srv, tok["alice"], "alice.a", {"models.py": probe})
    assert last["exit_code"] != 0 and last["error"], last
    assert "probe" in last["error"]["message"] and "Error" in last["error"]["message"], last
    assert not os.path.exists(evil)
    assert head(srv, tok["alice"], "alice.a") == before
    # a worker that crashes takes only itself down
    crash = ("import os, signal, tarn\n\n"
             "@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
             "def crash(data=tarn.Model('trips')):\n"
             "    os.kill(os.getpid(), signal.SIGSEGV)\n")
    last, _ = follow(srv, tok["alice"], "alice.a", {"models.py": crash})
    assert last["exit_code"] != 0 and "crash" in last["error"]["message"], last
    assert head(srv, tok["alice"], "alice.a") == before
    # the project's top level (run at plan time) is confined too
    top = "open(%r, 'w').write('x')\n" % evil
    last, _ = follow(srv, tok["alice"], "alice.a", {"models.py": top})
    assert last["exit_code"] != 0 and last["error"]["code"] == "invalid", last
    assert not os.path.exists(evil)
    assert head(srv, tok["alice"], "alice.a") == before
    assert server_pid(srv) == pid and srv.req("GET", "/api/v1/health")[0] == 200


PARAM_PROJECT = {
    "tarn_project.toml": '[parameters]\nmin_usd = { type = "float", default = 0.0 }\n',
    "models.py": ("import time, tarn\n\n"
                  "@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
                  "def rich(data=tarn.Model('trips', filter='usd >= $min_usd')):\n"
                  "    df = data.to_pandas()\n"
                  "    time.sleep(1)\n"
                  "    print('kept %d rows' % len(df))\n"
                  "    return df\n"),
}


def test_concurrent_runs_keep_their_own_state(lake):
    home, srv, tok = lake
    out = {}

    def one(user, ref, min_usd):
        out[user] = follow(srv, tok[user], ref, PARAM_PROJECT, "&param=min_usd=%d" % min_usd)

    threads = [threading.Thread(target=one, args=a) for a in (("alice", "alice.b", 15), ("bob", "bob.a", 25))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for user, ref, rows in (("alice", "alice.b", 2), ("bob", "bob.a", 1)):
        last, lines = out[user]
        assert last["exit_code"] == 0, last
        assert any("kept %d rows" % rows in l for l in lines), lines
        assert not any("kept %d rows" % (3 - rows) in l for l in lines), lines
        st, body = srv.req("GET", "/api/v1/tables/rich?ref=" + ref, tok[user])
        assert st == 200 and body["rows"] == rows, body
        commit = srv.req("GET", "/api/v1/commits?ref=%s&limit=1" % ref, tok[user])[1]["commits"][0]
        assert commit["author"] == user, commit
        assert last["report"]["job_id"] in json.dumps(commit), commit


def test_a_cancel_while_planning_ends_the_job_cancelled(lake):
    home, srv, tok = lake
    before = head(srv, tok["alice"], "alice.c")
    slow_plan = ("import time, tarn\ntime.sleep(3)\n\n"
                 "@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
                 "def late(data=tarn.Model('trips')):\n    return data\n")
    st, body = srv.req("POST", "/api/v1/runs?ref=alice.c", tok["alice"], ts.project_tar({"models.py": slow_plan}))
    assert st == 202, body
    rid = body["id"]
    assert srv.req("DELETE", "/api/v1/runs/" + rid, tok["alice"])[0] == 200
    deadline = time.time() + 60
    run = srv.req("GET", "/api/v1/runs/" + rid, tok["alice"])[1]
    while run["exit_code"] is None and time.time() < deadline:
        time.sleep(0.2)
        run = srv.req("GET", "/api/v1/runs/" + rid, tok["alice"])[1]
    assert run["status"] == "cancelled" and run["exit_code"] != 0, run
    assert run["job_id"], run
    st, job = srv.req("GET", "/api/v1/jobs/" + run["job_id"], tok["alice"])
    assert st == 200 and job["status"] == "cancelled", job
    assert head(srv, tok["alice"], "alice.c") == before


def test_bad_run_options_are_refused_before_anything_starts(lake):
    home, srv, tok = lake
    jobs = len(srv.req("GET", "/api/v1/jobs?limit=1000", tok["admin"])[1]["jobs"])
    tar = ts.project_tar({"a.sql": "SELECT 1 AS x\n"})
    st, body = srv.req("POST", "/api/v1/runs?ref=alice.a&param=novalue", tok["alice"], tar)
    assert st == 400 and "NAME=VALUE" in body["error"]["message"], body
    st, body = srv.req("POST", "/api/v1/runs?ref=alice.a&" + "&".join("param=p%d=1" % i for i in range(13)),
                       tok["alice"], tar)
    assert st == 400 and "at most 12" in body["error"]["message"], body
    st, body = srv.req("POST", "/api/v1/runs?ref=alice.a&cache=sometimes", tok["alice"], tar)
    assert st == 400 and "cache must be 'on' or 'off'" in body["error"]["message"], body
    assert len(srv.req("GET", "/api/v1/jobs?limit=1000", tok["admin"])[1]["jobs"]) == jobs


def test_sigterm_settles_a_run_in_flight(tmp_path):
    home = str(tmp_path)
    ts.tarn(home, "init", *ts.catalog_args(home))
    with open(os.path.join(home, "t.csv"), "w") as f:
        f.write("id,usd\n1,10\n")
    ts.tarn(home, "table", "import", "trips", "--from", "t.csv")
    admin = ts.tarn(home, "token", "create", "admin", "--admin").stdout.strip()
    before = ts.tarn(home, "-O", "json", "commit", "-n", "1").stdout
    srv = ts.Server(home)
    try:
        slow = ("import time, tarn\n\n@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
                "def nap(data=tarn.Model('trips')):\n    time.sleep(600)\n    return data\n")
        st, body = srv.req("POST", "/api/v1/runs?ref=main", admin, ts.project_tar({"models.py": slow}))
        assert st == 202, body
        deadline = time.time() + 60
        run = srv.req("GET", "/api/v1/runs/" + body["id"], admin)[1]
        while not run["job_id"] and time.time() < deadline:
            time.sleep(0.2)
            run = srv.req("GET", "/api/v1/runs/" + body["id"], admin)[1]
        assert run["job_id"], run
        time.sleep(1)  # the model is sleeping now
    finally:
        code, log = srv.stop()  # SIGTERM: 20 seconds of grace, then the run is cancelled
    assert code == 0, log
    jobs = json.loads(ts.tarn(home, "-O", "json", "job", "ls").stdout)
    assert [j["status"] for j in jobs if j["id"] == run["job_id"]] == ["cancelled"], jobs
    assert ts.tarn(home, "-O", "json", "commit", "-n", "1").stdout == before
    assert "nap" not in ts.tarn(home, "table", "ls").stdout


def test_a_run_reads_the_config_as_it_is_when_it_starts(lake):
    home, srv, tok = lake
    before = head(srv, tok["alice"], "alice.a")
    nap = ("import time, tarn\n\n@tarn.model(materialization_strategy='REPLACE')\n@tarn.python('3.11')\n"
           "def nap(data=tarn.Model('trips')):\n    time.sleep(30)\n    return data\n")
    config = os.path.join(home, ".tarn", "config")
    text = open(config).read()
    # the server has been serving (and running) since before this change
    with open(config, "a") as f:
        f.write("run.timeout_s = 1\n")
    try:
        last, _ = follow(srv, tok["alice"], "alice.a", {"models.py": nap})
    finally:
        with open(config, "w") as f:
            f.write(text)
    assert last["exit_code"] != 0 and "time limit (1 s)" in last["error"]["message"], last
    assert head(srv, tok["alice"], "alice.a") == before
