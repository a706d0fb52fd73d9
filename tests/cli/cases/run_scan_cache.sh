# The scan cache: a second run reads its source scan from the kept result
# (exact), a run after an append reads only the added file (append), a
# subset of the columns is served from a scan of all of them (subset);
# the run output and the job record say so; --cache off bypasses it; a
# rewrite of the table is never served from it; a damaged or half-written
# entry is never served; results are always those of the files. The model
# says cache_strategy="NONE" so that it runs every time (model reuse would
# otherwise take its earlier output and scan nothing).
csv a.csv id,country,usd 1,IT,5 2,FR,7 3,DE,9 4,US,1
csv b.csv id,country,usd 5,IT,50 6,JP,2
csv c.csv id,country,usd 7,FR,70
expect_ok tarn table import t --from a.csv
mkdir -p proj
model() { # COLUMNS FILTER
    cat >proj/m.py <<PY
import tarn

@tarn.model(materialize=True, cache_strategy="NONE")
@tarn.python("3.11")
def picked(data=tarn.Model("t", columns=$1, filter="$2")):
    return data
PY
}
picked() { count "SELECT string_agg(id::VARCHAR || ':' || usd::VARCHAR, ',' ORDER BY id) FROM picked"; }
truth() { count "SELECT string_agg(id::VARCHAR || ':' || usd::VARCHAR, ',' ORDER BY id) FROM t WHERE $1"; }
last_job() { tarn -O json job ls | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
F="country IN ('IT', 'FR', 'DE') AND usd > 1"
model '["id", "usd"]' "$F"

expect_out "picked <- default.t: scan miss" tarn run -p proj
expect_eq "$(truth "$F")" "$(picked)" "first run"
expect_out "picked <- default.t: scan cache hit, exact" tarn run -p proj
expect_eq "$(truth "$F")" "$(picked)" "served exactly"
expect_json 'j["scans"][0]["cache"] == "exact" and j["scans"][0]["model"] == "picked"' tarn -O json job get "$(last_job)"
expect_json 'j["scans"][0]["cache"] == "exact"' tarn -O json run -p proj

# an append: only the added file is read
expect_ok tarn table import t --from b.csv --mode append
expect_out "scan cache hit, append, 1 file added" tarn run -p proj
expect_eq "$(truth "$F")" "$(picked)" "after an append"
expect_json 'j["scans"][0]["cache"] == "append" and j["scans"][0]["files_added"] == 1' tarn -O json job get "$(last_job)"

# a rewrite (replace) of the table is never served from what was kept
expect_ok tarn table import t --from c.csv --mode replace
expect_out "scan miss" tarn run -p proj
expect_eq "7:70" "$(picked)" "after a replace"

# a subset of the columns, and a filter implied by the kept one
expect_ok tarn table import t --from a.csv --mode append
model 'None' "$F"
expect_out "scan miss" tarn run -p proj
model '["id", "usd"]' "$F AND id > 1"
expect_out "scan cache hit, subset" tarn run -p proj
expect_eq "$(truth "$F AND id > 1")" "$(picked)" "a subset"
# a filter the kept one does not imply reads the files
model '["id", "usd"]' "usd > 1"
expect_out "scan miss" tarn run -p proj
expect_eq "$(truth "usd > 1")" "$(picked)" "another filter"

# --cache off reads the files and says so
model '["id", "usd"]' "$F"
expect_fail 2 "--cache takes on or off" tarn run -p proj --cache maybe
if local_section "a server runs with its own options (tarn serve does not pass --cache yet)"; then
    expect_out "picked <- default.t: scan off" tarn run -p proj --cache off
    expect_eq "$(truth "$F")" "$(picked)" "cache off"
    expect_json 'j["scans"][0]["cache"] == "off"' tarn -O json job get "$(last_job)"
fi

if local_section "the case reads and damages the server's cache folder"; then
    # a bad bound is refused, saying how to fix it, and nothing changes
    cp .tarn/config config.saved
    echo "run.scan_cache_mb = lots" >>.tarn/config
    HEAD=$(head_of main)
    expect_fail 1 "run.scan_cache_mb = 'lots' in .tarn/config: expected a whole number of MiB" tarn run -p proj
    expect_eq "$HEAD" "$(head_of main)" "main after a refused run"
    cp config.saved .tarn/config

    entries() { find "$XDG_CACHE_HOME/tarn/scans/v1" -name '*.arrows' 2>/dev/null | sort; }
    # the kept result of these columns and filter on the table before its
    # last append, and then exactly this one, which the warm runtime also
    # keeps in memory: handed over as it is, no file read
    expect_out "scan cache hit, append" tarn run -p proj
    expect_out "scan cache hit, exact; kept in memory" tarn run -p proj
    expect_eq "$(truth "$F")" "$(picked)" "served from memory"
    mv "$XDG_CACHE_HOME/tarn/scans" scans.saved
    expect_out "scan cache hit, exact; kept in memory" tarn run -p proj
    expect_json 'j["scans"]["entries"] >= 1 and j["scans"]["bytes"] > 0' tarn -O json runtime status
    expect_ok tarn runtime stop
    expect_out "scan miss" tarn run -p proj
    expect_eq "$(truth "$F")" "$(picked)" "after the runtime stopped"
    rm -rf "$XDG_CACHE_HOME/tarn/scans"
    mv scans.saved "$XDG_CACHE_HOME/tarn/scans"
    # the folder alone from here on: no warm runtime, no memory
    export TARN_RUNTIME=off
    expect_out "scan cache hit, exact" tarn run -p proj
    # a truncated entry: ignored, removed, rebuilt
    for e in $(entries); do truncate -s -8 "$e"; done
    expect_out "scan miss; a kept result was damaged or gone: removed" tarn run -p proj
    expect_eq "$(truth "$F")" "$(picked)" "after a truncated entry"
    expect_out "scan cache hit, exact" tarn run -p proj
    # a flipped byte in the data: the checksum catches it
    for e in $(entries); do
        size=$(stat -c %s "$e")
        printf '\377' | dd of="$e" bs=1 seek=$((size - 100)) conv=notrunc status=none
    done
    expect_out "scan miss; a kept result was damaged or gone: removed" tarn run -p proj
    expect_eq "$(truth "$F")" "$(picked)" "after a damaged entry"
    # killed while keeping a result: no entry appears under its name, the
    # next run reads the files and keeps it
    rm -rf "$XDG_CACHE_HOME/tarn/scans"
    TARN_FAULT=scancache:mid-write tarn run -p proj >/dev/null 2>&1
    expect_eq "" "$(entries)" "entries after a run killed while keeping one"
    expect_out "scan miss" tarn run -p proj
    expect_eq "$(truth "$F")" "$(picked)" "after a killed run"
    expect_out "scan cache hit, exact" tarn run -p proj
    unset TARN_RUNTIME
    # run.scan_cache_mb = 0 turns it off, in memory too
    echo "run.scan_cache_mb = 0" >>.tarn/config
    expect_out "scan off" tarn run -p proj
    cp config.saved .tarn/config
fi
