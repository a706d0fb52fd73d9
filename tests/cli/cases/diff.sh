# branch diff: added / removed / changed, row counts both sides.
csv a.csv id 1 2 3
expect_ok tarn table import keep --from a.csv
expect_ok tarn table import grow --from a.csv
expect_ok tarn table import gone --from a.csv
expect_ok tarn branch create dev
expect_json 'j["added"] == [] and j["removed"] == [] and j["changed"] == []' tarn -O json branch diff main dev
expect_ok tarn table import grow --from a.csv --mode append --branch dev
expect_ok tarn table rm gone --branch dev
expect_ok tarn table import new --from a.csv --branch dev
expect_json 'j["added"] == ["default.new"] and j["removed"] == ["default.gone"] and j["changed"] == ["default.grow"]' \
    tarn -O json branch diff main dev
expect_json 'j["added"] == ["default.gone"] and j["removed"] == ["default.new"] and j["changed"] == ["default.grow"]' \
    tarn -O json branch diff dev main
# terminal view: row counts on both sides of a changed table
expect_out "default.grow" tarn branch diff main dev
expect_out "3 -> 6" tarn branch diff main dev
expect_no_out "default.keep" tarn branch diff main dev
# one argument: against the active branch
expect_ok tarn checkout dev
expect_json 'j["added"] == [] and j["changed"] == []' tarn -O json branch diff dev
expect_ok tarn checkout main
expect_json 'sorted(j["added"] + j["removed"] + j["changed"]) == ["default.gone", "default.grow", "default.new"]' \
    tarn -O json branch diff dev
# refs of any kind
expect_json 'j["changed"] == ["default.grow"]' tarn -O json branch diff dev~3 dev
expect_fail 1 "unknown ref" tarn branch diff main nope
expect_fail 2 "" tarn branch diff
