#!/usr/bin/env bash
# tests/fault/concurrency_test.sh TARN_BINARY — N=6 processes append to one
# table on one branch at once, in 3 rounds. Each process appends its own
# CSV of 2^i rows (1, 2, 4, ... 32), so the final row count says exactly
# which appends landed. Afterwards:
#   - the row count is the initial rows plus the sum of the appends that
#     exited 0 (no update lost, none applied twice),
#   - every process that failed exited 1 and printed an error,
#   - `tarn commit` shows exactly one new commit per successful append, each
#     naming its own file, and each new commit's parent is the one before it.
# Ends with `N passed, N failed`; exit 1 on any failure.
. "$(dirname "$0")/common.sh"
N=6
ROUNDS=3

tarn init >/dev/null || { bad "tarn init"; finish; }
printf 'id,src\n0,base\n1,base\n2,base\n' >base.csv
tarn table import t --from base.csv >/dev/null || { bad "base import"; finish; }
for i in $(seq 0 $((N - 1))); do
    n=$((1 << i))
    { echo "id,src"; for k in $(seq 1 $n); do echo "$k,p$i"; done; } >"p$i.csv"
done
commits() { tarn -O json commit | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

for round in $(seq 1 $ROUNDS); do
    rows0=$(rows main t)
    ncommits0=$(commits)
    head0=$(tarn -O json commit -n 1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
    pids=()
    for i in $(seq 0 $((N - 1))); do
        "$TARN_BIN" table import t --from "p$i.csv" --mode append -m "round $round p$i" \
            >"$WORK/out.$i" 2>"$WORK/err.$i" &
        pids+=($!)
    done
    sum=0 okn=0 errs_ok=1 codes=""
    oks=()
    for i in $(seq 0 $((N - 1))); do
        wait "${pids[$i]}"
        rc=$?
        codes="$codes $rc"
        if [ "$rc" -eq 0 ]; then
            sum=$((sum + (1 << i))); okn=$((okn + 1)); oks+=("round $round p$i")
        elif [ "$rc" -ne 1 ] || ! grep -q "error" "$WORK/err.$i"; then
            errs_ok=0
            echo "    p$i exited $rc with stderr: $(head -c 300 "$WORK/err.$i")"
        else
            echo "     p$i failed (reported): $(head -1 "$WORK/err.$i")"
        fi
    done
    echo "     round $round: exit codes$codes; $okn of $N appends succeeded"
    rows1=$(rows main t)
    check "round $round: rows $rows1 = $rows0 + sum of successful appends ($sum)" [ "$rows1" = $((rows0 + sum)) ]
    check "round $round: every failed append exited 1 and printed an error" [ "$errs_ok" = 1 ]
    check "round $round: at least one append succeeded" [ "$okn" -ge 1 ]
    ncommits1=$(commits)
    check "round $round: one new commit per successful append ($ncommits0 -> $ncommits1)" \
        [ "$ncommits1" = $((ncommits0 + okn)) ]
    # the new commits form a chain on head0 and their messages are exactly the successes
    got=$(tarn -O json commit -n "$okn" | $PY -c '
import json, sys
log = json.load(sys.stdin)
head0 = sys.argv[1]
chain = all(log[k]["parents"] == [log[k + 1]["hash"]] for k in range(len(log) - 1))
chain = chain and (not log or log[-1]["parents"] == [head0])
print("chain" if chain else "broken", *sorted(c["message"] for c in log), sep="|")' "$head0")
    want=$(printf '%s\n' "${oks[@]}" | sort | paste -sd'|')
    check "round $round: the new commits are a chain on the old head, one per success" [ "$got" = "chain|$want" ]
    # per-source row counts: each successful process's rows exactly once
    per=$(tarn -O json query "SELECT src, count(*) FROM t WHERE src <> 'base' GROUP BY src ORDER BY src" --all-rows |
        $PY -c 'import json,sys; print(" ".join(f"{s}={n}" for s, n in json.load(sys.stdin)["rows"]))')
    echo "     rows per process so far: $per"
done
# N processes race to CREATE one new table: exactly one wins, every loser
# is told ("already exists"), and the table holds the winner's rows.
pids=()
for i in $(seq 0 $((N - 1))); do
    "$TARN_BIN" table import race --from "p$i.csv" >"$WORK/out.$i" 2>"$WORK/err.$i" &
    pids+=($!)
done
winners=0 winner_rows=-1 losers_ok=1
for i in $(seq 0 $((N - 1))); do
    wait "${pids[$i]}"
    rc=$?
    if [ "$rc" -eq 0 ]; then winners=$((winners + 1)); winner_rows=$((1 << i))
    elif [ "$rc" -ne 1 ] || ! grep -q "already exists" "$WORK/err.$i"; then
        losers_ok=0; echo "    p$i exited $rc: $(head -c 300 "$WORK/err.$i")"
    fi
done
check "create race: exactly one of $N creates succeeded ($winners)" [ "$winners" = 1 ]
check "create race: every loser exited 1 saying 'already exists'" [ "$losers_ok" = 1 ]
check "create race: the table holds the winner's $winner_rows rows" [ "$(rows main race)" = "$winner_rows" ]
check "catalog passes integrity check" catalog_sane
finish
