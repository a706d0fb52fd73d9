"""tarn.confine through tarn.worker.Pool: what a confined function can and
cannot do, in each mode a kernel may leave us (docs/models.md says the same
in words). TARN_CONFINE_WITHOUT makes the zygote act as if the kernel
lacked a layer."""
import os
import socket
import textwrap
import threading

import numpy as np
import pytest

import tarn
import tarn.worker

PROBE = textwrap.dedent('''
    import os, socket

    def _try(fn):
        try:
            fn()
            return "done"
        except BaseException as e:
            return type(e).__name__

    def probe():
        lake = {lake!r}
        out = {{
            "catalog": _try(lambda: open(lake + "/catalog.db", "rb").read(4)),
            "object": _try(lambda: open(lake + "/objects/data.parquet", "rb").read(4)),
            "list_lake": _try(lambda: os.listdir(lake + "/objects")),
            "package": _try(lambda: open(lake + "/envs/pkgs/p-1.0/p.py").read()),
            "write_beside": _try(lambda: open({beside!r}, "w").write("x")),
            "write_scratch": _try(lambda: open("scratch.txt", "w").write("x")),
            "tcp": _try(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close()),
            "socketpair": _try(lambda: socket.socketpair()),
            "tarn_env": "done" if any(k.startswith("TARN_") for k in os.environ) else "absent",
        }}
        return {{k: [v] for k, v in out.items()}}

    def parent_pid():
        return {{"ppid": [os.getppid()]}}

    def signal_parent():
        import signal
        os.kill(os.getppid(), signal.SIGKILL)
        return {{"ok": [True]}}

    def small_sum(data):
        return {{"s": [int(data.column("a").sum())]}}

    def _square(x):
        return x * x

    def own_processes():
        import multiprocessing, subprocess, tempfile
        with multiprocessing.Pool(2) as p:
            squares = p.map(_square, range(10))
        echo = subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout.strip()
        with tempfile.NamedTemporaryFile() as t:
            t.write(b"x")
            where = os.path.dirname(t.name) == os.getcwd()
        return {{"sum": [sum(squares)], "echo": [echo], "tmp_in_scratch": [where]}}
''')


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    root = tmp_path_factory.mktemp("confine")
    lake = root / ".tarn"
    (lake / "objects").mkdir(parents=True)
    (lake / "envs" / "pkgs" / "p-1.0").mkdir(parents=True)
    (lake / "catalog.db").write_bytes(b"SQLite format 3\0")
    (lake / "objects" / "data.parquet").write_bytes(b"PAR1")
    (lake / "envs" / "pkgs" / "p-1.0" / "p.py").write_text("X = 1\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []

    def serve():
        while True:
            try:
                c, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    model = root / "proj" / "model.py"
    model.parent.mkdir()
    model.write_text(PROBE.format(lake=str(lake), beside=str(root / "proj" / "beside.txt"),
                                  port=server.getsockname()[1]))
    yield {"root": root, "lake": str(lake), "model": str(model), "accepted": accepted,
           "beside": root / "proj" / "beside.txt"}
    server.close()


def policy(place, **kw):
    p = {"mode": "auto", "hide": [place["lake"]],
         "read": [place["lake"] + "/envs/pkgs/p-1.0"], "internet": False}
    p.update(kw)
    return p


def run_probe(place, without="", **kw):
    env = dict(os.environ, TARN_CONFINE_WITHOUT=without, TARN_HOME=place["lake"])
    place["accepted"].clear()
    if place["beside"].exists():
        place["beside"].unlink()
    with tarn.worker.Pool(env=env, preload=()) as pool:
        out = pool.call(place["model"], "probe", confine=policy(place, **kw))
    return {k: v[0] for k, v in out.to_pydict().items()}


def denied(v):
    return v in ("PermissionError", "FileNotFoundError", "ConnectionRefusedError", "OSError",
                 "TimeoutError", "ConnectionError")


def test_full_confinement(place):
    r = run_probe(place)
    # the lakehouse is not there at all; its package entry is
    assert r["catalog"] == "FileNotFoundError" and r["object"] == "FileNotFoundError"
    assert r["list_lake"] == "FileNotFoundError"
    assert r["package"] == "done"
    assert denied(r["write_beside"]) and not place["beside"].exists()
    assert r["write_scratch"] == "done"
    assert r["tcp"] == "PermissionError" and not place["accepted"]
    assert r["socketpair"] == "done"
    assert r["tarn_env"] == "absent"  # TARN_HOME and the like do not reach user code


def test_landlock_without_namespaces(place):
    r = run_probe(place, without="namespaces")
    # files cannot be opened; their names can be listed (documented)
    assert r["catalog"] == "PermissionError" and r["object"] == "PermissionError"
    assert r["list_lake"] == "done"
    assert r["package"] == "done"
    assert r["write_beside"] == "PermissionError" and not place["beside"].exists()
    assert r["write_scratch"] == "done"
    assert r["tcp"] == "PermissionError" and not place["accepted"]


def test_namespaces_without_landlock(place):
    r = run_probe(place, without="landlock")
    assert r["catalog"] == "FileNotFoundError" and r["list_lake"] == "FileNotFoundError"
    assert r["package"] == "done"
    # writes outside the scratch folder are not confined (documented)
    assert r["write_beside"] == "done"
    assert r["tcp"] == "PermissionError" and not place["accepted"]


def test_without_seccomp_the_network_is_still_gone(place):
    r = run_probe(place, without="seccomp")
    assert denied(r["tcp"]) and not place["accepted"]
    assert r["catalog"] == "FileNotFoundError"


def test_without_landlock_or_namespaces_it_refuses(place):
    with pytest.raises(tarn.UserFunctionError) as e:
        run_probe(place, without="landlock,namespaces")
    assert e.value.kind == "refused"
    assert "run.confine = off" in str(e.value)


def test_internet_access(place):
    r = run_probe(place, internet=True)
    assert r["tcp"] == "done" and place["accepted"]
    assert r["catalog"] == "FileNotFoundError"  # the lakehouse stays hidden


def test_off_is_unconfined(place):
    r = run_probe(place, mode="off")
    assert r["catalog"] == "done" and r["tcp"] == "done"


def test_a_function_cannot_signal_its_supervisor(place):
    with tarn.worker.Pool(preload=()) as pool:
        ppid = pool.call(place["model"], "parent_pid", confine=policy(place)).to_pylist()[0]["ppid"]
        assert ppid == 1  # pid 1 of its own namespace, not a process of ours
        with pytest.raises(tarn.UserFunctionError) as e:
            pool.call(place["model"], "signal_parent", confine=policy(place))
        assert e.value.kind == "exception" and "PermissionError" in e.value.traceback


def test_memory_limit_counts_what_the_function_adds(place):
    # A 400 MB input under a 100 MiB limit: mapping the input is not counted.
    big = tarn.Table.from_pydict({"a": np.ones(50_000_000, dtype=np.int64)})
    with tarn.worker.Pool(preload=("numpy",)) as pool:
        out = pool.call(place["model"], "small_sum", {"data": big}, memory_limit=100 << 20,
                        confine=policy(place))
    assert out.to_pylist() == [{"s": 50_000_000}]


@pytest.mark.parametrize("without", ["", "namespaces"])
def test_processes_pipes_and_temporary_files_work(place, without):
    env = dict(os.environ, TARN_CONFINE_WITHOUT=without)
    with tarn.worker.Pool(env=env, preload=()) as pool:
        out = pool.call(place["model"], "own_processes", confine=policy(place))
    assert out.to_pylist() == [{"sum": 285, "echo": "hi", "tmp_in_scratch": True}]
