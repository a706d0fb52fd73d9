# Two branches that keep appending to one table merge again and again.
# Regression: after a first three-way merge, main's table version holds
# base + main's new files + dev's new files; the next merge's base is dev's
# old head whose files are base + dev's new files, which is not a PREFIX of
# main's list, and merge.c's appends_to() (prefix check) reported a false
# "changed on both sides, and not only by appends" conflict, though both
# sides only appended and no file was removed.
csv a.csv id 1 2
csv b.csv id 3 4 5
expect_ok tarn table import t --from a.csv
expect_ok tarn branch create dev
expect_ok tarn table import t --from b.csv --mode append --branch dev
expect_ok tarn table import t --from a.csv --mode append
expect_json 'j["fast_forward"] is False' tarn -O json branch merge dev
expect_eq 7 "$(count 'SELECT count(*) FROM t')" "rows after the first merge"
# round two: both append again
expect_ok tarn table import t --from b.csv --mode append --branch dev
expect_ok tarn table import t --from a.csv --mode append
expect_json 'j["fast_forward"] is False' tarn -O json branch merge dev
expect_eq 12 "$(count 'SELECT count(*) FROM t')" "rows after the second merge"
