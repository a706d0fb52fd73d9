"""Worker processes: run user functions ``Table(s) -> Table`` out of process.

A ``Pool`` starts one *zygote* per environment: a Python process (the
environment's interpreter, its packages on ``sys.path``) that has already
imported numpy, pandas and tarn and then only forks. Every call gets a fresh
worker forked from it, so a call pays neither interpreter start-up nor
imports, and a function that crashes, exits or runs out of memory takes only
its own worker with it. Tables travel as sealed memfds holding one Arrow IPC
stream (``tarn_arrow_shm_create``), passed with SCM_RIGHTS and mapped
read-only on the other side: inputs and result are never copied between
processes.

    pool = tarn.worker.Pool()                     # python=sys.executable
    out = pool.call("models/sales.py", "usd_by_country", {"data": table},
                    label="usd_by_country")       # -> tarn.Table
    pool.close()

Socket protocol (so the C runtime can drive a zygote directly)
-------------------------------------------------------------

Every socket is ``AF_UNIX, SOCK_SEQPACKET``. A message is one packet: a
UTF-8 JSON object, with file descriptors attached as ``SCM_RIGHTS``
ancillary data of that same packet when the message says so. Packets are at
most 1 MiB.

Start-up. The caller creates a socketpair, keeps one end (the *control*
socket) and starts the zygote with the other end inherited::

    PYTHON -m tarn.worker --zygote FD [--preload numpy,pandas] [--path DIR]...

(``tarn`` must be importable: put the directory holding the ``tarn``
package on PYTHONPATH.) When warm, the zygote sends
``{"ok": true, "pid": N, "python": "3.11.2 ..."}``.

Control requests (caller -> zygote), each answered by one reply, in order:

``{"op": "fork", "label": L, "memory_limit": BYTES|null}`` + fds
    ``[call, stdout, stderr]``: *call* is one end of a fresh socketpair (the
    caller keeps the other), *stdout*/*stderr* the write ends of two pipes.
    The zygote forks a worker that owns those three descriptors (stdout and
    stderr become its fds 1 and 2), closes its own copies and replies
    ``{"ok": true, "pid": P}``. *memory_limit* caps the worker's address
    space (RLIMIT_AS) at its size when forked plus BYTES.
``{"op": "wait", "pid": P, "timeout": SECONDS}``
    Waits for worker P to end (killing it with SIGKILL after SECONDS) and
    replies ``{"ok": true, "pid": P, "exitcode": N|null, "signal": S|null}``.
    Every forked worker must be waited for once.
``{"op": "kill", "pid": P, "signal": S}``
    Sends S to worker P; replies ``{"ok": true}``.
``{"op": "ping"}``
    Replies ``{"ok": true, "pid": N}``.

A bad request gets ``{"ok": false, "error": "..."}``. When the control
socket closes the zygote kills its workers and exits.

Call (caller -> worker, on the *call* socket), exactly one per worker:

``{"op": "call", "module": M, "function": F, "inputs": [NAME, ...]}`` + fds
    one sealed memfd per input name, in order. Optional: ``"select": {NAME:
    [columns]}`` (the function sees only those columns), ``"params": {ARG:
    value}`` (more keyword arguments), ``"expectation": true`` (the function
    returns a bool; the reply is ``{"ok": true, "verdict": bool}``),
    ``"label_lines": PATH`` (each output line is prefixed ``LINE<TAB>`` with
    the line of PATH that printed it). M is a file path (``*.py``;
    its folder goes on sys.path) or a dotted module name. The worker maps
    each input read-only as a ``tarn.Table`` and calls ``F(**inputs)``.

Reply (worker -> caller), then the worker exits:

``{"ok": true, "rows": N, "columns": [...], "size": BYTES}`` + fd
    the result, a sealed memfd holding one Arrow IPC stream. The function
    may return a tarn.Table, a pandas DataFrame, a dict of columns or any
    object with ``__arrow_c_stream__``.
``{"ok": false, "kind": K, "error": MESSAGE, "traceback": TEXT|null, "exitcode": N|null}``
    K is "exception" (the function raised; MemoryError included), "exit"
    (it called sys.exit), "bad_return" (its value is not a table), "import"
    (the module or function could not be loaded) or "input" (an input could
    not be mapped).

If the call socket reaches end-of-file without a reply, the worker died
(a signal such as SIGSEGV or SIGKILL, or ``os._exit``): the caller learns
how from the zygote's ``wait`` reply. Everything the function writes to
stdout and stderr arrives on the two pipes; the caller forwards it line by
line, labelled ``LABEL | line``. faulthandler is on in workers, so a crash
leaves its Python traceback on stderr.
"""
import gc
import importlib
import importlib.util
import json
import os
import re
import resource
import signal
import socket
import sys
import threading
import time
import traceback

