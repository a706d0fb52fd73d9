"""``python3 -m tarn.call FD``: runs ONE pipeline function for the C runtime.

The runtime starts this process with a connected Unix socket on file
descriptor FD and sends one request: a 4-byte big-endian length, then that
many bytes of JSON ``{"file", "function", "model", "expectation",
"inputs": [argument names], "params": {argument: value}}``; the input
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
    real_stdout = sys.stdout
    sys.stdout = _LabelledLines(real_stdout, req["file"])
    sys.stderr = _LabelledLines(real_stdout, req["file"])
    try:
        import tarn
        fn = _load(req["file"], req["function"])
        kwargs = dict(req.get("params") or {})
        for arg, in_fd in zip(req["inputs"], fds):
            kwargs[arg] = tarn.Table._from_fd(in_fd)
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


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
