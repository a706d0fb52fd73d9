# --help on every command exits 0 and prints its usage; bad usage exits 2.
expect_out "usage: tarn" tarn --help
expect_out "usage: tarn" tarn -h
for c in init checkout branch tag namespace table query commit gc \
         "branch ls" "branch create" "branch rm" "branch diff" "branch merge" \
         "tag ls" "tag create" "tag rm" "namespace ls" "namespace create" "namespace rm" \
         "table ls" "table get" "table rm" "table import" "table revert"; do
    # shellcheck disable=SC2086
    expect_out "usage: tarn $c" tarn $c --help
done
expect_fail 2 "unknown command" tarn bogus
expect_fail 2 "" tarn table
expect_fail 2 "" tarn branch frob
expect_fail 2 "unknown option" tarn branch ls --frob
expect_fail 2 "--max-rows" tarn query 'SELECT 1' --max-rows abc
expect_fail 2 "--max-rows" tarn query 'SELECT 1' --max-rows
expect_fail 2 "" tarn table import t            # --from missing
expect_fail 2 "" tarn branch create             # NAME missing
expect_fail 2 "" tarn table import t --from x.csv --mode upsert
expect_fail 2 "" tarn commit -n notanumber
# every error also comes as JSON with -O json
expect_json_rc 2 'set(j["error"]) >= {"code", "message"}' tarn -O json bogus
expect_json_rc 2 'set(j["error"]) >= {"code", "message"}' tarn -O json table import t
