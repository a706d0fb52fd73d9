"""A fault-injecting HTTP proxy for S3 tests, on a free loopback port:

    /usr/bin/python3 tests/s3/faultproxy.py UPSTREAM_PORT CONTROL_FILE

prints `listening on PORT` and forwards each request to 127.0.0.1:UPSTREAM_PORT,
or instead, with the probability CONTROL_FILE gives, does one of:

  drop      read the request, close the connection without an answer
  500 503 429   answer that status with an S3 error document (SlowDown, ...)
  stall     read the request, then answer nothing for `stall` seconds and close
  truncate  forward, but pass on only the headers and half the body, then close
  slow      forward, passing the body on at about 64 KiB/s

CONTROL_FILE holds `key = value` lines, read again for every request:
`rate` (0..1), `modes` (comma-separated), `stall` (seconds), `seed`, and
`delay` (seconds every forwarded request waits first, so that requests a
client makes at once are seen at once). What it did goes to
CONTROL_FILE.log, one line per request: the mode, the request line, the
client connection's number and how many requests were in flight then.
Requests are framed by Content-Length (what tarn sends); each is forwarded
on a fresh upstream connection with `Connection: close` and the answer
read to its end; the client's connection stays open for its next request."""
import random
import socket
import sys
import threading
import time

UPSTREAM = int(sys.argv[1])
CONTROL = sys.argv[2]
LOG_LOCK = threading.Lock()
RNG_LOCK = threading.Lock()
RNG = random.Random(1)
_seed = None


def control():
    conf = {"rate": "0", "modes": "", "stall": "5", "seed": "1", "delay": "0"}
    try:
        with open(CONTROL) as f:
            for line in f:
                if "=" in line:
                    k, v = line.split("=", 1)
                    conf[k.strip()] = v.strip()
    except OSError:
        pass
    return conf


def log(what):
    with LOG_LOCK, open(CONTROL + ".log", "a") as f:
        f.write(what + "\n")


def read_request(conn, buf):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        rest += chunk
    return (head, rest[:length]), rest[length:]


def error_reply(status):
    code = {500: "InternalError", 503: "SlowDown", 429: "TooManyRequests"}[status]
    body = f"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    reason = {500: "Internal Server Error", 503: "Service Unavailable", 429: "Too Many Requests"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def forward(head, body):
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    req = b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body
    up = socket.create_connection(("127.0.0.1", UPSTREAM))
    up.sendall(req)
    out = b""
    while True:
        chunk = up.recv(1 << 20)
        if not chunk:
            break
        out += chunk
    up.close()
    return out


def pick():
    global _seed
    conf = control()
    with RNG_LOCK:
        if conf["seed"] != _seed:
            _seed = conf["seed"]
            RNG.seed(_seed)
        modes = [m for m in conf["modes"].split(",") if m]
        if modes and RNG.random() < float(conf["rate"]):
            return RNG.choice(modes), float(conf["stall"]), 0.0
    return "ok", 0.0, float(conf["delay"])


IN_FLIGHT = [0]
CONNS = [0]


def serve(conn):
    buf = b""
    with LOG_LOCK:
        CONNS[0] += 1
        number = CONNS[0]
    try:
        while True:
            req, buf = read_request(conn, buf)
            if req is None:
                return
            head, body = req
            mode, stall, delay = pick()
            with LOG_LOCK:
                IN_FLIGHT[0] += 1
                now = IN_FLIGHT[0]
            try:
                log("%s %s conn=%d inflight=%d" % (mode, head.split(b"\r\n")[0].decode(errors="replace"),
                                                   number, now))
                time.sleep(delay)
                if not answer(conn, mode, stall, head, body):
                    return
            finally:
                with LOG_LOCK:
                    IN_FLIGHT[0] -= 1
    except OSError:
        pass
    finally:
        conn.close()


def answer(conn, mode, stall, head, body):
    """Answers one request as MODE says; False when the connection ends."""
    if mode == "drop":
        return False
    if mode in ("500", "503", "429"):
        conn.sendall(error_reply(int(mode)))
        return True
    if mode == "stall":
        time.sleep(stall)
        return False
    reply = forward(head, body)
    hend = reply.find(b"\r\n\r\n") + 4
    if mode == "truncate" and len(reply) - hend > 1:
        conn.sendall(reply[:hend + (len(reply) - hend) // 2])
        return False
    if mode == "slow":
        conn.sendall(reply[:hend])
        for i in range(hend, len(reply), 16384):
            conn.sendall(reply[i:i + 16384])
            time.sleep(0.25)
        return True
    # Connection is hop by hop: the upstream's close (asked for above) is
    # not the client's, whose connection stays open for its next request.
    lines = reply[:hend].split(b"\r\n")
    conn.sendall(b"\r\n".join(l for l in lines if not l.lower().startswith(b"connection:")) + reply[hend:])
    return True


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print("listening on", srv.getsockname()[1], flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