__all__ = ["Pool"]

MAX_PACKET = 1 << 20
MAX_FDS = 253


def _send(sock, obj, fds=()):
    # A lone surrogate (a byte decoded with surrogateescape, e.g. in an
    # exception message) has no UTF-8 form and no JSON reader accepts its
    # escape: it becomes U+FFFD, so that the message still arrives.
    text = json.dumps(obj, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = re.sub("[\ud800-\udfff]", "\ufffd", text).encode("utf-8")
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _recv(sock):
    """(message or None at end-of-file, [fds])."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_PACKET, MAX_FDS)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(data.decode("utf-8")), fds


def _signal_name(sig):
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "signal %d" % sig


# ---- the zygote and its workers (child side) --------------------------------

def _set_pdeathsig():
    """Workers die with their zygote (Linux PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:  # pragma: no cover - best effort
        pass


def _vm_size():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover
        return 0


def _load_function(module, function):
    if module.endswith(".py") or os.sep in module:
        path = os.path.abspath(module)
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None:
            raise ImportError("cannot load %s" % path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    else:
        mod = importlib.import_module(module)
    fn = getattr(mod, function, None)
    if fn is None:
        raise AttributeError("%s has no function %r" % (module, function))
    return fn


def _worker_main(ctl, call_fd, out_fd, err_fd, req):
    """In the forked worker: serve one call, then exit (never returns)."""
    code = 0
    try:
        ctl.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _set_pdeathsig()
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        import faulthandler
        faulthandler.enable(file=sys.stderr)
        gc.enable()
        limit = req.get("memory_limit")
        if limit:
            cap = _vm_size() + int(limit)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        sock = socket.socket(fileno=call_fd)
        _serve_call(sock)
    except BaseException:  # pragma: no cover - the worker must never return
        code = 70
        try:
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


def _serve_call(sock):
    from .table import Table

    req, fds = _recv(sock)
    if req is None:
        return
    reply, out_fd = _run_call(req, fds, Table)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        _send(sock, reply, [out_fd] if out_fd is not None else [])
    finally:
        if out_fd is not None:
            os.close(out_fd)


class _LabelledLines:
    """A text stream that prefixes each line with the line of PATH (the
    user's file) that printed it: ``LINE<TAB>text`` (0 when unknown), so the
    caller can label output ``model @ file:line | text``."""

    def __init__(self, out, path):
        self._out = out
        self._path = os.path.abspath(path)
        self._pending = ""

    def _line(self):
        f = sys._getframe(2)
        while f is not None:
            if os.path.abspath(f.f_code.co_filename) == self._path:
                return f.f_lineno
            f = f.f_back
        return 0

    def write(self, text):
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._out.write("%d\t%s\n" % (self._line(), line))
        self._out.flush()
        return len(text)

    def flush(self):
        if self._pending:
            self._out.write("%d\t%s\n" % (self._line(), self._pending))
            self._pending = ""
        self._out.flush()


def _run_call(req, fds, Table):
    module, function = req.get("module", "?"), req.get("function", "?")
    names = req.get("inputs", [])
    select = req.get("select") or {}
    inputs = {}
    if req.get("label_lines"):
        sys.stdout = _LabelledLines(sys.stdout, req["label_lines"])
        sys.stderr = _LabelledLines(sys.stderr, req["label_lines"])
    try:
        if len(names) != len(fds):
            raise ValueError("%d input names but %d descriptors" % (len(names), len(fds)))
        for name, fd in zip(names, fds):
            # The runtime (or a Pool caller) wrote or checked these: trusted.
            inputs[name] = Table._from_fd(fd, trusted=True)
            if name in select:
                inputs[name] = inputs[name].select(select[name])
    except BaseException as e:
        return _failure("input", "cannot map the inputs: %s" % e), None
    finally:
        for fd in fds:
            os.close(fd)
    try:
        fn = _load_function(module, function)
    except BaseException as e:
        return _failure("import", "cannot load %s:%s: %s: %s"
                        % (module, function, type(e).__name__, e), traceback.format_exc()), None
    inputs.update(req.get("params") or {})
    try:
        result = fn(**inputs)
    except SystemExit as e:
        exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return _failure("exit", "%s called sys.exit(%r)" % (function, e.code),
                        traceback.format_exc(), exitcode=exit_code), None
    except BaseException as e:
        # The traceback starts at the user's function: this module's frame
        # says nothing to them.
        tb = e.__traceback__.tb_next if e.__traceback__ is not None else None
        return _failure("exception", "%s: %s" % (type(e).__name__, e),
                        "".join(traceback.format_exception(type(e), e, tb))), None
    del inputs
    if req.get("expectation"):
        if not isinstance(result, bool) and type(result).__name__ != "bool_":
            return _failure("bad_return", "expectation %s returned %s, not a bool"
                            % (function, type(result).__name__)), None
        return {"ok": True, "verdict": bool(result)}, None
    try:
        table = Table._coerce(result)
    except BaseException as e:
        return _failure("bad_return", "%s returned %s, not a table (return a tarn.Table, a "
                        "pandas DataFrame, a dict of columns or an Arrow stream): %s"
                        % (function, type(result).__name__, e), traceback.format_exc()), None
    try:
        fd, size = table._to_memfd("tarn:" + str(function))
    except BaseException as e:
        return _failure("bad_return", "cannot encode the result of %s: %s: %s"
                        % (function, type(e).__name__, e), traceback.format_exc()), None
    return {"ok": True, "rows": table.num_rows, "columns": table.column_names,
            "size": size}, fd


def _failure(kind, message, tb=None, exitcode=None):
    return {"ok": False, "kind": kind, "error": message, "traceback": tb, "exitcode": exitcode}


def _wait_child(pid, timeout):
    deadline = time.monotonic() + (timeout if timeout is not None else 30.0)
    delay = 0.0005
    killed = False
    while True:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return {"ok": False, "error": "no worker %d" % pid}
        if got == pid:
            if os.WIFSIGNALED(status):
                return {"ok": True, "pid": pid, "exitcode": None,
                        "signal": os.WTERMSIG(status)}
            return {"ok": True, "pid": pid, "exitcode": os.WEXITSTATUS(status), "signal": None}
        if not killed and time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            killed = True
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def _zygote_main(fd, preload=(), paths=()):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    ctl = socket.socket(fileno=fd)
    for mod in preload:
        if mod:
            importlib.import_module(mod)
    from . import table as _table  # noqa: F401  (warm: tarn and its extension)
    gc.collect()
    gc.freeze()  # keep the warm heap shared copy-on-write with the workers
    workers = set()
    _send(ctl, {"ok": True, "pid": os.getpid(), "python": sys.version})
    try:
        while True:
            try:
                req, fds = _recv(ctl)
            except (ConnectionError, OSError):
                break
            if req is None:
                break
            op = req.get("op")
            try:
                if op == "fork":
                    if len(fds) != 3:
                        raise ValueError("fork takes 3 descriptors (call, stdout, stderr)")
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        _worker_main(ctl, fds[0], fds[1], fds[2], req)
                    workers.add(pid)
                    reply = {"ok": True, "pid": pid}
                elif op == "wait":
                    pid = int(req["pid"])
                    reply = _wait_child(pid, req.get("timeout"))
                    workers.discard(pid)
                elif op == "kill":
                    pid = int(req["pid"])
                    if pid not in workers:
                        raise ValueError("no worker %d" % pid)
                    os.kill(pid, int(req.get("signal", signal.SIGKILL)))
                    reply = {"ok": True}
                elif op == "ping":
                    reply = {"ok": True, "pid": os.getpid()}
                else:
                    raise ValueError("unknown op %r" % (op,))
            except Exception as e:
                reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            finally:
                for f in fds:
                    os.close(f)
            _send(ctl, reply)
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    os._exit(0)


# ---- the caller's side --------------------------------------------------------

def _default_output(label, stream, line):
    out = sys.stdout if stream == "stdout" else sys.stderr
    out.write("%s | %s\n" % (label, line))
    out.flush()


class _Forwarder(threading.Thread):
    """Reads one pipe line by line and hands each line to OUTPUT."""

    def __init__(self, fd, label, stream, output, keep):
        super().__init__(daemon=True)
        self.fd, self.label, self.stream, self.output = fd, label, stream, output
        self.tail = []
        self.keep = keep

    def run(self):
        with open(self.fd, "rb", buffering=0) as f:
            pending = b""
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._emit(line)
            if pending:
                self._emit(pending)

    def _emit(self, raw):
        line = raw.decode("utf-8", "replace")
        if self.keep:
            self.tail.append(line)
            del self.tail[:-self.keep]
        try:
            self.output(self.label, self.stream, line)
        except Exception:  # pragma: no cover - a broken sink must not hang the call
            pass


class Pool:
    """Workers for one environment, forked on demand from a warm zygote.

    python   the interpreter (default: this one); path: extra sys.path entries
             (the environment's packages); preload: modules the zygote imports
             before forking; output: ``output(label, stream, line)`` receives
             every line a function prints (default: ``label | line`` on this
             process's stdout/stderr). Thread-safe: calls may run concurrently.
    """

    def __init__(self, python=None, path=(), preload=("numpy", "pandas"), output=None,
                 env=None):
        self.python = python or sys.executable
        self.output = output or _default_output
        self._lock = threading.Lock()
        self._closed = False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        child_env = dict(os.environ if env is None else env)
        child_env["PYTHONPATH"] = os.pathsep.join(
            [pkg_parent] + [p for p in child_env.get("PYTHONPATH", "").split(os.pathsep) if p])
        argv = [self.python, "-m", "tarn.worker", "--zygote", str(theirs.fileno()),
                "--preload", ",".join(preload)]
        for p in path:
            argv += ["--path", p]
        import subprocess
        try:
            self._proc = subprocess.Popen(argv, pass_fds=[theirs.fileno()], env=child_env,
                                          stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._ctl = ours
        hello, _ = _recv(ours)
        if hello is None or not hello.get("ok"):
            self._proc.wait()
            ours.close()
            from .errors import Error
            raise Error("the worker zygote (%s) failed to start" % self.python)
        self.zygote_pid = hello["pid"]

    def _request(self, req, fds=()):
        from .errors import Error
        with self._lock:
            if self._closed:
                raise Error("the worker pool is closed")
            _send(self._ctl, req, fds)
            reply, extra = _recv(self._ctl)
        for fd in extra:
            os.close(fd)
        if reply is None:
            raise Error("the worker zygote exited")
        if not reply.get("ok"):
            raise Error("worker zygote: %s" % reply.get("error"))
        return reply

    def call(self, module, function, inputs=None, label=None, memory_limit=None,
             timeout=None, output=None):
        """Run FUNCTION of MODULE (a .py path or a module name) on INPUTS
        ({name: tarn.Table or anything tarn.Table() accepts}) in a fresh
        worker; returns the result as a tarn.Table mapped from shared memory.
        A failure raises tarn.UserFunctionError with kind, traceback,
        exitcode or signal. MEMORY_LIMIT (bytes) caps what the worker may
        allocate; TIMEOUT (seconds) kills it."""
        from .errors import UserFunctionError
        from .table import Table

        label = label or function
        output = output or self.output
        inputs = dict(inputs or {})
        names = list(inputs)
        call_ours = call_theirs = None
        pipes, send_fds, forwarders = [], [], []
        pid = None
        try:
            for name in names:
                t = inputs[name] if isinstance(inputs[name], Table) else Table(inputs[name])
                fd, _size = t._to_memfd("tarn:" + name)
                send_fds.append(fd)
            call_ours, call_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            for stream in ("stdout", "stderr"):
                r, w = os.pipe2(os.O_CLOEXEC)
                pipes.append((r, w, stream))
            reply = self._request({"op": "fork", "label": label, "memory_limit": memory_limit},
                                  [call_theirs.fileno(), pipes[0][1], pipes[1][1]])
            pid = reply["pid"]
            call_theirs.close()
            call_theirs = None
            for r, w, stream in pipes:
                os.close(w)
                fw = _Forwarder(r, label, stream, output, keep=20 if stream == "stderr" else 0)
                fw.start()
                forwarders.append(fw)
            pipes = []
            _send(call_ours, {"op": "call", "module": str(module), "function": function,
                              "inputs": names}, send_fds)
            for fd in send_fds:
                os.close(fd)
            send_fds = []
            call_ours.settimeout(timeout)
            try:
                result, fds = _recv(call_ours)
            except socket.timeout:
                self._request({"op": "kill", "pid": pid, "signal": signal.SIGKILL})
                result, fds = None, []
            except ConnectionError:
                result, fds = None, []
            table = None
            if result is not None and result.get("ok"):
                try:
                    if len(fds) != 1:
                        raise ValueError("result message carried %d descriptors" % len(fds))
                    table = Table._from_fd(fds[0])
                finally:
                    for fd in fds:
                        os.close(fd)
            else:
                for fd in fds:
                    os.close(fd)
            status = self._request({"op": "wait", "pid": pid, "timeout": 10})
            pid = None
            for fw in forwarders:
                fw.join(timeout=5)
            stderr_tail = "\n".join(forwarders[1].tail) if len(forwarders) > 1 else ""
            if table is not None:
                return table
            where = "%s (%s)" % (function, module)
            if result is not None:
                raise UserFunctionError(
                    "%s failed: %s" % (where, result.get("error")), kind=result.get("kind"),
                    traceback=result.get("traceback"), exitcode=result.get("exitcode"),
                    function=where)
            if status.get("signal") is not None:
                sig = status["signal"]
                hint = " (out of memory?)" if sig == signal.SIGKILL and timeout is None else ""
                hint = " (timed out after %ss)" % timeout if sig == signal.SIGKILL and \
                    timeout is not None else hint
                raise UserFunctionError(
                    "%s was killed by %s%s" % (where, _signal_name(sig), hint), kind="signal",
                    signal=sig, traceback=stderr_tail or None, function=where)
            raise UserFunctionError(
                "%s exited with status %s before returning a result" % (where,
                                                                      status.get("exitcode")),
                kind="exit", exitcode=status.get("exitcode"), traceback=stderr_tail or None,
                function=where)
        finally:
            for fd in send_fds:
                os.close(fd)
            for r, w, _stream in pipes:
                os.close(r)
                os.close(w)
            if call_theirs is not None:
                call_theirs.close()
            if call_ours is not None:
                call_ours.close()
            if pid is not None:
                try:
                    self._request({"op": "kill", "pid": pid, "signal": signal.SIGKILL})
                    self._request({"op": "wait", "pid": pid, "timeout": 10})
                except Exception:
                    pass
            for fw in forwarders:
                fw.join(timeout=5)

    def close(self):
        """Stop the zygote (and any worker still running)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._ctl.close()
        try:
            self._proc.wait(timeout=10)
        except Exception:  # pragma: no cover
            self._proc.kill()
            self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def _main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m tarn.worker")
    ap.add_argument("--zygote", type=int, required=True, help="inherited control socket fd")
    ap.add_argument("--preload", default="numpy,pandas")
    ap.add_argument("--path", action="append", default=[])
    args = ap.parse_args(argv)
    _zygote_main(args.zygote, [m for m in args.preload.split(",") if m], args.path)


if __name__ == "__main__":
    _main(sys.argv[1:])
