# A run's log streams to .tarn/logs/JOBID.log, capped and rotated
# (run.log_max_mb); the catalog keeps only a bounded tail. Many prints do
# not grow catalog.db; one huge line is cut, read in one pass and bounded
# memory; invalid UTF-8 reaches the log escaped.
csv t.csv id 1
expect_ok tarn table import t --from t.csv
mkdir -p proj
catalog_bytes() { cat .tarn/catalog.db* | wc -c; }
job_of() { printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])'; }

# 200,000 prints: the catalog grows by a bounded tail, the file has them all
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def chatty(data=tarn.Model("t")):
    for i in range(200000):
        print("line", i)
    return data
PY
BEFORE=$(catalog_bytes)
expect_ok tarn -O json run -p proj
JOB=$(job_of)
GROWTH=$(( $(catalog_bytes) - BEFORE ))
[ "$GROWTH" -lt 1000000 ] || _fail "catalog.db grew by $GROWTH bytes for one run's prints"
[ -f ".tarn/logs/$JOB.log" ] || _fail "no log file for job $JOB"
expect_out "chatty @ m.py:7 | line 0" tarn job logs "$JOB"
case "$OUT" in *"chatty @ m.py:7 | line 199999"*) ;; *) _fail "the log lacks the last print" ;; esac

# one 100 MB line: cut at 8 KiB, the rest counted; the tarn process's own
# memory stays flat (its workers' is theirs)
one_line_model() {
    cat >proj/m.py <<PY
import tarn

@tarn.model()
@tarn.python("3.11")
def one_line(data=tarn.Model("t")):
    print("x" * $1)
    print("after")
    return data
PY
}
peak_kb() { # the tarn process's peak resident memory (VmHWM), sampled until it exits (120 s at most)
    "$TARN_BIN" "$@" >peak.out 2>&1 &
    local pid=$! max=0 v n=0
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
        n=$((n + 1))
        [ "$n" -lt 2400 ] || kill -9 "$pid" 2>/dev/null
        sleep 0.05
    done
    wait "$pid"
    echo "$max"
}
one_line_model 10
BASE=$(peak_kb run -p proj)
one_line_model 100_000_000
PEAK=$(peak_kb run -p proj)
[ "$BASE" -gt 0 ] || _fail "could not sample tarn's memory"
[ $((PEAK - BASE)) -lt 50000 ] || _fail "tarn's peak memory grew by $((PEAK - BASE)) KiB for a 100 MB line"
expect_ok tarn -O json job ls -n 1
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect_out "one_line @ m.py:6 | xxxxxxxx" tarn job logs "$JOB"
case "$OUT" in *"x [... 99991810 more bytes of this line not shown]"*) ;; *) _fail "the long line is not cut as said" ;; esac
case "$OUT" in *"one_line @ m.py:7 | after"*) ;; *) _fail "the line after the long one is missing" ;; esac

# rotation: at most run.log_max_mb on disk, the newest lines kept
cat >proj/m.py <<'PY'
import tarn

@tarn.model()
@tarn.python("3.11")
def verbose(data=tarn.Model("t")):
    for i in range(30000):
        print("%05d" % i, "y" * 100)
    return data
PY
echo 'run.log_max_mb = 1' >>.tarn/config
expect_ok tarn -O json run -p proj
JOB=$(job_of)
SIZE=$(cat .tarn/logs/"$JOB".log* | wc -c)
[ "$SIZE" -le $((1024 * 1024 + 16384)) ] || _fail "job log files hold $SIZE bytes over a 1 MiB cap"
expect_out "[... earlier lines of this job's log were dropped" tarn job logs "$JOB"
case "$OUT" in *"verbose @ m.py:7 | 29999 yyy"*) ;; *) _fail "the newest lines are missing" ;; esac
case "$OUT" in *"| 00000 yyy"*) _fail "the oldest lines should have been dropped" ;; esac
sed -i '/^run\.log_max_mb/d' .tarn/config
echo 'run.log_max_mb = none' >>.tarn/config
expect_fail 1 "run.log_max_mb in .tarn/config must be a whole number of MiB" tarn run -p proj
sed -i '/^run\.log_max_mb/d' .tarn/config

# bytes that are not UTF-8, printed or raised, reach the log escaped
cat >proj/m.py <<'PY'
import os, sys, tarn

@tarn.model()
@tarn.python("3.11")
def bad_bytes(data=tarn.Model("t")):
    sys.stdout.buffer.write(b"raw \xff\xfe bytes\n")
    sys.stdout.flush()
    print("decoded", b"caf\xe9".decode("utf-8", "surrogateescape"))
    print("lone", "\ud800")
    raise ValueError("bad name " + b"n\xe4me".decode("utf-8", "surrogateescape"))
PY
expect_json_rc 1 '"bad name n\\xe4me" in j["error"] and "bad name n\\xe4me" in j["tasks"][0]["error"]' \
    tarn -O json run -p proj
JOB=$(job_of)
expect_out 'bad_bytes @ m.py:6 | raw \xff\xfe bytes' tarn job logs "$JOB"
case "$OUT" in *'| decoded caf\xe9'*) ;; *) _fail "a surrogate-escaped print is missing" ;; esac
case "$OUT" in *'| lone \ud800'*) ;; *) _fail "a lone surrogate print is missing" ;; esac
