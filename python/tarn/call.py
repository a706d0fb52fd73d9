"""Runs pipeline functions for the C runtime (src/runtime/worker.c).

``python3 -m tarn.call --zygote FD`` is the warm parent of one run: it
imports numpy, pandas and tarn once, then waits on the control socket FD.
For each call the runtime sends it one byte with two descriptors
(SCM_RIGHTS): a connected socket for the call and the write end of a pipe
for the call's output. The zygote forks a child, which handles the call on
that socket (below) with the pipe as its stdout and stderr, so a call pays
neither interpreter start-up nor imports. When a child ends, the zygote
sends ``{"exit": code}`` or ``{"signal": n}`` on the call socket (framed as
below), so the runtime learns how a crashed function died. The zygote
exits when the control socket closes.

A call: the runtime sends one request on the call socket: a 4-byte big-endian length, then that
many bytes of JSON ``{"file", "function", "model", "expectation",
"inputs": [argument names], "select": {argument: [columns]}, "params":
{argument: value}}``; the input
tables arrive with the JSON as sealed memfds (SCM_RIGHTS, one per input, in
the order of "inputs"). The reply is the same framing: JSON ``{"ok": true,
"rows": N}`` with the result table as one sealed memfd, or ``{"ok": true,
"verdict": bool}`` for an expectation, or ``{"ok": false, "error":
traceback}``.

Everything the function prints goes to stdout as ``LINE<TAB>text`` lines,
LINE being the line of the user's file that printed, so the runtime can
label it ``model @ file:line | text``.
"""

import json
import os
import socket
import struct
import sys
import traceback


class _LabelledLines:
    """A text stream that prefixes each line with the user file's line."""

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


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the runtime closed the connection")
        data += chunk
    return data


def _send(sock, doc, fds=()):
    body = json.dumps(doc).encode()
    msg = struct.pack(">I", len(body)) + body
    if fds:
        socket.send_fds(sock, [msg], list(fds))
    else:
        sock.sendall(msg)


def _load(path, function):
    import importlib.util
    name = "tarn_model_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    return getattr(module, function)


def main(fd):
    sock = socket.socket(fileno=fd)
    head, fds, _, _ = socket.recv_fds(sock, 4, 64)
    if len(head) < 4:
        head += _recv_exact(sock, 4 - len(head))
    (length,) = struct.unpack(">I", head)
    req = json.loads(_recv_exact(sock, length))
    if req.get("memory_limit"):
        import resource
        limit = int(req["memory_limit"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    real_stdout = sys.stdout
    sys.stdout = _LabelledLines(real_stdout, req["file"])
    sys.stderr = _LabelledLines(real_stdout, req["file"])
    try:
        import tarn
        fn = _load(req["file"], req["function"])
        kwargs = dict(req.get("params") or {})
        select = req.get("select") or {}
        for arg, in_fd in zip(req["inputs"], fds):
            table = tarn.Table._from_fd(in_fd)
            os.close(in_fd)  # the mapping keeps what it needs
            if arg in select:
                table = table.select(select[arg])
            kwargs[arg] = table
        result = fn(**kwargs)
        sys.stdout.flush()
        sys.stderr.flush()
        if req.get("expectation"):
            if not isinstance(result, (bool,)) and type(result).__name__ != "bool_":
                raise TypeError("expectation %s returned %s, not a bool"
                                % (req["model"], type(result).__name__))
            _send(sock, {"ok": True, "verdict": bool(result)})
            return 0
        if result is None:
            raise TypeError("model %s returned None, not a table" % req["model"])
        table = tarn.Table(result) if not isinstance(result, tarn.Table) else result
        out_fd, _size = table._to_memfd(req["model"])
        _send(sock, {"ok": True, "rows": table.num_rows}, [out_fd])
        os.close(out_fd)
        return 0
    except BaseException as exc:  # the user's function: report anything
        sys.stdout.flush()
        sys.stderr.flush()
        tb = exc.__traceback__
        if tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(__file__):
            tb = tb.tb_next  # this module's own frame says nothing to the user
        text = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
        _send(sock, {"ok": False, "error": text})
        return 1


def _reap(children):
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock = children.pop(pid, None)
        if sock is None:
            continue
        if os.WIFSIGNALED(status):
            doc = {"signal": os.WTERMSIG(status)}
        else:
            doc = {"exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1}
        try:
            _send(sock, doc)
        except OSError:
            pass
        sock.close()


def zygote(ctrl_fd):
    import select
    import numpy  # noqa: F401  (warm: every child inherits these imports)
    import pandas  # noqa: F401
    import tarn  # noqa: F401
    ctrl = socket.socket(fileno=ctrl_fd)
    children = {}
    while True:
        ready, _, _ = select.select([ctrl], [], [], 0.02 if children else None)
        _reap(children)
        if not ready:
            continue
        msg, fds, _, _ = socket.recv_fds(ctrl, 1, 2)
        if not msg:
            break  # the runtime is done
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        call_fd, out_fd = fds
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            for s in children.values():
                s.close()
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
            os.close(out_fd)
            code = 1
            try:
                code = main(call_fd)
            finally:
                try:
                    sys.stdout.flush()
                except Exception:
                    pass
                os._exit(code)
        os.close(out_fd)
        children[pid] = socket.socket(fileno=call_fd)
    # Let calls still running finish and report.
    while children:
        select.select([], [], [], 0.02)
        _reap(children)
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        sys.exit(zygote(int(sys.argv[2])))
    sys.exit(main(int(sys.argv[1])))
