#!/usr/bin/env bash
# tests/fault/s3_fault_test.sh TARN_BINARY — a lakehouse on S3 behind a
# proxy that drops connections, answers 500/503/429, stalls and truncates
# bodies (tests/s3/faultproxy.py, in front of s3rver).
#
# 1. Under faults, imports (single PUT and multipart), cold-cache queries,
#    a pipeline run and gc each either succeed (after retries) or fail with
#    a message naming the bucket and what went wrong; a failure commits
#    nothing (the branch head is unchanged) and a success commits once.
# 2. Faults off: every table reads with the rows its successful imports
#    gave, from a cold cache; the cache holds no truncated file (every entry
#    is whole Parquet: PAR1 at both ends), and no download temporary.
# 3. A request the server keeps refusing fails within its attempts, clearly.
# 4. Connection reuse and parallel downloads, as the proxy sees them.
# 5. Virtual-hosted addressing against the server.
# Bounded: 24 rounds, well under a minute of faults.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/common.sh"
. "$HERE/../s3/server.sh"
trap 's3_proxy_stop; s3_server_stop' EXIT
s3_server_start "$WORK/s3" || { bad "s3rver starts"; finish; }
s3_proxy_start "$WORK/faults" || { bad "the proxy starts"; finish; }
export XDG_CACHE_HOME="$WORK/cache"
CACHE="$WORK/cache/tarn"

tarn init --storage s3://lake/faults --endpoint "$PROXY_ENDPOINT" >/dev/null || { bad "init on S3"; finish; }
cat >>.tarn/config <<EOF
s3.retry_base_ms = 20
s3.timeout_seconds = 2
s3.max_attempts = 6
s3.multipart_threshold_mb = 5
s3.part_size_mb = 5
EOF
printf 'id,v\n' >small.csv
for i in $(seq 1 50); do echo "$i,$((i * 7))" >>small.csv; done
# ~12 MB of Parquet (incompressible text): a multipart upload of 3 parts
tarn query "SELECT range AS id, md5(range::VARCHAR) || md5((range * 7)::VARCHAR) AS h FROM range(200000)" \
    --output big.parquet >/dev/null || bad "writing big.parquet"
QS="$HERE/../../examples/quickstart"
tarn table import transactions --from "$QS/data/transactions.csv" >/dev/null || bad "import transactions"
tarn table import countries --from "$QS/data/countries.csv" >/dev/null || bad "import countries"

