#!/usr/bin/env bash
# tests/fault/multihost_test.sh TARN_BINARY — one lakehouse, many hosts:
# four lakehouse folders (h0..h3, each its own `.tarn`, as on four
# machines) attached to one PostgreSQL catalog and one shared storage
# folder. 8 writers x 40 commits, two writers per host:
#   - writers 0-3 append to table `shared` on main (one branch, all hosts),
#   - writers 4-7 append to their own table on their own branch and merge
#     it into main every 10 commits,
# while a gc with no grace runs again and again from another host. Then
# four hosts replace one table on four branches and merge them at once.
# Checks: no lost update (every append that exited 0 is on its branch
# exactly once, with its rows; no append that failed is), every failure
# exited 1 with a message, every merge conflict is reported (exactly one
# of the four racing merges wins, the others name the table), and every
# data file any branch references is in the store (every table of every
# branch reads).
# With MULTIHOST_STORAGE=s3 the store is a bucket on s3rver instead, each
# host with a cache of its own (the README's set-up: PostgreSQL and S3);
# MULTIHOST_N sets the commits per writer (default 40).
# Ends with `N passed, N failed`; exit 1 on any failure.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
. "$HERE/../lib/postgres.sh"
. "$HERE/../s3/server.sh"
pg_start || { bad "PostgreSQL server"; finish; }
trap 'pg_stop; s3_server_stop' EXIT
CAT="$PG_URL?schema=multihost"
N=${MULTIHOST_N:-40}
host() { echo "$WORK/h$1"; }
if [ "${MULTIHOST_STORAGE:-}" = s3 ]; then
    s3_server_start "$WORK/s3" || { bad "s3rver starts"; pg_finish; }
    STORE=s3://lake/multihost
    STORE_ARGS=(--storage "$STORE" --endpoint "$S3_ENDPOINT")
    stored_files() { find "$S3_DATA/lake/multihost/data" -name '*._S3rver_object' | wc -l; }
else
    STORE="$WORK/store"
    STORE_ARGS=(--storage "$STORE")
    stored_files() { find "$STORE/data" -type f | wc -l; }
fi

tarn init "$(host 0)" --catalog "$CAT" "${STORE_ARGS[@]}" >/dev/null || { bad "init h0"; pg_finish; }
for h in 1 2 3; do
    tarn init "$(host $h)" --attach --catalog "$CAT" "${STORE_ARGS[@]}" >/dev/null || { bad "attach h$h"; pg_finish; }
done
for h in 0 1 2 3; do echo "cache.dir = $(host $h)/cache" >>"$(host $h)/.tarn/config"; done
ok "4 hosts on one catalog and one store ($STORE)"
cd "$(host 0)" || exit 2
printf 'w,k\n-1,-1\n' >"$WORK/base.csv"
tarn table import shared --from "$WORK/base.csv" >/dev/null && tarn table import hot --from "$WORK/base.csv" >/dev/null ||
    { bad "base tables"; pg_finish; }
for b in 0 1 2 3; do tarn branch create "b$b" >/dev/null || bad "branch b$b"; done
# a branch created on one host is seen from every other
check "h3 sees the branches h0 created" bash -c "cd $(host 3) && '$TARN_BIN' branch ls | grep -q b3"

# writer W on host W % 4: N commits; logs "ok MESSAGE" or "fail MESSAGE: error"
writer() {
    local w=$1 k msg out
    cd "$(host $((w % 4)))" || return
    for k in $(seq 1 $N); do
        printf 'w,k\n%d,%d\n' "$w" "$k" >"$WORK/w$w.csv"
        msg="w$w-$k"
        local args=(table import shared --from "$WORK/w$w.csv" --mode append -m "$msg")
        [ "$w" -ge 4 ] && args=(table import "own$w" --from "$WORK/w$w.csv" --mode append --branch "b$((w - 4))" -m "$msg")
        [ "$w" -ge 4 ] && [ "$k" = 1 ] && args=(table import "own$w" --from "$WORK/w$w.csv" --branch "b$((w - 4))" -m "$msg")
        if out=$("$TARN_BIN" "${args[@]}" 2>&1 >/dev/null); then echo "ok $msg"; else echo "fail $msg: exit $? $out"; fi
        if [ "$w" -ge 4 ] && [ $((k % 10)) = 0 ]; then
            if out=$("$TARN_BIN" branch merge "b$((w - 4))" --into main 2>&1 >/dev/null); then echo "ok merge$w-$k"
            else echo "fail merge$w-$k: $out"; fi
        fi
    done
}
collector() {
    cd "$(host 3)" || return
    while [ ! -f "$WORK/stop" ]; do
        "$TARN_BIN" -O json gc --grace 0 >>"$WORK/gc.out" 2>>"$WORK/gc.err" || echo "gc failed" >>"$WORK/gc.err"
        sleep 2
    done
}
collector &
gcpid=$!
start=$(date +%s)
pids=()
for w in 0 1 2 3 4 5 6 7; do writer "$w" >"$WORK/w$w.log" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
touch "$WORK/stop"
wait "$gcpid"
echo "     8 writers x $N commits in $(($(date +%s) - start)) s; $(grep -c . "$WORK/gc.out" 2>/dev/null) gc runs alongside"

