#!/usr/bin/env bash
# tests/fault/pg_faults_test.sh TARN_BINARY — a shared PostgreSQL catalog
# under faults:
# 1. The connection lost while COMMIT is on its way, before or after the
#    server committed (TARN_FAULT=catalog:connection-lost-before-commit /
#    -after-commit): the command succeeds and its commit is there exactly
#    once — never lost, never applied twice.
# 2. PostgreSQL restarted (fast, then immediate: a crash) while 4 writers
#    append: every append that exited 0 is on main exactly once, every one
#    that failed exited 1 with a message and left nothing.
# 3. PostgreSQL restarted during `tarn run`: the run succeeds with its
#    outputs merged, or fails and main is untouched.
# 4. A host killed in the middle of a run (in a PID namespace of its own,
#    as another machine would be, with lease.ttl_seconds = 3): its job
#    stays running while its lease lives, then whichever host looks next
#    settles it as failed and aborts its run branch; main is untouched.
# Ends with `N passed, N failed`; exit 1 on any failure.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
. "$HERE/../lib/postgres.sh"
pg_start || { bad "PostgreSQL server"; finish; }
EX="$HERE/../../examples/quickstart"
tarn init --catalog "$PG_URL?schema=faults" >/dev/null || { bad "init"; pg_finish; }
printf 'w,k\n-1,-1\n' >base.csv
tarn table import t --from base.csv >/dev/null || { bad "base import"; pg_finish; }
count_msgs() { tarn -O json commit | $PY -c 'import json,sys; print(sum(c["message"] == sys.argv[1] for c in json.load(sys.stdin)))' "$1"; }

# 1. the answer to COMMIT lost
for when in before after; do
    printf 'w,k\n9,1\n' >lost.csv
    TARN_FAULT="catalog:connection-lost-$when-commit" "$TARN_BIN" table import t --from lost.csv --mode append \
        -m "lost $when" >/dev/null 2>"$WORK/lost.err"
    rc=$?
    check "connection lost $when COMMIT: the import succeeded (exit $rc: $(head -c 200 "$WORK/lost.err"))" [ "$rc" = 0 ]
    check "connection lost $when COMMIT: its commit is on main exactly once" [ "$(count_msgs "lost $when")" = 1 ]
done
check "connection lost during COMMIT: main's rows counted once each" [ "$(rows main t)" = 3 ]

# 2. the server restarted under writers
rows0=$(rows main t)
writer() {
    local w=$1 k
    for k in $(seq 1 25); do
        printf 'w,k\n%d,%d\n' "$w" "$k" >"$WORK/w$w.csv"
        if out=$("$TARN_BIN" table import t --from "$WORK/w$w.csv" --mode append -m "w$w-$k" 2>&1 >/dev/null); then
            echo "ok w$w-$k"
        else
            echo "fail w$w-$k: exit $? $out"
        fi
    done
}
pids=()
for w in 0 1 2 3; do writer "$w" >"$WORK/w$w.log" 2>&1 & pids+=($!); done
sleep 2; pg_restart fast || bad "restart (fast)"
sleep 2; pg_restart immediate || bad "restart (immediate)"
for p in "${pids[@]}"; do wait "$p"; done
nok=$(cat "$WORK"/w*.log | grep -c '^ok')
nfail=$(cat "$WORK"/w*.log | grep -c '^fail')
echo "     restarts under 4 writers: $nok appends succeeded, $nfail failed"
grep -h '^fail' "$WORK"/w*.log | head -3 | sed 's/^/       /'
check "restarts: rows on main = before + one per successful append" [ "$(rows main t)" = $((rows0 + nok)) ]
want=$(grep -h '^ok' "$WORK"/w*.log | cut -d' ' -f2 | sort)
got=$(tarn -O json commit | $PY -c 'import json,re,sys; print("\n".join(sorted(c["message"] for c in json.load(sys.stdin) if re.fullmatch("w[0-9]-[0-9]+", c["message"]))))')
check "restarts: one commit per successful append, none for a failed one" [ "$got" = "$want" ]
check "restarts: every failure exited 1 with a message" [ "$(grep -h '^fail' "$WORK"/w*.log | grep -vc 'exit 1 tarn: error: ')" = 0 ]
check "restarts: most appends succeeded ($nok of 100)" [ "$nok" -ge 50 ]

# 3. the server restarted during a run
tarn table import transactions --from "$EX/data/transactions.csv" >/dev/null
tarn table import countries --from "$EX/data/countries.csv" >/dev/null
head0=$(tarn -O json commit -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
"$TARN_BIN" run -p "$EX" >"$WORK/run.out" 2>&1 &
runpid=$!
sleep 1.5; pg_restart fast || bad "restart during the run"
wait $runpid
rc=$?
head1=$(tarn -O json commit -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
if [ "$rc" = 0 ]; then
    check "restart during a run: it succeeded and its output is on main" [ "$(rows main usd_by_country)" -ge 1 ]
else
    check "restart during a run: it failed cleanly (exit $rc) and main is untouched" [ "$rc" = 1 ] && [ "$head1" = "$head0" ]
    echo "     the run failed: $(tail -2 "$WORK/run.out" | head -c 300)"
fi

# 4. a host killed in the middle of a run
mkdir -p "$WORK/h1"
tarn init "$WORK/h1" --attach --catalog "$PG_URL?schema=faults" --storage "$LAKE/.tarn/objects" >/dev/null || bad "attach h1"
echo "lease.ttl_seconds = 3" >>"$WORK/h1/.tarn/config"
head0=$(tarn -O json commit -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
# (not as the namespace's first process: that one ignores even SIGKILL)
other_host() {
    if unshare --pid --fork --mount-proc true 2>/dev/null; then
        unshare --pid --fork --mount-proc sh -c '"$@"; exit $?' sh "$@"
    else "$@"; fi
}
(cd "$WORK/h1" && TARN_FAULT=run:before-merge other_host "$TARN_BIN" run -p "$EX" >/dev/null 2>&1)
job_status() { tarn -O json job ls | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])'; }
if unshare --pid --fork --mount-proc true 2>/dev/null; then
    check "killed host: its job is running while its lease lives" [ "$(job_status)" = running ]
fi
sleep 4
check "killed host: after the lease expired its job is settled as failed" [ "$(job_status)" = failed ]
rb=$(tarn -O json branch ls | $PY -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin) if b["name"].startswith("tarn-run/") and b["aborted"]][-1])' 2>/dev/null)
check "killed host: its run branch is aborted ($rb)" [ -n "$rb" ]
check "killed host: main is untouched" [ "$(tarn -O json commit -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')" = "$head0" ]
check "killed host: its run branch cannot be merged" bash -c "! '$TARN_BIN' branch merge '$rb' >/dev/null 2>&1"
pg_finish
