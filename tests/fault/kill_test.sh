#!/usr/bin/env bash
# tests/fault/kill_test.sh TARN_BINARY — a tarn process killed during an
# import or a commit never half-writes.
#
# 1. Fault points: TARN_FAULT=<point> makes the process SIGKILL itself
#    there. For each point, an append runs and dies; then every branch is
#    exactly as before (same head, same rows) — or, for
#    commit:after-catalog-commit, main is exactly as after (one new commit
#    whose parent is the old head, rows added) — the catalog passes SQLite's
#    integrity check and still takes writes, and `tarn gc --grace 0`
#    reclaims the orphaned data file (object count back to what the catalog
#    references).
# 2. Random kills: a 2M-row CSV import is started in the background and
#    killed with SIGKILL after a random delay, 10 times; same invariant.
# Ends with `N passed, N failed`; exit 1 on any failure.
. "$(dirname "$0")/common.sh"

tarn init >/dev/null || { bad "tarn init"; finish; }
printf 'id,v\n' >small.csv
for i in $(seq 1 37); do echo "$i,$((i * 3))" >>small.csv; done
tarn table import t --from small.csv >/dev/null || { bad "base import"; finish; }
tarn branch create dev >/dev/null
tarn table import t --from small.csv --mode append --branch dev >/dev/null
tarn tag create v1 >/dev/null

# run_fault POINT COMMIT_EXPECTED COMMAND...
run_fault() {
    local point="$1" lands="$2"; shift 2
    local before after f0 f1 f2 oldhead newhead rc
    before=$(snapshot t)
    oldhead=$(echo "$before" | awk '$1 == "main" {print $2}')
    local oldrows; oldrows=$(echo "$before" | awk '$1 == "main" {print $3}')
    f0=$(nobjects)
    { TARN_FAULT="$point" "$TARN_BIN" "$@" >/dev/null 2>&1; } 2>/dev/null
    rc=$?
    if [ "$rc" -eq 137 ]; then ok "$point: '$*' killed by SIGKILL"; else bad "$point: '$*' exit $rc, wanted 137 (SIGKILL)"; fi
    check "$point: catalog passes integrity check and opens" catalog_sane
    after=$(snapshot t)
    if [ "$lands" = no ]; then
        if [ "$before" = "$after" ]; then ok "$point: every branch exactly as before"
        else bad "$point: branches changed"; diff <(echo "$before") <(echo "$after") | sed 's/^/    /'; fi
    else
        newhead=$(echo "$after" | awk '$1 == "main" {print $2}')
        local newrows; newrows=$(echo "$after" | awk '$1 == "main" {print $3}')
        if [ "$newhead" != "$oldhead" ] && [ "$(parent_of "$newhead")" = "$oldhead" ] &&
            [ "$newrows" -eq $((oldrows + 37)) ] &&
            [ "$(echo "$before" | grep -v '^main ')" = "$(echo "$after" | grep -v '^main ')" ]; then
            ok "$point: main exactly as after (one commit, +37 rows), other refs as before"
        else
            bad "$point: main not exactly as after"; diff <(echo "$before") <(echo "$after") | sed 's/^/    /'
        fi
    fi
    f1=$(nobjects)
    local removed; removed=$(gc_now)
    f2=$(nobjects)
    if [ "$lands" = no ]; then
        if [ "$f1" -eq $((f0 + 1)) ] && [ "$removed" = 1 ] && [ "$f2" -eq "$f0" ]; then
            ok "$point: gc reclaimed the orphaned file ($f0 -> $f1 -> $f2 objects)"
        else bad "$point: objects $f0 -> $f1 -> after gc $f2 (gc removed $removed), wanted $f0 -> $((f0 + 1)) -> $f0"; fi
    else
        if [ "$f1" -eq $((f0 + 1)) ] && [ "$removed" = 0 ] && [ "$f2" -eq "$f1" ]; then
            ok "$point: gc kept the committed file ($f0 -> $f1 -> $f2 objects)"
        else bad "$point: objects $f0 -> $f1 -> after gc $f2 (gc removed $removed), wanted $f0 -> $((f0 + 1)) both"; fi
    fi
    local nref; nref=$(nreferenced)
    if [ "$f2" -eq "$nref" ]; then ok "$point: no orphan left ($f2 objects, $nref referenced)"
    else bad "$point: $f2 objects but $nref referenced"; fi
    # the lakehouse still takes writes on the same branch
    if tarn table import t --from small.csv --mode append >/dev/null 2>&1 &&
        [ "$(rows main t)" -eq $(( $(echo "$after" | awk '$1 == "main" {print $3}') + 37)) ]; then
        ok "$point: a later append on main succeeds"
    else bad "$point: a later append on main failed"; fi
}

