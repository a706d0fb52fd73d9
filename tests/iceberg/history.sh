# tests/iceberg/history.sh — sourced by the Iceberg CLI cases (after
# tests/cli/lib.sh): ice_history TAG BRANCH builds table t's history —
# t imported (2 rows, commit $FIRST, tagged TAG), BRANCH with an append,
# main replaced then appended to, a side branch from $FIRST with an append
# merged into BRANCH — so the cases read it at a tag, a branch after an
# append and a merge, main after a replace, and an old commit.
ice_history() {
    local tag=$1 branch=$2
    csv a.csv id,name 1,one 2,two
    csv b.csv id,name 3,three
    csv c.csv id,name 10,ten 11,eleven 12,twelve
    expect_ok tarn table import t --from a.csv
    FIRST=$(head_of main)
    expect_ok tarn tag create "$tag"
    expect_ok tarn branch create "$branch"
    expect_ok tarn table import t --from b.csv --mode append --branch "$branch"
    expect_ok tarn table import t --from c.csv --mode replace
    expect_ok tarn table import t --from b.csv --mode append
    expect_ok tarn branch create side --from-ref "$FIRST"
    expect_ok tarn table import t --from c.csv --mode append --branch side
    expect_ok tarn branch merge side --into "$branch"
    expect_eq 6 "$(count 'SELECT count(*) FROM t' --ref "$branch")" "rows on $branch (base, append, merged side)"
}
