# A commit checks, in its transaction, that its writer's lease is alive and
# that every file it references is in the store: a writer that stalled past
# its lease (so gc could take its upload) or whose upload vanished commits
# nothing and says why. (Trust issue, point 1: the commit side of the rule.)
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv
before=$(head_of main)

# stall_import TABLE: an import of TABLE stopped just after its upload;
# sets STALLED to its PID once it stands still.
stall_import() {
    TARN_FAULT=import:after-publish=stop "$TARN_BIN" table import "$1" --from t.csv >import.out 2>&1 &
    STALLED=$!
    local i
    for i in $(seq 1 600); do
        [ "$(awk '{print $3}' "/proc/$STALLED/stat" 2>/dev/null)" = T ] && return 0
        sleep 0.1
    done
    return 1
}
# go_on: lets the stalled import finish; its exit status
go_on() { kill -CONT "$STALLED"; wait "$STALLED"; }

# 1. The lease expires while the writer stands still (its expiry moved to
# the past, as the clock would after lease.ttl_seconds); gc takes the upload.
files_before=$(data_files)
stall_import late || _fail "the import did not stop at its fault point"
catalog_sql "UPDATE leases SET expires_us = 1" >/dev/null
expect_ok tarn gc --grace 0
expect_eq "$files_before" "$(data_files)" "gc took the upload of the expired lease"
go_on
expect_eq 1 "$?" "exit status of an import whose lease expired"
expect_eq 1 "$(grep -c 'lease expired before it could commit' import.out)" "the error names the expired lease"
expect_fail 1 "" tarn table get late
expect_eq "$before" "$(head_of main)" "main after the late import"

# 2. The upload vanishes before the commit (an operator, a lifecycle rule).
stall_import gone || _fail "the import did not stop at its fault point"
new=$(comm -13 <(echo "$files_before") <(data_files))
expect_eq 1 "$(echo "$new" | grep -c .)" "one new upload while the import stands still"
del_object "$new"
go_on
expect_eq 1 "$?" "exit status of an import whose upload vanished"
expect_eq 1 "$(grep -c 'vanished before it was committed' import.out)" "the error names the vanished file"
expect_fail 1 "" tarn table get gone
expect_eq "$before" "$(head_of main)" "main after the import whose file vanished"
expect_json 'j["row_count"] == 2' tarn -O json table get t
