#!/usr/bin/env bash
# tests/fault/gc_race_test.sh TARN_BINARY [SECONDS] — appends, merges and
# pipeline runs go on while `tarn gc --grace 0` loops, for a bounded time
# (default 20 s). gc must never delete a file that is or will be
# committed, whatever the grace. Afterwards:
#   - every writer that reported success really landed, and no writer
#     failed because a file of its own vanished;
#   - every data file of every table version reachable from any ref exists
#     (read from the open catalog schema);
#   - every table of every branch and tag, and of main's recent history,
#     reads, with the row count its metadata gives.
# Ends with `N passed, N failed`; exit 1 on any failure.
. "$(dirname "$0")/common.sh"
SECONDS_TO_RUN=${2:-20}

tarn init >/dev/null || { bad "tarn init"; finish; }
printf 'id,v\n1,1\n2,2\n' >rows.csv
tarn table import t --from rows.csv >/dev/null || { bad "base import"; finish; }
# A pipeline whose first model's output is published long before the run
# commits: the second model sleeps. gc must leave that output alone.
mkdir -p proj
cat >proj/models.py <<'EOF'
import time
import tarn

@tarn.model(materialization_strategy="APPEND")
@tarn.python("3.11")
def early(data=tarn.Model("t")):
    return data.to_pandas()

@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11")
def late(data=tarn.Model("early")):
    time.sleep(2.5)
    return data.to_pandas()
EOF

deadline=$(($(date +%s) + SECONDS_TO_RUN))
appender() { # $1: name; appends on its own branch, merges into main
    local i=0 out=0
    tarn branch create "w$1" >/dev/null 2>&1
    while [ "$(date +%s)" -lt "$deadline" ]; do
        i=$((i + 1))
        if tarn table import t --from rows.csv --mode append --branch "w$1" >"$WORK/a$1.out" 2>&1; then
            echo ok >>"$WORK/a$1.log"
        else
            echo "import failed: $(head -c 300 "$WORK/a$1.out")" >>"$WORK/a$1.err"
        fi
        if [ $((i % 3)) -eq 0 ]; then
            tarn branch merge "w$1" --into main >"$WORK/m$1.out" 2>&1 ||
                grep -q "conflict" "$WORK/m$1.out" || echo "merge failed: $(head -c 300 "$WORK/m$1.out")" >>"$WORK/a$1.err"
        fi
    done
}
runner() {
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if tarn run -p proj >"$WORK/run.out" 2>&1; then echo ok >>"$WORK/run.log"
        elif grep -qi "vanished\|no such file\|IO Error\|lease" "$WORK/run.out"; then
            echo "run lost a file: $(grep -i 'vanished\|no such file\|IO Error\|lease' "$WORK/run.out" | head -2)" >>"$WORK/run.err"
        else echo "run failed: $(tail -3 "$WORK/run.out")" >>"$WORK/run.other"; fi
    done
}
collector() {
    while [ "$(date +%s)" -lt "$deadline" ]; do
        tarn -O json gc --grace 0 >>"$WORK/gc.out" 2>>"$WORK/gc.err" || echo "gc exit $?" >>"$WORK/gc.err"
    done
}
appender 1 & p1=$!
appender 2 & p2=$!
runner & p3=$!
collector & p4=$!
wait $p1 $p2 $p3 $p4
tarn tag create after >/dev/null 2>&1

nappends=$(cat "$WORK"/a*.log 2>/dev/null | wc -l)
nruns=$(cat "$WORK/run.log" 2>/dev/null | wc -l)
ngc=$(grep -c '"count"' "$WORK/gc.out" 2>/dev/null)
ncollected=$($PY -c 'import json,sys
t=open(sys.argv[1]).read().replace("}\n{","}\x00{").split("\x00")
print(sum(json.loads(x)["count"] for x in t if x.strip()))' "$WORK/gc.out" 2>/dev/null)
echo "     $nappends appends, $nruns runs, $ngc gc passes ($ncollected files collected) in $SECONDS_TO_RUN s"
check "work happened while gc looped (appends, runs, gc passes)" \
    test "$nappends" -ge 4 -a "$nruns" -ge 1 -a "$ngc" -ge 3
if [ -s "$WORK/run.err" ] || ls "$WORK"/a*.err >/dev/null 2>&1; then
    bad "no writer lost a file to gc: $(cat "$WORK"/run.err "$WORK"/a*.err 2>/dev/null | head -5)"
else ok "no writer lost a file to gc"; fi
[ -s "$WORK/gc.err" ] && bad "gc never failed: $(head -3 "$WORK/gc.err")" || ok "gc never failed"
[ -s "$WORK/run.other" ] && echo "     (other run failures: $(head -2 "$WORK/run.other"))"

# Every data file of every version reachable from any ref exists.
missing=$($PY - .tarn/catalog.db .tarn/objects <<'EOF'
import os, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
files = [r[0] for r in db.execute("""
  WITH RECURSIVE live(h) AS (SELECT commit_hash FROM refs UNION
    SELECT p.parent FROM commit_parents p JOIN live ON p.child = live.h)
  SELECT DISTINCT vf.file FROM live JOIN commits c ON c.hash = live.h JOIN trees tr ON tr.tree = c.tree
  JOIN tree_entries te ON te.tree = tr.subtree AND te.kind = 0 JOIN version_files vf ON vf.version = te.version""")]
gone = [f for f in files if not os.path.exists(os.path.join(sys.argv[2], f))]
print(len(files), len(gone), *gone[:3])
EOF
)
set -- $missing
check "every committed file of every ref exists ($1 files, $2 missing ${*:3})" test "${2:-1}" -eq 0

# Every table of every ref reads, and has the rows its metadata says.
unreadable=0 checked=0
refs=$(tarn -O json branch ls | $PY -c 'import json,sys; [print(b["name"]) for b in json.load(sys.stdin)]')
refs="$refs after main~1 main~2 main~3"
for r in $refs; do
    for tbl in $(tarn -O json table ls --ref "$r" 2>/dev/null | $PY -c 'import json,sys; [print(t["name"], t["row_count"]) for t in json.load(sys.stdin)]' | tr ' ' ':'); do
        name=${tbl%%:*} want=${tbl##*:}
        got=$(rows "$r" "\"${name%%.*}\".${name#*.}")
        checked=$((checked + 1))
        [ "$got" = "$want" ] || { unreadable=$((unreadable + 1)); echo "     $name at $r: $got rows, metadata says $want"; }
    done
done
check "every table of every ref reads ($checked tables, $unreadable wrong)" test "$checked" -gt 0 -a "$unreadable" -eq 0
check "catalog passes integrity check" catalog_sane
finish
