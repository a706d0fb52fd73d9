# tests/lib/postgres.sh — a throwaway PostgreSQL server for tests (sourced).
#
#   pg_start [DIR]   initdb into DIR (a new temporary folder by default; it
#                    must not exist yet, and the server's user must reach it)
#                    and start the server on a free 127.0.0.1 port; sets
#                    PG_DIR, PG_PORT and PG_URL (postgresql://tarn@127.0.0.1:PORT/tarn)
#   pg_stop          stop it (fast) and remove DIR
#   pg_restart [MODE] restart it on the same port (MODE: fast | immediate)
#   pg_kill_server   stop it at once (immediate) and leave it down
#   pg_up            start it again after pg_kill_server
#   pg_sql SQL       run SQL through psql, print the rows
#   pg_finish        for tests/fault scripts: pg_stop, then common.sh's finish
#   pgb_start, pgb_stop   PgBouncer in front of it (below)
#
# Debian's PostgreSQL 15 (/usr/lib/postgresql/15/bin). The server refuses
# to run as root: as root it runs as `nobody` (setpriv), the data folder
# owned by nobody. It listens on 127.0.0.1 only, trusts local connections
# (a test server), and writes with fsync off unless PG_FSYNC=on (a test
# server: a server process crash still loses nothing, only a machine crash
# would; benchmarks turn it on). A trap set by pg_start stops it whatever
# happens to the caller.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}

_pg_as() {
    if [ "$(id -u)" = 0 ]; then (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp "$@")
    else (cd / && "$@"); fi
}

_pg_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_pg_ctl_start() {
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
        start >/dev/null
}

pg_start() {
    [ -x "$PG_BIN/initdb" ] || { echo "postgres.sh: PostgreSQL not found (apt-get install postgresql)" >&2; return 1; }
    PG_DIR=${1:-$(mktemp -d "${TMPDIR:-/tmp}/tarn-pg.XXXXXX")}
    mkdir -p "$PG_DIR"
    chmod 755 "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown nobody:nogroup "$PG_DIR"
    _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U tarn --auth=trust --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 ||
        { echo "postgres.sh: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; return 1; }
    PG_PORT=$(_pg_free_port)
    _pg_ctl_start || { echo "postgres.sh: the server did not start:" >&2; cat "$PG_DIR/server.log" >&2; return 1; }
    trap 'pg_stop' EXIT
    PG_URL="postgresql://tarn@127.0.0.1:$PG_PORT/tarn"
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U tarn -d postgres -c "CREATE DATABASE tarn" >/dev/null ||
        { echo "postgres.sh: cannot create the database" >&2; return 1; }
    export PG_DIR PG_PORT PG_URL
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
    pgb_stop
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
    PG_DIR=
}

pg_restart() {
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w stop >/dev/null 2>&1
    _pg_ctl_start
}

pg_kill_server() {
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
}

pg_up() {
    _pg_ctl_start
}

pg_sql() {
    "$PG_BIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PG_PORT" -U tarn -d tarn -c "$1"
}

# pgb_start: PgBouncer (Debian's) in front of the server, in transaction
# pooling mode with a pool of 2 server connections, so that sessions move
# between server connections from one transaction to the next; sets
# PGB_PORT and PGB_URL. pgb_stop stops it (pg_stop does too).
pgb_start() {
    command -v pgbouncer >/dev/null || { echo "postgres.sh: pgbouncer not found (apt-get install pgbouncer)" >&2; return 1; }
    PGB_PORT=$(_pg_free_port)
    mkdir -p "$PG_DIR/pgb"
    printf '"tarn" ""\n' >"$PG_DIR/pgb/users.txt"
    cat >"$PG_DIR/pgb/pgbouncer.ini" <<INI
[databases]
tarn = host=127.0.0.1 port=$PG_PORT dbname=tarn
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGB_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PG_DIR/pgb/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
logfile = $PG_DIR/pgb/pgbouncer.log
pidfile = $PG_DIR/pgb/pgbouncer.pid
INI
    [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$PG_DIR/pgb"
    _pg_as pgbouncer -d "$PG_DIR/pgb/pgbouncer.ini" >/dev/null 2>&1 ||
        { echo "postgres.sh: pgbouncer did not start" >&2; cat "$PG_DIR/pgb/pgbouncer.log" >&2; return 1; }
    for _ in $(seq 1 50); do
        "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGB_PORT" -U tarn -d tarn -c "SELECT 1" >/dev/null 2>&1 && break
        sleep 0.1
    done
    PGB_URL="postgresql://tarn@127.0.0.1:$PGB_PORT/tarn"
    export PGB_PORT PGB_URL
}

pgb_stop() {
    [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/pgb/pgbouncer.pid" ] || return 0
    kill "$(cat "$PG_DIR/pgb/pgbouncer.pid")" 2>/dev/null
    rm -f "$PG_DIR/pgb/pgbouncer.pid"
}

pg_finish() {
    pg_stop
    finish
}
