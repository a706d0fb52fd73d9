# Source scans skip data files by their statistics: only files whose
# min/max can satisfy the filter are read, and results never change.
csv a.csv id,country 1,IT 5,IT 10,FR
csv b.csv id,country 11,DE 15,DE 20,ES
csv c.csv id,country 21,US 25,US 30,JP
expect_ok tarn table import t --from a.csv
expect_ok tarn table import t --from b.csv --mode append
expect_ok tarn table import t --from c.csv --mode append
mkdir -p proj
model() {
    cat >proj/m.py <<PY
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def picked(data=tarn.Model("t", filter="$1")):
    return data
PY
}
model "id BETWEEN 12 AND 15"
expect_out "(1 of 3 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq 1 "$(count 'SELECT count(*) FROM picked')" "rows for id BETWEEN 12 AND 15"
model "country IN ('US', 'JP') AND id > 0"
expect_out "(1 of 3 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq 3 "$(count 'SELECT count(*) FROM picked')" "rows for country IN (US, JP)"
model "id >= 10 AND id < 21"
expect_out "(2 of 3 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq 4 "$(count 'SELECT count(*) FROM picked')" "rows for 10 <= id < 21"
model "id > 100"
expect_out "(0 of 3 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq 0 "$(count 'SELECT count(*) FROM picked')" "rows for id > 100"
model "event >= TIMESTAMP '2026-03-01'"
expect_fail 1 'the filter on '"'t'"' is not valid: DuckDB: Binder Error: Referenced column "event" not found' tarn run -p proj --dry-run
# what the statistics cannot judge keeps every file
model "id % 2 = 0 OR country = 'IT'"
expect_out "(3 of 3 files)" tarn run -p proj --dry-run
expect_ok tarn run -p proj
expect_eq "$(count "SELECT count(*) FROM t WHERE id % 2 = 0 OR country = 'IT'")" \
    "$(count 'SELECT count(*) FROM picked')" "rows for an opaque filter"
# On S3, a run fetches only the files its scans kept: planning (binding the
# filter) and an all-pruned scan read the catalog's schema, no data file.
# (--cache off: a scan served from the scan cache fetches nothing at all.)
if on_s3; then
    model "id BETWEEN 12 AND 15"
    rm -rf "$XDG_CACHE_HOME/tarn/v1"
    expect_ok tarn run -p proj --cache off
    # the one kept source file, and the output (published into the cache)
    expect_eq 2 "$(find "$XDG_CACHE_HOME/tarn/v1" -type f | wc -l)" "cache entries after a run keeping 1 of 3 files"
    model "id > 100"
    rm -rf "$XDG_CACHE_HOME/tarn/v1"
    expect_ok tarn run -p proj --cache off
    expect_eq 1 "$(find "$XDG_CACHE_HOME/tarn/v1" -type f | wc -l)" "cache entries after a run keeping 0 of 3 files"
fi