declare -A want=([small]=0 [big]=0)
cold() { rm -rf "$CACHE/v1"; }
s3_proxy_faults 0.3 drop,500,503,429,truncate,stall 1 7
for round in $(seq 1 24); do
    # the second half with fewer attempts, so that some commands do fail
    [ "$round" -eq 13 ] && echo "s3.max_attempts = 2" >>.tarn/config
    case $((round % 6)) in
    0 | 1 | 2 | 3)
        table=small src=small.csv n=50
        [ $((round % 6)) -eq 3 ] && table=big src=big.parquet n=200000
        mode=append
        [ "${want[$table]}" -eq 0 ] && mode=create
        head=$(tarn commit main -n 1 -O json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
        if tarn table import "$table" --from "$src" --mode "$mode" >out.txt 2>err.txt; then
            want[$table]=$((want[$table] + n))
            ok "round $round: import of $table succeeded"
        else
            after=$(tarn commit main -n 1 -O json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
            if [ "$head" = "$after" ] && grep -q "s3://lake\|S3" err.txt; then
                ok "round $round: import of $table failed cleanly: $(head -c 160 err.txt)"
            else
                bad "round $round: failed import moved main or said '$(cat err.txt)'"
            fi
        fi
        ;;
    4)
        cold
        tarn -O json query "SELECT count(*) FROM small" >out.txt 2>err.txt
        cat out.txt >>err.txt # JSON mode: the error is on stdout
        got=$($PY -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])' <out.txt 2>/dev/null)
        if [ -n "$got" ]; then
            [ "$got" = "${want[small]}" ] && ok "round $round: cold query right ($got rows)" ||
                bad "round $round: cold query gave $got rows, wanted ${want[small]}"
        else
            grep -q "s3://lake" err.txt && ok "round $round: cold query failed cleanly: $(head -c 160 err.txt)" ||
                bad "round $round: cold query said '$(cat err.txt)'"
        fi
        ;;
    5)
        if [ "$round" -eq 11 ]; then
            head=$(tarn commit main -n 1 -O json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
            if tarn run -p "$QS" >run.txt 2>&1; then
                ok "round $round: a run succeeded under faults"
            else
                after=$(tarn commit main -n 1 -O json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')
                [ "$head" = "$after" ] && ok "round $round: a run failed cleanly, main untouched" ||
                    bad "round $round: a failed run moved main"
            fi
        else
            tarn gc --grace 0 >out.txt 2>err.txt && ok "round $round: gc under faults" ||
                { grep -q "S3\|s3://" err.txt && ok "round $round: gc failed cleanly: $(head -c 160 err.txt)" ||
                    bad "round $round: gc said '$(cat err.txt)'"; }
        fi
        ;;
    esac
done
faults=$(grep -vc '^ok ' "$S3_PROXY_CONTROL.log")
[ "$faults" -gt 20 ] && ok "the proxy injected $faults faults" || bad "only $faults faults were injected"


# 2. faults off: everything that succeeded is there, from a cold cache
echo "s3.max_attempts = 6" >>.tarn/config
s3_proxy_faults 0 ""
cold
for t in small big; do
    [ "${want[$t]}" -eq 0 ] && continue
    got=$(rows main "$t")
    [ "$got" = "${want[$t]}" ] && ok "$t has the $got rows of its successful imports" ||
        bad "$t has $got rows, wanted ${want[$t]}"
done
tarn gc --grace 0 >/dev/null && ok "gc without faults" || bad "gc without faults"
cold
for t in transactions countries; do
    [ "$(rows main "$t")" != "-" ] && ok "$t reads after gc" || bad "$t unreadable after gc"
done
[ "${want[small]}" -eq 0 ] || [ "$(rows main small)" = "${want[small]}" ] && ok "small reads after gc" ||
    bad "small unreadable after gc"
whole=$($PY - "$CACHE" <<'EOF'
import os, sys
bad = []
for root, _, files in os.walk(os.path.join(sys.argv[1], "v1")):
    for f in files:
        p = os.path.join(root, f)
        with open(p, "rb") as h:
            head = h.read(4)
            h.seek(-4, 2)
            if head != b"PAR1" or h.read(4) != b"PAR1":
                bad.append(p)
print(len(bad))
EOF
)
[ "$whole" = 0 ] && ok "every cache entry is whole Parquet" || bad "$whole truncated cache entries"
[ -z "$(ls "$CACHE/tmp" 2>/dev/null)" ] && ok "no download temporaries left" || bad "temporaries left: $(ls "$CACHE/tmp")"

# 4. connection reuse and parallel requests, seen by the proxy: an import's
#    requests (upload, then the commit's check) share one connection, and a
#    cold query's downloads are made at once (every request waits 0.3 s in
#    the proxy, so requests made together are in flight together).
s3_proxy_faults 0 ""
for i in 1 2 3 4 5 6; do
    mode=append; [ "$i" = 1 ] && mode=create
    tarn table import par --from small.csv --mode "$mode" >/dev/null || bad "import $i of par"
done
printf 'rate = 0\nmodes =\ndelay = 0.3\n' >"$S3_PROXY_CONTROL"
: >"$S3_PROXY_CONTROL.log"
tarn table import par --from small.csv --mode append >/dev/null || bad "the seventh import of par"
reqs=$(grep -c '^ok ' "$S3_PROXY_CONTROL.log")
conns=$(grep -o 'conn=[0-9]*' "$S3_PROXY_CONTROL.log" | sort -u | wc -l)
[ "$reqs" -ge 2 ] && [ "$conns" -lt "$reqs" ] && ok "an import's $reqs requests went over $conns connection(s)" ||
    bad "an import's $reqs requests went over $conns connections (no reuse): $(cat "$S3_PROXY_CONTROL.log")"
cold
: >"$S3_PROXY_CONTROL.log"
[ "$(tarn query "SELECT sum(id) FROM par" --format csv 2>/dev/null | tail -1)" = 8925 ] &&
    ok "a cold query over 7 files reads them all" || bad "a cold query over 7 files"
gets=$(grep -c '^ok GET .*default\.par/' "$S3_PROXY_CONTROL.log")
most=$(grep '^ok GET .*default\.par/' "$S3_PROXY_CONTROL.log" | sed 's/.*inflight=//' | sort -n | tail -1)
[ "$gets" = 7 ] && [ "${most:-0}" -ge 3 ] && ok "its 7 downloads were made at once (up to $most in flight)" ||
    bad "its $gets downloads had at most ${most:-0} in flight: $(cat "$S3_PROXY_CONTROL.log")"
s3_proxy_faults 0 ""

# 5. virtual-hosted addressing reaches the server: with s3.path_style off,
#    requests go to BUCKET.s3.localhost (the proxy's port) with paths that
#    do not name the bucket, and the lakehouse works as path-style does.
mkdir vhost && (
    cd vhost || exit 1
    tarn init --storage s3://lake/vhost --endpoint "http://s3.localhost:${PROXY_ENDPOINT##*:}" >/dev/null &&
        echo "s3.path_style = false" >>.tarn/config
) || bad "init of a virtual-hosted lakehouse"
: >"$S3_PROXY_CONTROL.log"
(cd vhost && tarn table import small --from ../small.csv >/dev/null) || bad "import, virtual-hosted"
cold
[ "$(cd vhost && tarn query "SELECT sum(id) FROM small" --format csv 2>/dev/null | tail -1)" = 1275 ] &&
    ok "a virtual-hosted lakehouse imports and reads back" || bad "a virtual-hosted lakehouse reads back"
if grep -q '^ok PUT /vhost/data/' "$S3_PROXY_CONTROL.log" && grep -q '^ok GET /vhost/data/' "$S3_PROXY_CONTROL.log" &&
    ! grep -q ' /lake/' "$S3_PROXY_CONTROL.log"; then
    ok "its requests were virtual-hosted (no bucket in the path)"
else
    bad "its requests were not virtual-hosted: $(head -5 "$S3_PROXY_CONTROL.log")"
fi

# 3. a server that keeps refusing: a clear failure within the attempts
s3_proxy_faults 1 503
cold
if tarn query "SELECT count(*) FROM small" >out.txt 2>err.txt; then
    bad "a query succeeded against a server answering only 503"
else
    grep -q "HTTP 503 SlowDown" err.txt && grep -q "after 6 attempts" err.txt &&
        ok "always 503: $(head -c 200 err.txt)" || bad "always 503 said '$(cat err.txt)'"
fi
s3_proxy_stop
s3_server_stop
finish
