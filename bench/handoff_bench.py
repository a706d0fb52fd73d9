"""Handing a table from a parent process to a child: Parquet vs IPC vs memfd.

The seed's "reading a dataframe from a parent" table, side by side on one
machine. The parent holds a table (id int64, a float64, s a short string,
ts timestamp[us]) in Arrow memory and hands it to an already-running child
(interpreter start-up and imports are not counted) three ways:

  parquet  the parent writes a Parquet file on local disk with DuckDB; the
           child reads it with DuckDB into Arrow (a tarn.Table).
  ipc      the parent encodes an Arrow IPC stream and writes the bytes to a
           Unix socket; the child reads them all and decodes (tarn.Table).
  shm      the parent encodes into a sealed memfd once (tarn's format for a
           function's output); the child gets the descriptor (SCM_RIGHTS),
           maps it read-only and decodes in place (tarn.Table), as a worker
           takes its inputs from the runtime: bytes tarn wrote or already
           checked, so only the structure is checked (constant in size).
  shm-checked  the same, fully validated, as the runtime takes what a user
           function returns: every offset and every string's UTF-8 is
           checked (linear, ~1-2 ns/row with the string column).
  shm-fixed  fully validated, without the string column (id, a, ts).

"write" is the parent's cost to produce its output in that form; "handoff"
is from the parent's "go" to the child reporting a usable table (row count
checked, the last id read); peak RSS is the child's high-water mark, and
"growth" its rise over the child's RSS before the handoff.

    PYTHONPATH=build/python /usr/bin/python3 bench/handoff_bench.py [--rows 1M,10M,50M]
"""
import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

import tarn
from tarn import _native
from tarn.table import _spec


def make_table(n):
    """n rows built straight into Arrow buffers (one record batch)."""
    ids = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(42)
    a = rng.random(n)
    # s = "user" + 5 digits of (i % 100000): 9 bytes per row
    width = 9
    chars = np.empty((n, width), dtype=np.uint8)
    chars[:, :4] = np.frombuffer(b"user", dtype=np.uint8)
    v = ids % 100000
    for k in range(5):
        chars[:, 8 - k] = 48 + (v % 10)
        v //= 10
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32)
    ts = np.int64(1_767_225_600_000_000) + ids * 1_000_000  # 2026-01-01 + i seconds, in us
    specs = [_spec("id", "l", n, None, (ids,)),
             _spec("a", "g", n, None, (a,)),
             _spec("s", "u", n, None, (offsets, chars.reshape(-1))),
             _spec("ts", "tsu:", n, None, (ts,))]
    return tarn.Table._wrap(_native.from_columns(n, specs))


# ---- the child --------------------------------------------------------------

