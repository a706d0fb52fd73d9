# Nothing reaches a branch that should not: garbage-collected states,
# a failed run's output, a table whose namespace is gone; time travel
# stays right when the clock steps back. (Trust issue, points 2, 3, 7, 8.)
csv a.csv id 1 2 3

# 2. A commit whose data gc deleted cannot become a branch again.
expect_ok tarn branch create scratch
expect_ok tarn table import gone --from a.csv --branch scratch
LOST=$(head_of scratch)
expect_ok tarn branch rm scratch
# within the grace period, a deleted branch's state is kept and can come back
expect_json 'j["count"] == 0' tarn -O json gc
expect_ok tarn branch create back --from-ref "$LOST"
expect_eq 3 "$(count 'SELECT count(*) FROM gone' --ref back)" "rows of a recreated branch"
expect_ok tarn branch rm back
expect_json 'j["count"] == 1' tarn -O json gc --grace 0
expect_fail 1 "garbage-collected" tarn branch create back --from-ref "$LOST"
expect_fail 1 "garbage-collected" tarn tag create back --from-ref "$LOST"
expect_fail 1 "garbage-collected" tarn branch merge "$LOST"
expect_no_out "back" tarn branch ls

# 3. A failed run's output never reaches a branch, however it is reached.
if local_section "TARN_FAULT kills a run in the process that runs it, which through a server is the server's"; then
EX="$HERE/../../examples/quickstart"
expect_ok tarn table import transactions --from "$EX/data/transactions.csv"
expect_ok tarn table import countries --from "$EX/data/countries.csv"
HEAD=$(head_of main)
TARN_FAULT=run:before-merge tarn run -p "$EX" >/dev/null 2>&1
expect_eq 137 "$?" "exit status of the killed run"
RB=$(tarn -O json branch ls | $PY -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin) if b["name"].startswith("tarn-run/")][0])')
RUN=$(head_of "$RB")
expect_fail 1 "has not succeeded" tarn branch create via-run --from-ref "$RB"
expect_fail 1 "has not succeeded" tarn branch create via-run --from-ref "$RUN"
expect_fail 1 "has not succeeded" tarn table revert usd_by_country --source-ref "$RB"
expect_fail 1 "has not succeeded" tarn table revert usd_by_country --source-ref "$RUN"
# a tag may point at it (nothing is written on a tag) but leads nowhere
expect_ok tarn tag create failed-run --from-ref "$RB"
expect_fail 1 "has not succeeded" tarn branch create via-tag --from-ref failed-run
expect_fail 1 "has not succeeded" tarn branch merge failed-run
expect_eq "$HEAD" "$(head_of main)" "main after every attempt"
# nor can anything be committed on the run branch itself
expect_fail 1 "only its run writes" tarn table import extra --from a.csv --branch "$RB"
fi
# reserved names
expect_fail 1 "reserved for runs" tarn branch create tarn-run/mine

# 7. Time travel when the clock steps back an hour.
expect_ok tarn table import clock --from a.csv
BEFORE=$(head_of main)
# (S3 refuses requests signed more than 15 minutes off its clock: a smaller step there)
STEP=-1h
on_s3 && STEP=-10m
ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 faketime -m -f "$STEP" "$TARN_BIN" table import clock --from a.csv --mode append >/dev/null
AFTER=$(head_of main)
expect_eq 6 "$(count 'SELECT count(*) FROM clock' --ref 'main@{now}')" "main@{now} after the clock stepped back"
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
expect_eq "$AFTER" "$(head_of "main@{$NOW}")" "main@{the current time}"
# thirty minutes ago the lakehouse did not exist: an error, not the newest state
EARLY=$(date -u -d '30 minutes ago' +%Y-%m-%dT%H:%M:%SZ)
expect_fail 1 "did not exist" tarn query "SELECT count(*) FROM clock" --ref "main@{$EARLY}"
[ "$BEFORE" != "$AFTER" ] || _fail "the stepped-back import made no commit"
# the log stays in order
expect_json 'j[0]["hash"] == "'"$AFTER"'" and j[1]["hash"] == "'"$BEFORE"'"' tarn -O json commit -n 2

# 8. Removing a namespace on one side and adding a table to it on the
# other is a conflict, not a table without a namespace.
expect_ok tarn namespace create sales
expect_ok tarn branch create add-table
expect_ok tarn table import sales.orders --from a.csv --branch add-table
expect_ok tarn namespace rm sales
MAIN=$(head_of main)
expect_fail 1 "sales.orders" tarn branch merge add-table
expect_eq "$MAIN" "$(head_of main)" "main after the conflicting merge"
expect_json '"sales" not in j' tarn -O json namespace ls
# and the other way round
expect_ok tarn namespace create mkt
expect_ok tarn branch create drop-ns
expect_ok tarn namespace rm mkt --branch drop-ns
expect_ok tarn table import mkt.leads --from a.csv
expect_fail 1 "namespace 'mkt' was removed" tarn branch merge main --into drop-ns
