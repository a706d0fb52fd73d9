#!/usr/bin/env bash
# tests/fault/pgbouncer_test.sh TARN_BINARY — the catalog through PgBouncer
# in transaction pooling mode (2 server connections for every client, so a
# session lands on another server connection from one transaction to the
# next): tarn keeps no session state across transactions, and a prepared
# statement that vanished makes it stop preparing, not fail. Three
# processes commit at once through the pooler; every commit lands once.
# Ends with `N passed, N failed`; exit 1 on any failure.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
. "$HERE/../lib/postgres.sh"
pg_start || { bad "PostgreSQL server"; finish; }
pgb_start || { bad "PgBouncer"; pg_finish; }
CAT="$PGB_URL?schema=pooled"
check "init through the pooler" tarn init --catalog "$CAT"
printf 'w,k\n-1,-1\n' >base.csv
check "an import through the pooler" tarn table import t --from base.csv
writer() {
    local w=$1 k
    for k in $(seq 1 15); do
        printf 'w,k\n%d,%d\n' "$w" "$k" >"$WORK/w$w.csv"
        if [ "$w" = 2 ] && [ $((k % 5)) = 0 ]; then
            "$TARN_BIN" branch create "b$k" >/dev/null 2>>"$WORK/w$w.err" && "$TARN_BIN" branch merge "b$k" >/dev/null 2>>"$WORK/w$w.err" &&
                echo "ok b$k" || echo "fail b$k"
        fi
        "$TARN_BIN" table import t --from "$WORK/w$w.csv" --mode append -m "w$w-$k" >/dev/null 2>>"$WORK/w$w.err" &&
            echo "ok w$w-$k" || echo "fail w$w-$k"
    done
}
pids=()
for w in 0 1 2; do writer "$w" >"$WORK/w$w.log" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
nok=$(cat "$WORK"/w*.log | grep -c '^ok w')
check "every commit through the pooler succeeded ($nok of 45; $(cat "$WORK"/w*.err 2>/dev/null | head -c 300))" [ "$nok" = 45 ]
check "every branch and merge through the pooler succeeded" [ "$(cat "$WORK"/w*.log | grep -c '^fail')" = 0 ]
check "rows on main: one per commit" [ "$(rows main t)" = 46 ]
got=$(tarn -O json commit | $PY -c 'import json,re,sys; print(sum(bool(re.fullmatch("w[0-9]-[0-9]+", c["message"])) for c in json.load(sys.stdin)))')
check "one commit per append ($got)" [ "$got" = 45 ]
check "a tag, a log, a gc through the pooler" bash -c "'$TARN_BIN' tag create v1 >/dev/null && '$TARN_BIN' commit -n 3 >/dev/null && '$TARN_BIN' gc --grace 0 >/dev/null"
pg_finish