def status_kib(field):
    """A /proc/self/status figure: VmRSS now, VmHWM its high-water mark (per
    address space, so unlike ru_maxrss it does not inherit the parent's
    peak across fork+exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib():
    return status_kib("VmRSS")


def child(fd, mode):
    sock = socket.socket(fileno=fd)
    sock.sendall(b"R")
    base = rss_kib()
    while True:
        hdr = sock.recv(1)
        if not hdr or hdr == b"Q":
            return
        c0 = time.perf_counter()
        if mode == "parquet":
            n = struct.unpack("<I", sock.recv(4))[0]
            path = sock.recv(n).decode()
            t = tarn.Table._wrap(_native.duckdb_query("SELECT * FROM read_parquet('%s')" % path))
        elif mode == "ipc":
            size = struct.unpack("<Q", sock.recv(8))[0]
            buf = bytearray(size)
            view, got = memoryview(buf), 0
            while got < size:
                k = sock.recv_into(view[got:], min(size - got, 1 << 22))
                if k == 0:
                    raise EOFError
                got += k
            t = tarn.Table.from_ipc(buf)
            del view
        else:  # shm, shm-checked, shm-fixed
            _msg, fds, _f, _a = socket.recv_fds(sock, 1, 1)
            t = tarn.Table._from_fd(fds[0], trusted=(mode == "shm"))
            os.close(fds[0])
        n = t.num_rows
        last = int(t.slice(n - 1, 1).column("id")[0])
        child_s = time.perf_counter() - c0
        peak = status_kib("VmHWM")
        msg = json.dumps({"rows": n, "last": last, "peak_kib": peak, "base_kib": base,
                          "rss_kib": rss_kib(), "child_s": child_s}).encode()
        sock.sendall(struct.pack("<I", len(msg)) + msg)
        del t


# ---- the parent ---------------------------------------------------------------

def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("child died")
        out += chunk
    return out


def run_once(mode, table, n, tmpdir):
    """One handoff to a fresh child: (write_s, handoff_s, child report)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", mode,
                             "--fd", str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    try:
        assert recv_exact(ours, 1) == b"R"
        t0 = time.perf_counter()
        fd, payload, path = -1, None, None
        if mode == "parquet":
            path = os.path.join(tmpdir, "handoff_%d.parquet" % n)
            _native.duckdb_query("COPY t TO '%s' (FORMAT parquet)" % path,
                                 [("t", table._arrays, table._cols, table._segs)])
        elif mode == "ipc":
            payload = table.to_ipc()
        elif mode == "shm-fixed":
            fd, _size = table.select(["id", "a", "ts"])._to_memfd("handoff")
        else:
            fd, _size = table._to_memfd("handoff")
        write_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        if mode == "parquet":
            p = path.encode()
            ours.sendall(b"G" + struct.pack("<I", len(p)) + p)
        elif mode == "ipc":
            ours.sendall(b"G" + struct.pack("<Q", len(payload)))
            ours.sendall(payload)
        else:
            ours.sendall(b"G")
            socket.send_fds(ours, [b"F"], [fd])
        size = struct.unpack("<I", recv_exact(ours, 4))[0]
        handoff_s = time.perf_counter() - t0
        report = json.loads(recv_exact(ours, size))
        assert report["rows"] == n and report["last"] == n - 1, report
        ours.sendall(b"Q")
        proc.wait(timeout=60)
        if fd >= 0:
            os.close(fd)
        if path:
            report["file_mib"] = os.path.getsize(path) / 2**20
            os.unlink(path)
        return write_s, handoff_s, report
    finally:
        ours.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse_rows(s):
    out = []
    for part in s.split(","):
        part = part.strip().upper()
        mult = 1_000_000 if part.endswith("M") else 1_000 if part.endswith("K") else 1
        out.append(int(float(part.rstrip("MK")) * mult))
    return out


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1M,10M,50M")
    ap.add_argument("--repeat", type=int, default=3, help="runs per cell (median); 1 above 10M")
    ap.add_argument("--child")
    ap.add_argument("--fd", type=int)
    ap.add_argument("--tmpdir", default=None, help="where Parquet files go (local disk)")
    args = ap.parse_args()
    if args.child:
        child(args.fd, args.child)
        return
    tmpdir = args.tmpdir or tempfile.mkdtemp(prefix="tarn-bench-")
    rows = []
    for n in parse_rows(args.rows):
        need = n * 37 * 5  # table, IPC bytes, memfd, child copy, slack
        if mem_available() < need:
            print("skipping %d rows: %.1f GiB available, ~%.1f GiB needed"
                  % (n, mem_available() / 2**30, need / 2**30), file=sys.stderr)
            continue
        t0 = time.perf_counter()
        table = make_table(n)
        print("%d rows built in %.2fs" % (n, time.perf_counter() - t0), file=sys.stderr)
        reps = args.repeat if n <= 10_000_000 else 1
        results = {}
        for mode in ("parquet", "ipc", "shm", "shm-checked", "shm-fixed"):
            runs = [run_once(mode, table, n, tmpdir) for _ in range(reps)]
            w = statistics.median(r[0] for r in runs)
            h = statistics.median(r[1] for r in runs)
            rep = runs[-1][2]
            results[mode] = (w, h, rep)
            print("  %-8s write %.3fs  handoff %.4fs (in child %.4fs)  peak %d MiB" %
                  (mode, w, h, rep["child_s"], rep["peak_kib"] // 1024), file=sys.stderr)
        base = results["parquet"][1]
        for mode, (w, h, rep) in results.items():
            rows.append((n, mode, w, h, rep["peak_kib"] / 1024,
                         (rep["peak_kib"] - rep["base_kib"]) / 1024, base / h,
                         rep.get("file_mib")))
        del table
    size_mib = {}
    print()
    print("| rows | path | parent write (s) | handoff to usable table in child (s) "
          "| child peak RSS (MiB) | child RSS growth (MiB) | vs Parquet |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    names = {"parquet": "Parquet on local disk", "ipc": "Arrow IPC over a socket",
             "shm": "tarn shared memory (memfd), runtime -> worker",
             "shm-checked": "tarn shared memory, fully validated (a function's output)",
             "shm-fixed": "tarn shared memory, fully validated, no string column"}
    for n, mode, w, h, peak, growth, speed, fmib in rows:
        print("| %s | %s | %.3f | %.4f | %.0f | %.0f | %s |" % (
            "{:,}".format(n), names[mode], w, h, peak, growth,
            "1x" if mode == "parquet" else "%.0fx" % speed))
        if fmib:
            size_mib[n] = fmib
    print()
    print("Parquet file sizes: %s. Arrow table size: ~37 bytes/row." %
          ", ".join("%s rows %.0f MiB" % ("{:,}".format(k), v) for k, v in size_mib.items()))
    print("Machine: %d CPUs, %.0f GiB RAM; DuckDB's Parquet reader/writer via libduckdb; "
          "the Parquet file is in the page cache (best case for Parquet)." %
          (os.cpu_count(), os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30))


if __name__ == "__main__":
    main()