cd "$(host 1)" || exit 2
failed=$(cat "$WORK"/w*.log | grep -c '^fail')
echo "     $failed failed operations$( [ "$failed" -gt 0 ] && echo ":"; grep -h '^fail' "$WORK"/w*.log | head -5 | sed 's/^/       /')"
check "every gc run succeeded" [ ! -s "$WORK/gc.err" ]
rows_of() { # REF TABLE W -> rows of writer W
    tarn -O json query "SELECT count(*) FROM $2 WHERE w = $3" --ref "$1" 2>/dev/null |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])' 2>/dev/null || echo "-"
}
msgs_of() { # REF PATTERN -> sorted commit messages matching PATTERN, one per line
    tarn -O json commit "$1" | $PY -c '
import json, re, sys
print("\n".join(sorted(c["message"] for c in json.load(sys.stdin) if re.fullmatch(sys.argv[1], c["message"]))))' "$2"
}
for w in 0 1 2 3 4 5 6 7; do
    oks=$(grep -c "^ok w$w-" "$WORK/w$w.log")
    want=$(grep "^ok w$w-" "$WORK/w$w.log" | cut -d' ' -f2 | sort)
    bad_fail=$(grep "^fail w$w-" "$WORK/w$w.log" | grep -v "exit 1 tarn: error: " | grep -c .)
    if [ "$w" -lt 4 ]; then ref=main table=shared; else ref=b$((w - 4)) table=own$w; fi
    check "writer $w: rows on $ref = its $oks successful commits" [ "$(rows_of "$ref" "$table" "$w")" = "$oks" ]
    check "writer $w: one commit on $ref per success, none for a failure" [ "$(msgs_of "$ref" "w$w-[0-9]+")" = "$want" ]
    check "writer $w: every failure says what went wrong" [ "$bad_fail" = 0 ]
    check "writer $w: most commits succeeded ($oks of $N)" [ "$oks" -ge $((N * 9 / 10)) ]
    if [ "$w" -ge 4 ]; then
        merges=$(grep -c "^ok merge$w-" "$WORK/w$w.log")
        check "writer $w: its $merges merges into main succeeded" [ "$merges" = $((N / 10)) ]
        # main holds what the branch held at its last merge: everything
        check "writer $w: main has its rows after the last merge" [ "$(rows_of main "$table" "$w")" = "$oks" ]
    fi
done

# Four hosts replace `hot` on four branches from one commit, then merge
# at once: one wins, every other is told it conflicts on default.hot.
for h in 0 1 2 3; do tarn branch create "hot$h" >/dev/null; done
for h in 0 1 2 3; do
    printf 'w,k\n%d,0\n%d,1\n' "$h" "$h" >"$WORK/hot$h.csv"
    (cd "$(host $h)" && "$TARN_BIN" table import hot --from "$WORK/hot$h.csv" --mode replace --branch "hot$h" >/dev/null) ||
        bad "replace hot on hot$h"
done
pids=()
for h in 0 1 2 3; do
    (cd "$(host $h)" && "$TARN_BIN" branch merge "hot$h" --into main >"$WORK/merge$h.out" 2>&1; echo $? >"$WORK/merge$h.rc") &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
wins=0 conflicts_ok=1 winner=-1
for h in 0 1 2 3; do
    rc=$(cat "$WORK/merge$h.rc")
    if [ "$rc" = 0 ]; then wins=$((wins + 1)); winner=$h
    elif [ "$rc" != 1 ] || ! grep -q "conflict" "$WORK/merge$h.out" || ! grep -q "default.hot" "$WORK/merge$h.out"; then
        conflicts_ok=0; echo "    merge of hot$h: exit $rc: $(head -c 300 "$WORK/merge$h.out")"
    fi
done
check "racing merges: exactly one of 4 won ($wins)" [ "$wins" = 1 ]
check "racing merges: every loser exited 1 naming the conflicting table" [ "$conflicts_ok" = 1 ]
check "racing merges: main holds the winner's table" [ "$(rows_of main hot "$winner")" = 2 ]

# Every data file a branch references is in the store: every table of
# every branch reads, and gc finds nothing referenced missing.
unreadable=0
for b in $(tarn -O json branch ls | $PY -c 'import json,sys; print(" ".join(b["name"] for b in json.load(sys.stdin)))'); do
    for t in $(tarn -O json table ls --ref "$b" | $PY -c 'import json,sys; print(" ".join(t["name"].removeprefix("default.") for t in json.load(sys.stdin)))'); do
        tarn query "SELECT count(*) FROM $t" --ref "$b" >/dev/null 2>&1 || { unreadable=$((unreadable + 1)); echo "    $t on $b does not read"; }
    done
done
check "every table of every branch reads from the shared store" [ "$unreadable" = 0 ]
referenced=$(tarn -O json gc --dry-run --grace 0 | $PY -c 'import json,sys; print(json.load(sys.stdin)["referenced"])')
stored=$(stored_files)
check "gc: every referenced file is stored ($referenced referenced, $stored stored)" [ "$referenced" = "$stored" ]
pg_finish
