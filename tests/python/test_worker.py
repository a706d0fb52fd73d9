"""tarn.worker: user functions in forked workers, tables through memfds."""
import gc
import os
import signal
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest

import tarn
import tarn.worker

MODEL = textwrap.dedent('''
    import os, sys, ctypes
    import numpy as np
    import tarn

    def double(data):
        df = data.to_pandas()
        print("got", len(df), "rows")
        print("a warning", file=sys.stderr)
        df["a"] = df["a"] * 2
        return df

    def join(left, right):
        return {"a": left.column("a"), "b": right.column("b")}

    def passthrough(data):
        return data

    def pid():
        with open("/proc/%d/stat" % os.getppid()) as f:
            supervisor_parent = int(f.read().rsplit(")", 1)[1].split()[1])
        return {"pid": [os.getpid()], "ppid": [os.getppid()], "gppid": [supervisor_parent]}

    def views_mapping(data):
        col = data.column("a")
        addr = col.__array_interface__["data"][0]
        mapped = False
        with open("/proc/self/maps") as f:
            for line in f:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                if lo <= addr < hi and "memfd:tarn:data" in line and line.split()[1].startswith("r-"):
                    mapped = True
        try:
            col[0] = 1
            writable = True
        except ValueError:
            writable = False
        return {"mapped": [mapped], "writable": [writable]}

    def raises(data):
        raise ValueError("bad value in row 3")

    def exits():
        sys.exit(3)

    def hard_exit():
        os._exit(7)

    def segfault():
        ctypes.string_at(0)

    def kill_self():
        os.kill(os.getpid(), 9)

    def hog():
        x = np.ones(2 * 1024**3 // 8)  # 2 GiB
        return {"n": [len(x)]}

    def not_a_table():
        return 42

    def sleeps():
        import time
        time.sleep(60)

    def chatty():
        for i in range(100):
            print("line", i)
        sys.stdout.write("no newline at the end")
        return {"ok": [True]}
''')


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    p = tmp_path_factory.mktemp("models") / "model.py"
    p.write_text(MODEL)
    return str(p)


class Sink:
    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()

    def __call__(self, label, stream, line):
        with self.lock:
            self.lines.append((label, stream, line))


@pytest.fixture(scope="module")
def sink():
    return Sink()


@pytest.fixture(scope="module")
def pool(sink):
    p = tarn.worker.Pool(output=sink)
    yield p
    p.close()


@pytest.fixture
def table():
    return tarn.Table.from_pydict({"a": np.arange(5, dtype=np.int64),
                                   "s": ["x", None, "z", "w", "v"]})


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def test_success_and_output_labels(pool, sink, model, table):
    out = pool.call(model, "double", {"data": table}, label="doubler")
    assert out.column("a").tolist() == [0, 2, 4, 6, 8]
    assert out.column("s").tolist() == ["x", None, "z", "w", "v"]
    assert ("doubler", "stdout", "got 5 rows") in sink.lines
    assert ("doubler", "stderr", "a warning") in sink.lines


def test_default_output_is_labelled(model, table, capfd):
    with tarn.worker.Pool() as p:
        p.call(model, "double", {"data": table}, label="my_model")
    out, err = capfd.readouterr()
    assert "my_model | got 5 rows" in out
    assert "my_model | a warning" in err


def test_many_lines_in_order(pool, sink, model):
    pool.call(model, "chatty", label="chatty")
    lines = [l for lab, st, l in sink.lines if lab == "chatty" and st == "stdout"]
    assert lines == ["line %d" % i for i in range(100)] + ["no newline at the end"]


def test_two_inputs_and_result_in_shared_memory(pool, model, table):
    right = tarn.Table.from_pydict({"b": np.arange(5.0)})
    out = pool.call(model, "join", {"left": table, "right": right})
    assert out.to_pydict() == {"a": [0, 1, 2, 3, 4], "b": [0.0, 1.0, 2.0, 3.0, 4.0]}
    assert out._arrays.fd() >= 0  # the result is a sealed memfd, mapped


def test_inputs_are_mapped_read_only_in_the_worker(pool, model, table):
    out = pool.call(model, "views_mapping", {"data": table})
    assert out.to_pylist() == [{"mapped": True, "writable": False}]


