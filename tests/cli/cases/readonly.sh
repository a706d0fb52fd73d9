# A lakehouse that can only be read can be read: by a user with read
# permission only, on a read-only mount, on a full disk. Writes fail with a
# clear message and change nothing. (Trust issue, point 23.)
local_only "the file permissions, mounts and disk of a lakehouse are its host's: a server's readers are its tokens (test_serve.py)"
csv a.csv id 1 2 3
expect_ok tarn table import t --from a.csv
expect_ok tarn branch create dev
HEAD=$(head_of main)
chmod -R a+rX .tarn "$PWD"; chmod a+rx "$PWD/.."
as_reader() { setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp "$@"; }
# a user who may only read
if as_reader true 2>/dev/null; then
    _run as_reader "$TARN_BIN" query "SELECT count(*) FROM t"
    expect_eq "0 3" "$RC $(echo "$OUT" | tail -n +3 | head -1 | tr -d ' ')" "query as a reader (stderr: $ERR)"
    _run as_reader "$TARN_BIN" -O json table ls
    expect_eq 0 "$RC" "table ls as a reader ($ERR)"
    _run as_reader "$TARN_BIN" -O json commit -n 1
    expect_eq 0 "$RC" "log as a reader ($ERR)"
    _run as_reader "$TARN_BIN" -O json job ls
    expect_eq 0 "$RC" "job ls as a reader ($ERR)"
    _run as_reader "$TARN_BIN" table import u --from a.csv
    expect_eq 1 "$RC" "import as a reader fails"
    case "$ERR" in *read-only*|*ermission*) ;; *) _fail "import as a reader: unclear error: $ERR" ;; esac
    # (a shared catalog's rights are the database's, not the files')
    if [ -z "${TARN_TEST_CATALOG:-}" ]; then
        _run as_reader "$TARN_BIN" branch create x
        expect_eq 1 "$RC" "branch create as a reader fails"
    fi
else
    echo "    (setpriv cannot switch users here: the reader's checks are skipped)" >&2
fi
expect_eq "$HEAD" "$(head_of main)" "main after the reader's attempts"
# a read-only mount
if unshare -Urm true 2>/dev/null; then
    ro() { unshare -Urm sh -c 'mount --bind -o ro "$1/.tarn" "$1/.tarn" && shift && exec "$@"' sh "$PWD" "$@"; }
    _run ro "$TARN_BIN" query "SELECT count(*) FROM t" --ref dev
    expect_eq 0 "$RC" "query on a read-only mount ($ERR)"
    _run ro "$TARN_BIN" table import u --from a.csv
    expect_eq 1 "$RC" "import on a read-only mount fails"
    case "$ERR" in *[Rr]ead-only*) ;; *) _fail "import on a read-only mount: unclear error: $ERR" ;; esac
    # a full disk: reads work, writes fail cleanly
    full() { unshare -Urm sh -c '
        set -e; d=$(mktemp -d); mount -t tmpfs -o size=48m tmpfs "$d"; cd "$d"
        "$0" init >/dev/null; "$0" table import t --from "$1" >/dev/null
        dd if=/dev/zero of=fill bs=1M count=64 2>/dev/null || true
        "$0" query "SELECT count(*) AS n FROM t" -O json | tr -d " \n"; echo
        "$0" table import u --from "$1" 2>&1 >/dev/null && echo "import rc=0" || echo "import rc=$?"
        "$0" table ls -O json | tr -d " \n"; echo' "$TARN_BIN" "$PWD/a.csv"; }
    _run full
    expect_eq 0 "$RC" "full-disk script ($ERR)"
    case "$OUT" in *'"rows":[[3]]'*) ;; *) _fail "query on a full disk: $OUT" ;; esac
    case "$OUT" in *"import rc=1"*) ;; *) _fail "import on a full disk should fail: $OUT" ;; esac
    case "$OUT" in *'"name":"default.u"'*) _fail "a failed import left a table: $OUT" ;; esac
else
    echo "    (no user namespaces here: the read-only mount and full-disk checks are skipped)" >&2
fi
