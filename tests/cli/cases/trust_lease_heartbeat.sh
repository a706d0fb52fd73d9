# A writer's lease is renewed while its commit holds the catalog's write
# lock: the heartbeat never holds what the commit needs to check the lease.
# (Before, a renewal waiting for the write lock held the lease's mutex, the
# commit waited for that mutex, and two minutes later the lease had expired:
# a long import loop failed with "lease expired before it could commit".)
local_only "TARN_FAULT pauses the process that commits, which through a server is the server's"
csv t.csv id 1 2 3
echo "lease.ttl_seconds = 2" >>.tarn/config # a renewal every 0.5 s
# the commit pauses 1 s inside its transaction, before it checks the lease:
# a renewal comes due meanwhile and must wait for the commit, not block it
_run timeout 60 env TARN_FAULT=commit:before-lease-check=pause:1000 "$TARN_BIN" table import t --from t.csv
expect_eq 0 "$RC" "exit status of an import whose commit outlasted a heartbeat ($ERR)"
expect_json 'j["row_count"] == 3' tarn -O json table get t
_run timeout 60 env TARN_FAULT=commit:before-lease-check=pause:1000 "$TARN_BIN" table import t --from t.csv --mode append
expect_eq 0 "$RC" "exit status of an append whose commit outlasted a heartbeat ($ERR)"
expect_json 'j["row_count"] == 6' tarn -O json table get t