def test_memfd_result_passes_on_without_copy(pool, model, table):
    first = pool.call(model, "passthrough", {"data": table})
    second = pool.call(model, "passthrough", {"data": first})
    assert second.to_pydict() == table.to_pydict()
    st1 = os.fstat(first._arrays.fd())
    st2 = os.fstat(second._arrays.fd())
    # passthrough returns its (mapped) input: the same memfd comes back.
    assert (st1.st_dev, st1.st_ino) == (st2.st_dev, st2.st_ino)


def test_workers_are_forked_from_the_zygote(pool, model):
    # zygote -> supervisor -> the function's process
    a = pool.call(model, "pid").to_pylist()[0]
    b = pool.call(model, "pid").to_pylist()[0]
    assert a["gppid"] == b["gppid"] == pool.zygote_pid
    assert a["ppid"] != b["ppid"]
    assert a["pid"] != b["pid"] != os.getpid()


def test_raise_reports_traceback(pool, model, table):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "raises", {"data": table})
    assert e.value.kind == "exception"
    assert "ValueError: bad value in row 3" in str(e.value)
    assert 'in raises' in e.value.traceback and "ValueError" in e.value.traceback


def test_sys_exit(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "exits")
    assert e.value.kind == "exit" and e.value.exitcode == 3


def test_hard_exit(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "hard_exit")
    assert e.value.kind == "exit" and e.value.exitcode == 7


def test_segfault_reports_signal_and_traceback(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "segfault", label="crasher")
    assert e.value.kind == "signal" and e.value.signal == signal.SIGSEGV
    assert "SIGSEGV" in str(e.value)
    assert "segfault" in e.value.traceback  # faulthandler's Python traceback


def test_killed(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "kill_self")
    assert e.value.signal == signal.SIGKILL


def test_memory_limit(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "hog", memory_limit=256 * 1024**2)
    assert e.value.kind == "memory"
    assert "exceeded its memory limit (256 MiB)" in str(e.value)
    assert "MemoryError" in e.value.traceback


def test_not_a_table(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "not_a_table")
    assert e.value.kind == "bad_return" and "returned int" in str(e.value)


def test_missing_function_and_module(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "no_such_function")
    assert e.value.kind == "import"
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call("/nonexistent/model.py", "f")
    assert e.value.kind == "import"


def test_timeout(pool, model):
    with pytest.raises(tarn.UserFunctionError) as e:
        pool.call(model, "sleeps", timeout=0.5)
    assert e.value.signal == signal.SIGKILL and "timed out" in str(e.value)


def test_concurrent_calls_and_failures_do_not_interfere(pool, model, table):
    results, errors = [], []

    def run(fn):
        try:
            results.append(pool.call(model, fn, {"data": table} if fn in ("double", "raises")
                                     else {}).num_rows)
        except tarn.UserFunctionError as e:
            errors.append(e.kind)

    threads = [threading.Thread(target=run, args=(fn,))
               for fn in ["double", "segfault", "double", "raises", "double", "exits"] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [5] * 6
    assert sorted(errors) == sorted(["signal", "exception", "exit"] * 2)


def test_no_fd_leaks(pool, model, table):
    gc.collect()
    before = fds()
    zygote_before = sorted(os.listdir("/proc/%d/fd" % pool.zygote_pid))
    for fn in ["double", "raises", "segfault", "exits", "not_a_table", "double"]:
        try:
            out = pool.call(model, fn, {"data": table} if fn in ("double", "raises") else {})
            del out
        except tarn.UserFunctionError:
            pass
    gc.collect()
    assert fds() == before
    assert sorted(os.listdir("/proc/%d/fd" % pool.zygote_pid)) == zygote_before


def test_pool_survives_and_closes(model, table):
    p = tarn.worker.Pool()
    with pytest.raises(tarn.UserFunctionError):
        p.call(model, "segfault")
    assert p.call(model, "double", {"data": table}).num_rows == 5
    zpid = p.zygote_pid
    p.close()
    with pytest.raises(ProcessLookupError):
        os.kill(zpid, 0)
    with pytest.raises(tarn.Error):
        p.call(model, "double", {"data": table})


def test_pandas_input_is_accepted(pool, model):
    df = pd.DataFrame({"a": [1, 2, 3], "s": ["p", "q", None]})
    out = pool.call(model, "double", {"data": df})
    assert out.to_pandas()["a"].tolist() == [2, 4, 6]