for p in import:after-data-write import:after-publish commit:before-ref-update commit:before-catalog-commit; do
    run_fault "$p" no table import t --from small.csv --mode append
done
run_fault commit:after-catalog-commit yes table import t --from small.csv --mode append
# a create (new table) killed before its commit leaves no table behind
run_fault commit:before-catalog-commit no table import t_new --from small.csv
check "commit:before-catalog-commit: no table t_new" bash -c "! '$TARN_BIN' table get t_new >/dev/null 2>&1"

# ---- random kills during a large import ----------------------------------
$PY - <<'PYEOF' || { bad "generate big.csv"; finish; }
with open("big.csv", "w") as f:
    f.write("id,v,cat\n")
    for i in range(2_000_000):
        f.write(f"{i},{i * 0.5},c{i % 7}\n")
PYEOF
BIGROWS=2000000
start=$(date +%s%N)
tarn table import big --from big.csv >/dev/null || bad "big import"
dur_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "     (a 2M-row import takes ${dur_ms} ms; kills land in 0..$((dur_ms * 12 / 10)) ms)"
RANDOM=$$
landed=0 killed=0
for run in $(seq 1 10); do
    before=$(snapshot big)
    oldhead=$(echo "$before" | awk '$1 == "main" {print $2}')
    oldrows=$(echo "$before" | awk '$1 == "main" {print $3}')
    f0=$(nobjects)
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % (dur_ms * 12 / 10 + 1) ))
    "$TARN_BIN" table import big --from big.csv --mode append >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    after=$(snapshot big)
    newhead=$(echo "$after" | awk '$1 == "main" {print $2}')
    newrows=$(echo "$after" | awk '$1 == "main" {print $3}')
    others_same=0
    [ "$(echo "$before" | grep -v '^main ')" = "$(echo "$after" | grep -v '^main ')" ] && others_same=1
    if [ "$before" = "$after" ]; then
        state=before
    elif [ "$others_same" = 1 ] && [ "$(parent_of "$newhead")" = "$oldhead" ] && [ "$newrows" -eq $((oldrows + BIGROWS)) ]; then
        state=after; landed=$((landed + 1))
    else
        state=between
    fi
    [ "$rc" -ne 0 ] && killed=$((killed + 1))
    if [ "$state" = between ] || { [ "$rc" -eq 0 ] && [ "$state" != after ]; }; then
        bad "random kill $run after ${delay_ms} ms (exit $rc): state '$state'"
        diff <(echo "$before") <(echo "$after") | sed 's/^/    /'
    else
        ok "random kill $run after ${delay_ms} ms (exit $rc): every branch $state"
    fi
    check "random kill $run: catalog passes integrity check and opens" catalog_sane
    removed=$(gc_now)
    f2=$(nobjects)
    nref=$(nreferenced)
    want=$f0
    [ "$state" = after ] && want=$((f0 + 1))
    if [ "$f2" -eq "$nref" ] && [ "$f2" -eq "$want" ]; then
        ok "random kill $run: gc left exactly the referenced files ($f0 -> $f2, removed $removed)"
    else
        bad "random kill $run: objects $f0 -> $f2 after gc (removed $removed), $nref referenced, wanted $want"
    fi
done
echo "     ($killed of 10 imports killed, $landed landed)"
check "queries still work on the big table" [ "$(rows main big)" -ge $BIGROWS ]
finish
