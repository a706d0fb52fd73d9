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
package on PYTHONPATH.) Each ``--path`` (an environment's package entry)
goes on ``sys.path`` after the standard library and before the
interpreter's site-packages, as a venv would put them; the folder holding
``tarn`` moves to the end. With ``PYTHONPYCACHEPREFIX`` set, the zygote
byte-compiles the ``--path`` entries there before it is warm (workers
cannot write that cache). When warm, the zygote sends ``{"ok": true,
"pid": N, "python": "3.11.2 ...", "confine": {...what the kernel
offers}}``.

Control requests (caller -> zygote), each answered by one reply, in order:

``{"op": "fork", "label": L, "limits": {...}, "confine": {...}, "environ": {...}}`` + fds
    ``[call, stdout, stderr]``: *call* is one end of a fresh socketpair (the
    caller keeps the other), *stdout*/*stderr* the write ends of pipes
    (possibly the same one). The zygote forks a worker that owns those three
    descriptors and replies ``{"ok": true, "pid": P}``. *limits*:
    ``{"memory": BYTES, "timeout": SECONDS, "cpus": N}`` (each optional):
    the address space the function may add once its inputs are mapped, the
    time from fork to the end of the call, the CPUs it may run on.
    *confine* (optional): the policy of tarn.confine (``{"mode", "hide",
    "read", "internet"}``); without it the worker is supervised (limits,
    its processes killed when it ends) but not confined. The older
    ``"memory_limit": BYTES`` is the same as ``limits.memory``. *environ*
    (optional): the environment the worker's ``os.environ`` becomes (the
    caller's, when the zygote was started for another caller).
``{"op": "abandon", "pid": P}``
    Nobody will wait for worker P (forked ahead of a call that never came;
    its call socket is closed, so it ends): the zygote reaps it itself.
``{"op": "wait", "pid": P, "timeout": SECONDS}``
    Waits for worker P to end (killing it with SIGKILL after SECONDS) and
    replies ``{"ok": true, "pid": P, "exitcode": N|null, "signal": S|null}``.
    Every forked worker must be waited for (or abandoned) once.
``{"op": "kill", "pid": P, "signal": S}``
    Sends S to worker P; replies ``{"ok": true}``.
``{"op": "ping"}``
    Replies ``{"ok": true, "pid": N}``.
``{"op": "discover", "files": [PATH, ...], "env": {NAME: VALUE}}`` + fds ``[stdout, stderr]``
    Forks a child that runs ``python3 -m tarn.discover FILES`` as if started
    with ENV added to its environment (the same output on *stdout*, the same
    exit status, to be waited for like a worker), without paying the
    interpreter's start-up and imports; replies ``{"ok": true, "pid": P}``.
    tarn.discover confines the files' top level itself.

A bad request gets ``{"ok": false, "error": "..."}``. When the control
socket closes the zygote kills its workers and exits.

A worker is a supervisor (tarn.confine.supervise) and, below it, the
process that runs the function, in its own process group and, when the
kernel allows, its own pid namespace: whatever the function starts is
killed when the call ends, and nothing else holds the output pipes.

Call (caller -> worker, on the *call* socket), exactly one per worker:

``{"op": "call", "module": M, "function": F, "inputs": [NAME, ...]}`` + fds
    one sealed memfd per input name, in order. Optional: ``"select": {NAME:
    [columns]}`` (the function sees only those columns), ``"format": {NAME:
    "pyarrow" | "polars" | "tarn"}`` (tarn.table.model_input), ``"params": {ARG:
    value}`` (more keyword arguments), ``"expectation": true`` (the function
    returns a bool; the reply is ``{"ok": true, "verdict": bool}``),
    ``"label_lines": PATH`` (each output line is prefixed ``LINE<TAB>`` with
    the line of PATH that printed it), ``"columns": [names]`` (the table
    returned must have exactly these columns, in any order: else
    "bad_return"). M is a file path (``*.py``;
    its folder goes on sys.path) or a dotted module name. The worker maps
    each input read-only as a ``tarn.Table`` and calls ``F(**inputs)``.

Replies (worker -> caller), then end-of-file:

``{"ok": true, "rows": N, "columns": [...], "size": BYTES}`` + fd
    the result, a sealed memfd holding one Arrow IPC stream. The function
    may return a tarn.Table, a pandas DataFrame, a dict of columns or any
    object with ``__arrow_c_stream__``.
``{"ok": false, "kind": K, "error": MESSAGE, "traceback": TEXT|null, "exitcode": N|null}``
    K is "exception" (the function raised), "memory" (it ran out of its
    memory limit: MemoryError under ``limits.memory``, with ``"limit"``),
    "exit" (it called sys.exit), "bad_return" (its value is not a table),
    "import" (the module or function could not be loaded) or "input" (an
    input could not be mapped).
``{"op": "end", "exitcode": N|null, "signal": S|null, "timed_out": bool, "timeout": T, "confined": [layers], "refused": MESSAGE|null, "cancelled": bool}``
    always last, from the supervisor: how the function's process ended
    (``timed_out``: killed at the time limit), which confinement layers it
    ran under, or why it was not run at all (``refused``).

Strings in replies are valid UTF-8: bytes that are not (from
``surrogateescape``) are written ``\\xNN``. Everything the function
writes to stdout and stderr arrives on the pipes, undecodable bytes
included (the runtime escapes them). faulthandler is on in workers, so a
crash leaves its Python traceback on stderr.
"""
import codecs
import gc
import importlib
import importlib.util
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback

from . import confine

__all__ = ["Pool"]

MAX_PACKET = 1 << 20
MAX_FDS = 253
MAX_LINE = 8192  # longer output lines are cut (the runtime cuts them too)


def _escape_surrogates(err):
    """Encoding error handler: a byte that came in undecodable (a
    surrogateescape surrogate) goes out as that byte, any other lone
    surrogate as ``\\uXXXX``: printing never fails and never drops text."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = bytearray()
    for ch in err.object[err.start:err.end]:
        c = ord(ch)
        out += bytes([c - 0xDC00]) if 0xDC80 <= c <= 0xDCFF else ("\\u%04x" % c).encode()
    return bytes(out), err.end


codecs.register_error("tarn.escape", _escape_surrogates)


def _clean(obj):
    """OBJ with every string valid UTF-8 (JSON readers reject lone
    surrogates): undecodable bytes become ``\\xNN``."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:
            raw = obj.encode("utf-8", "tarn.escape")
            return raw.decode("utf-8", "backslashreplace")
    if isinstance(obj, dict):
        return {_clean(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _send(sock, obj, fds=()):
    data = json.dumps(_clean(obj)).encode("utf-8")
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


def _worker_main(ctl, call_fd, out_fd, err_fd, req, scratch):
    """In the forked worker: supervise one call (never returns)."""
    try:
        ctl.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        if out_fd not in (1, 2):
            os.close(out_fd)
        if err_fd not in (1, 2, out_fd):
            os.close(err_fd)
        sock = socket.socket(fileno=call_fd)
        _take_environ(req)
        limits = dict(req.get("limits") or {})
        if req.get("memory_limit") and not limits.get("memory"):
            limits["memory"] = req["memory_limit"]

        def body():
            sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="tarn.escape",
                              closefd=False)
            sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="tarn.escape",
                              closefd=False)
            import faulthandler
            faulthandler.enable(file=sys.stderr)
            gc.enable()
            _serve_call(sock, limits.get("memory"))
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:
                pass

        def report(end):
            end["op"] = "end"
            if os.environ.get("TARN_FAULT") == "worker:before-end":
                os.kill(os.getpid(), signal.SIGKILL)  # crash test: no account given
            try:
                _send(sock, end)
            except OSError:
                pass  # the caller went away

        confine.supervise(req.get("confine"), body, report, scratch, timeout=limits.get("timeout"),
                          cpus=limits.get("cpus"), keep_fds=[call_fd])
    except BaseException:  # pragma: no cover - the worker must never return
        try:
            traceback.print_exc()
        except BaseException:
            pass
    os._exit(70)


def _take_environ(req):
    """A zygote lent by the warm runtime was started for an earlier run:
    the request carries the caller's environment, which the function sees."""
    env = req.get("environ")
    if isinstance(env, dict):
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})


def _discover_main(ctl, out_fd, err_fd, req):
    """In a child of the zygote: ``python3 -m tarn.discover`` (never returns)."""
    code = 70
    try:
        ctl.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        for fd in {out_fd, err_fd} - {1, 2}:
            os.close(fd)
        sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        _take_environ(req)
        for k, v in (req.get("env") or {}).items():
            os.environ[str(k)] = str(v)
        sys.dont_write_bytecode = True  # as PYTHONDONTWRITEBYTECODE=1
        gc.enable()
        from . import discover
        code = discover.main([str(f) for f in req.get("files") or []])
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(code if isinstance(code, int) else 1)


def _serve_call(sock, memory_limit):
    from .table import Table

    req, fds = _recv(sock)
    if req is None:
        return
    reply, out_fd = _run_call(req, fds, Table, memory_limit)
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
    caller can label output ``model @ file:line | text``. Linear in what is
    written, however it is split."""

    def __init__(self, out, path):
        self._out = out
        self._path = os.path.abspath(path)
        self._pending = []
        self.buffer = _BytesInto(self)

    def __getattr__(self, name):  # encoding, isatty(), fileno()...: the real stream's
        return getattr(self._out, name)

    def _line(self):
        f = sys._getframe(2)
        while f is not None:
            if os.path.abspath(f.f_code.co_filename) == self._path:
                return f.f_lineno
            f = f.f_back
        return 0

    def write(self, text):
        if "\n" not in text:
            self._pending.append(text)
            return len(text)
        lines = text.split("\n")
        if self._pending:
            lines[0] = "".join(self._pending) + lines[0]
            self._pending = []
        rest = lines.pop()
        if rest:
            self._pending.append(rest)
        n = self._line()
        for line in lines:
            self._out.write("%d\t%s\n" % (n, line))
        self._out.flush()
        return len(text)

    def flush(self):
        if self._pending:
            self._out.write("%d\t%s\n" % (self._line(), "".join(self._pending)))
            self._pending = []
        self._out.flush()


class _BytesInto:
    """``sys.stdout.buffer`` of a labelled stream: bytes become text with
    their undecodable bytes kept (surrogateescape), and leave as the same
    bytes."""

    def __init__(self, text):
        self._text = text

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "surrogateescape"))
        return len(data)

    def flush(self):
        self._text.flush()


def _run_call(req, fds, Table, memory_limit=None):
    from .table import model_input, model_output
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
            inputs[name] = model_input(inputs[name], (req.get("format") or {}).get(name))
    except BaseException as e:
        return _failure("input", "cannot map the inputs: %s" % e), None
    finally:
        for fd in fds:
            os.close(fd)
    if memory_limit:
        confine.limit_memory(memory_limit)  # on top of the inputs, now mapped
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
        text = "".join(traceback.format_exception(type(e), e, tb))
        if memory_limit and isinstance(e, MemoryError):
            out = _failure("memory", "%s exceeded its memory limit (%d MiB)"
                           % (function, int(memory_limit) >> 20), text)
            out["limit"] = memory_limit
            return out, None
        return _failure("exception", "%s: %s" % (type(e).__name__, e), text), None
    del inputs
    if req.get("expectation"):
        if not isinstance(result, bool) and type(result).__name__ != "bool_":
            return _failure("bad_return", "expectation %s returned %s, not a bool"
                            % (function, type(result).__name__)), None
        return {"ok": True, "verdict": bool(result)}, None
    try:
        table = model_output(result)
    except BaseException as e:
        return _failure("bad_return", "%s returned %s, not a table (return a tarn.Table, a "
                        "pandas DataFrame, a dict of columns or an Arrow stream): %s"
                        % (function, type(result).__name__, e), traceback.format_exc()), None
    declared = req.get("columns")
    if declared is not None:
        got = table.column_names
        missing = [c for c in declared if c not in got]
        extra = [c for c in got if c not in declared]
        if missing or extra:
            parts = (["missing %s" % ", ".join(repr(c) for c in missing)] if missing else []) + \
                    (["not declared %s" % ", ".join(repr(c) for c in extra)] if extra else [])
            return _failure("bad_return", "%s returned columns %s, not the columns its "
                            "@model(columns=...) declares (%s): %s"
                            % (function, got, ", ".join(declared), "; ".join(parts))), None
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
    try:
        status, _killed = confine.wait_child(pid, timeout if timeout is not None else 30.0)
    except ChildProcessError:
        return {"ok": False, "error": "no worker %d" % pid}
    if os.WIFSIGNALED(status):
        return {"ok": True, "pid": pid, "exitcode": None, "signal": os.WTERMSIG(status)}
    return {"ok": True, "pid": pid, "exitcode": os.WEXITSTATUS(status), "signal": None}


def _is_stdlib(path):
    """Whether PATH holds the standard library (not site-packages)."""
    import sysconfig
    p = os.path.realpath(path) if path else ""
    if not p or "site-packages" in p or "dist-packages" in p:
        return False
    roots = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    return any(p == r or p.startswith(r + os.sep) for r in roots) or \
        (p.endswith(".zip") and os.path.dirname(p) in {os.path.dirname(r) for r in roots})


def _arrange_path(paths):
    """sys.path as a venv has it: the standard library, then the
    environment's entries (PATHS), then the interpreter's site-packages,
    then the folder tarn was loaded from. A package of the environment
    named like a standard module (a wheel with a top-level ``json``) can
    no longer break the worker, and nothing comes from the current
    folder."""
    tarn_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    installed = "site-packages" in tarn_dir or "dist-packages" in tarn_dir
    cwd = os.getcwd()
    rest = [p for p in sys.path if p and p != cwd and (installed or os.path.abspath(p) != tarn_dir)]
    stdlib = [p for p in rest if _is_stdlib(p)]
    site = [p for p in rest if p not in stdlib and p not in paths]
    sys.path[:] = stdlib + list(paths) + site + ([] if installed else [tarn_dir])


def _compile_entries(paths):
    """Byte-compiles the environment's entries into sys.pycache_prefix once
    (later runs only compare times): workers cannot write that cache."""
    if not sys.pycache_prefix:
        return
    import compileall
    for p in paths:
        try:
            compileall.compile_dir(p, quiet=2, workers=1)
        except Exception:  # pragma: no cover - a package that does not compile
            pass


def _preload_discovery():
    """Imports what a plan's inspection of a project (the "discover" op)
    needs beyond tarn: its confinement, the environment resolver and pip's
    version parsing. Imported here once, a discovery forked from this
    parent does not pay them on every run (they are most of its cost)."""
    for mod in ("tarn.discover", "tarn.envs", "importlib.metadata",
                "pip._vendor.packaging.requirements", "pip._vendor.packaging.specifiers",
                "pip._vendor.packaging.tags", "pip._vendor.packaging.version"):
        try:
            importlib.import_module(mod)
        except Exception:  # pragma: no cover - pip absent: discovery imports what it finds
            pass
    # Regular expressions are compiled on first use and cached per process
    # (re's cache, tokenize's): exercised once here, the ones a discovery
    # uses (a model's source read back, installed versions, the SDK's
    # checks) are already compiled in every child.
    try:
        import inspect
        from . import sdk
        inspect.getsourcelines(_preload_discovery)
        sdk.python("3.11")
        sdk.resources(memory="1G")
        importlib.import_module("importlib.metadata").version("pip")
    except Exception:  # pragma: no cover - only a warm-up: a discovery compiles them itself
        pass


def _preload_handoff():
    """Passes a two-row table through tarn's own side of a call once (to
    shared memory, mapped back, to pandas and back): the first-use costs on
    that path (parts of pandas imported lazily, conversions set up) are paid
    here, not by every worker forked from this parent."""
    try:
        import pandas
        from .table import Table, model_input, model_output
        t = Table.from_pandas(pandas.DataFrame({"i": [1, 2], "s": ["a", "b"], "f": [0.5, 1.5]}))
        fd, _ = t._to_memfd("tarn:warm-up")
        try:
            back = model_input(Table._from_fd(fd, trusted=True), None)
            out, _ = model_output(back.to_pandas())._to_memfd("tarn:warm-up")
            os.close(out)
        finally:
            os.close(fd)
    except Exception:  # pragma: no cover - only a warm-up (an environment without pandas)
        pass


def _zygote_main(fd, preload=(), paths=()):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _arrange_path(list(paths))
    ctl = socket.socket(fileno=fd)
    for mod in preload:
        if mod:
            importlib.import_module(mod)
    from . import table as _table  # noqa: F401  (warm: tarn and its extension)
    _preload_discovery()
    if "pandas" in preload:
        _preload_handoff()
    _compile_entries(paths)
    confine.remove_stale_scratch()
    gc.collect()
    gc.freeze()  # keep the warm heap shared copy-on-write with the workers
    workers = {}  # pid -> its scratch folder, removed once it has ended
    abandoned = set()  # workers no caller waits for: reaped as requests come
    _send(ctl, {"ok": True, "pid": os.getpid(), "python": sys.version,
                "confine": confine.available()})
    try:
        while True:
            try:
                req, fds = _recv(ctl)
            except (ConnectionError, OSError):
                break
            if req is None:
                break
            for pid in list(abandoned):
                try:
                    done, _status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    abandoned.discard(pid)
                    confine.remove_scratch(workers.pop(pid, None))
            op = req.get("op")
            try:
                if op == "fork":
                    if len(fds) != 3:
                        raise ValueError("fork takes 3 descriptors (call, stdout, stderr)")
                    sys.stdout.flush()
                    sys.stderr.flush()
                    scratch = confine.make_scratch()
                    pid = os.fork()
                    if pid == 0:
                        _worker_main(ctl, fds[0], fds[1], fds[2], req, scratch)
                    workers[pid] = scratch
                    reply = {"ok": True, "pid": pid}
                elif op == "wait":
                    pid = int(req["pid"])
                    reply = _wait_child(pid, req.get("timeout"))
                    confine.remove_scratch(workers.pop(pid, None))
                elif op == "abandon":
                    # the caller will not wait for it: reaped here once it ends
                    pid = int(req["pid"])
                    if pid not in workers:
                        raise ValueError("no worker %d" % pid)
                    abandoned.add(pid)
                    reply = {"ok": True}
                elif op == "kill":
                    pid = int(req["pid"])
                    if pid not in workers:
                        raise ValueError("no worker %d" % pid)
                    os.kill(pid, int(req.get("signal", signal.SIGKILL)))
                    reply = {"ok": True}
                elif op == "ping":
                    reply = {"ok": True, "pid": os.getpid()}
                elif op == "discover":
                    if len(fds) != 2:
                        raise ValueError("discover takes 2 descriptors (stdout, stderr)")
                    sys.stdout.flush()
                    sys.stderr.flush()
                    pid = os.fork()
                    if pid == 0:
                        _discover_main(ctl, fds[0], fds[1], req)
                    workers[pid] = None
                    reply = {"ok": True, "pid": pid}
                else:
                    raise ValueError("unknown op %r" % (op,))
            except Exception as e:
                reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            finally:
                for f in fds:
                    os.close(f)
            _send(ctl, reply)
    finally:
        for pid, scratch in workers.items():
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            confine.remove_scratch(scratch)
    os._exit(0)


# ---- the caller's side --------------------------------------------------------

def _default_output(label, stream, line):
    out = sys.stdout if stream == "stdout" else sys.stderr
    out.write("%s | %s\n" % (label, line))
    out.flush()


class _Forwarder(threading.Thread):
    """Reads one pipe line by line and hands each line to OUTPUT. A line
    longer than MAX_LINE is cut (what is cut is counted, not kept): memory
    and time stay linear in the output however long its lines."""

    def __init__(self, fd, label, stream, output, keep):
        super().__init__(daemon=True)
        self.fd, self.label, self.stream, self.output = fd, label, stream, output
        self.tail = []
        self.keep = keep

    def run(self):
        with open(self.fd, "rb", buffering=0) as f:
            pending, cut = [], 0
            size = 0
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                parts = chunk.split(b"\n")
                for i, part in enumerate(parts):
                    if size < MAX_LINE:
                        pending.append(part[:MAX_LINE - size])
                        cut += max(0, len(part) - (MAX_LINE - size))
                        size += len(pending[-1])
                    else:
                        cut += len(part)
                    if i < len(parts) - 1:  # a newline ends this part
                        self._emit(b"".join(pending), cut)
                        pending, cut, size = [], 0, 0
            if pending and (size or cut):
                self._emit(b"".join(pending), cut)

    def _emit(self, raw, cut=0):
        line = raw.decode("utf-8", "backslashreplace")
        if cut:
            line += " [... %d more bytes of this line not shown]" % cut
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
             timeout=None, output=None, cpus=None, confine=None):
        """Run FUNCTION of MODULE (a .py path or a module name) on INPUTS
        ({name: tarn.Table or anything tarn.Table() accepts}) in a fresh
        worker; returns the result as a tarn.Table mapped from shared memory.
        A failure raises tarn.UserFunctionError with kind, traceback,
        exitcode or signal. MEMORY_LIMIT (bytes) caps what the function may
        allocate beyond its inputs (kind "memory"); TIMEOUT (seconds) kills
        it and everything it started (kind "timeout"); CPUS (a number) is
        how many CPUs it may run on; CONFINE a tarn.confine policy (kind
        "refused" when the kernel cannot apply it)."""
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
            limits = {"memory": memory_limit, "timeout": timeout, "cpus": cpus}
            req = {"op": "fork", "label": label,
                   "limits": {k: v for k, v in limits.items() if v is not None}}
            if confine is not None:
                req["confine"] = confine
            reply = self._request(req, [call_theirs.fileno(), pipes[0][1], pipes[1][1]])
            pid = reply["pid"]
            call_theirs.close()
            call_theirs = None
            for r, w, stream in pipes:
                os.close(w)
                fw = _Forwarder(r, label, stream, output, keep=20 if stream == "stderr" else 0)
                fw.start()
                forwarders.append(fw)
            pipes = []
            try:
                _send(call_ours, {"op": "call", "module": str(module), "function": function,
                                  "inputs": names}, send_fds)
            except OSError:
                pass  # the worker is gone already (refused): its account follows
            for fd in send_fds:
                os.close(fd)
            send_fds = []
            # The reply (maybe), then the supervisor's account of the end.
            result, end, table = None, None, None
            while True:
                try:
                    msg, fds = _recv(call_ours)
                except ConnectionError:
                    msg, fds = None, []
                try:
                    if msg is None:
                        break
                    if msg.get("op") == "end":
                        end = msg
                    elif result is None:
                        result = msg
                        if msg.get("ok"):
                            if len(fds) != 1:
                                raise ValueError("result message carried %d descriptors"
                                                 % len(fds))
                            table = Table._from_fd(fds[0])
                finally:
                    for fd in fds:
                        os.close(fd)
            status = self._request({"op": "wait", "pid": pid, "timeout": 10})
            pid = None
            for fw in forwarders:
                fw.join(timeout=5)
            stderr_tail = "\n".join(forwarders[1].tail) if len(forwarders) > 1 else ""
            where = "%s (%s)" % (function, module)
            if end is None:
                # Nothing vouches that the function and what it started are
                # gone: never a success.
                how = "killed by %s" % _signal_name(status["signal"]) \
                    if status.get("signal") is not None else "status %s" % status.get("exitcode")
                raise UserFunctionError(
                    "%s: the process supervising it ended (%s) before it could report how the "
                    "function ended (the function may have killed it)" % (where, how),
                    kind="signal" if status.get("signal") is not None else "exit",
                    signal=status.get("signal"), exitcode=status.get("exitcode"),
                    traceback=stderr_tail or None, function=where)
            if end.get("refused"):
                raise UserFunctionError("%s was not run: %s" % (where, end["refused"]),
                                        kind="refused", function=where)
            if table is not None:
                return table
            if end.get("timed_out"):
                raise UserFunctionError(
                    "%s exceeded its time limit (timed out after %ss)" % (where, timeout),
                    kind="timeout", signal=signal.SIGKILL, traceback=stderr_tail or None,
                    function=where)
            if result is not None:
                raise UserFunctionError(
                    "%s failed: %s" % (where, result.get("error")), kind=result.get("kind"),
                    traceback=result.get("traceback"), exitcode=result.get("exitcode"),
                    function=where)
            if end.get("signal") is not None:
                raise UserFunctionError(
                    "%s was killed by %s" % (where, _signal_name(end["signal"])), kind="signal",
                    signal=end["signal"], traceback=stderr_tail or None, function=where)
            raise UserFunctionError(
                "%s exited with status %s before returning a result" % (where, end["exitcode"]),
                kind="exit", exitcode=end["exitcode"], traceback=stderr_tail or None,
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
