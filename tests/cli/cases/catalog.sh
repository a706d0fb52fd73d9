# catalog: where the catalog is (`tarn catalog info`), init's catalog
# options and their errors, and — when a PostgreSQL server is given
# (TARN_TEST_CATALOG) — migrating an embedded catalog into it with its
# whole history, verifying the copy, attaching other folders, refusing
# schemas that hold a lakehouse already or someone else's tables.
expect_json '"catalog" in j and "storage" in j' tarn -O json catalog info
expect_fail 1 "postgresql://" tarn init elsewhere --catalog bogus://x
expect_fail 1 "--catalog" tarn init elsewhere --attach
expect_fail 1 "absolute folder path" tarn init elsewhere --storage relative/path
[ -e elsewhere/.tarn/config ] && _fail "a refused init left a config"
# a password never shows in messages
expect_fail 1 "***" tarn init elsewhere --catalog "postgresql://tarn:s3cret@127.0.0.1:1/x"
case "$OUT$ERR" in *s3cret*) _fail "the password was shown: $OUT$ERR" ;; esac
expect_fail 1 "--to postgresql://" tarn catalog migrate
expect_fail 2 "unknown option" tarn catalog migrate --bogus
expect_out "verify" tarn catalog --help

local_only "migrating needs the lakehouse's own folders and several lakehouses"
# an embedded lakehouse with history: runs (one failed), branches, tags, a
# deleted branch, a table from a shared storage folder
EX="$HERE/../../examples/quickstart"
mkdir emb && cd emb || exit 1
expect_ok tarn init --storage "$TARN_CASE_TMP/store"
expect_json 'j["storage"] == "'"$TARN_CASE_TMP/store"'"' tarn -O json catalog info
expect_ok tarn table import transactions --from "$EX/data/transactions.csv"
expect_ok tarn table import countries --from "$EX/data/countries.csv"
[ -n "$(find "$TARN_CASE_TMP/store/data" -name '*.parquet')" ] || _fail "data files not in the storage folder"
expect_ok tarn run -p "$EX"
expect_ok tarn branch create dev
expect_ok tarn table import transactions --from "$EX/data/transactions.csv" --mode append --branch dev
expect_ok tarn tag create v1 --from-ref dev
expect_ok tarn branch rm dev
TARN_FAULT=run:before-merge tarn run -p "$EX" >/dev/null 2>&1
expect_json 'j[0]["status"] == "failed"' tarn -O json job ls
expect_json 'j["same"] and j["tables"]["commits"]["rows"][0] >= 5' tarn -O json catalog verify --against .tarn/catalog.db
MAIN=$(head_of main)
ROWS=$(count 'SELECT count(*) FROM usd_by_country')
if [ -z "${TARN_TEST_CATALOG:-}" ]; then cd .. && return 0; fi

# ---- with a PostgreSQL server ------------------------------------------------
sep='?'; case "$TARN_TEST_CATALOG" in *'?'*) sep='&' ;; esac
url() { echo "$TARN_TEST_CATALOG${sep}schema=$1_$$"; }
expect_fail 1 "not the embedded one" bash -c 'cd .. && "$TARN_BIN" catalog migrate --to "$0"' "$(url m1)"
expect_json 'j["tables"]["commits"] >= 5 and j["tables"]["ref_log"] >= 8 and j["tables"]["jobs"] == 2' \
    tarn -O json catalog migrate --to "$(url m1)"
expect_json 'j["catalog"].startswith("postgresql://")' tarn -O json catalog info
expect_json 'j["same"] and all(t["differ"] == 0 for t in j["tables"].values())' tarn -O json catalog verify
# the same lakehouse, read from PostgreSQL now
expect_eq "$MAIN" "$(head_of main)" "main after the migration"
expect_eq "$ROWS" "$(count 'SELECT count(*) FROM usd_by_country')" "a run's output after the migration"
expect_ok tarn query "SELECT count(*) FROM transactions" --ref v1
expect_json 'j[0]["status"] == "failed" and j[1]["status"] == "success"' tarn -O json job ls
expect_fail 1 "failed run" tarn branch merge "$(tarn -O json branch ls | $PY -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin) if b["aborted"]][0])')"
expect_ok tarn query "SELECT count(*) FROM transactions" --ref "main@{$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)}"
# a change after the migration: verify says what differs, exit 1
expect_ok tarn namespace create after
expect_json_rc 1 'not j["same"] and j["tables"]["commits"]["differ"] == 1' tarn -O json catalog verify
expect_fail 1 "DIFFERENT" tarn catalog verify
# a second migration into a schema that holds a lakehouse is refused
cd .. || exit 1
mkdir emb2 && (cd emb2 && "$TARN_BIN" init >/dev/null)
expect_fail 1 "already holds a lakehouse" bash -c 'cd emb2 && "$TARN_BIN" catalog migrate --to "$0"' "$(url m1)"
grep -q '^catalog' emb2/.tarn/config && _fail "a refused migration switched the config"
# other hosts attach; attaching to an empty schema or creating on a full one is refused
expect_ok tarn init host2 --attach --catalog "$(url m1)" --storage "$TARN_CASE_TMP/store"
expect_out "after" bash -c 'cd host2 && "$TARN_BIN" namespace ls'
expect_fail 1 "no tarn catalog" tarn init host3 --attach --catalog "$(url empty)"
expect_fail 1 "already holds a lakehouse" tarn init host4 --catalog "$(url m1)"
# a schema holding tables that are not tarn's is never used
catalog_psql() { PGOPTIONS="-csearch_path=public" psql -X -q "${TARN_TEST_CATALOG%%\?*}" -c "$1"; }
catalog_psql "CREATE SCHEMA foreign_$$; CREATE TABLE foreign_$$.refs(x int)" >/dev/null
expect_fail 1 "not a tarn catalog" tarn init host5 --catalog "$TARN_TEST_CATALOG${sep}schema=foreign_$$"
expect_eq 1 "$(catalog_psql "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'foreign_$$'" | sed -n 3p | tr -d ' ')" "tables in the foreign schema"
