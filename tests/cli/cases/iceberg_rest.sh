# The Iceberg REST catalog of a real `tarn serve` on loopback, read by
# readers no one here wrote: iceberg-js loads the catalog's config, lists
# namespaces and tables and loads each table (in both addressing styles:
# /iceberg/REF/v1/... and the prefix /v1/config?warehouse=REF gives), then
# icebird reads the metadata, Avro manifests and Parquet files over HTTP
# from the server and every row is compared with `tarn query` at the same
# ref (tests/iceberg/compare.mjs): every column type, a tag, a branch
# after an append, a replace and a merge, an old commit, a branch whose
# name holds '/'. Tokens are checked as on every route (none: 401; read
# rights per ref: 403); errors come in the spec's shape; writes are
# refused as the read-only catalog's, and change nothing.
ICE="$HERE/../iceberg"

# The server: through the remote pass, the one every command talks to;
# otherwise one of the case's own.
if on_remote; then
    URL=$TARN_REMOTE
    TOK=$TARN_TOKEN
else
    TOK=$(tarn -O json token create "${USER:-me}" --admin | $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    "$TARN_BIN" serve --listen 127.0.0.1:0 --port-file "$TARN_CASE_TMP/ice_port" \
        --iceberg-register-root "$PWD" >"$TARN_CASE_TMP/ice_serve.log" 2>&1 &
    SPID=$!
    trap 'kill -TERM $SPID 2>/dev/null; wait $SPID 2>/dev/null' EXIT
    for _ in $(seq 300); do [ -s "$TARN_CASE_TMP/ice_port" ] && break; sleep 0.1; done
    URL="http://127.0.0.1:$(cat "$TARN_CASE_TMP/ice_port")"
fi

# ice METHOD PATH TOKEN [BODY]: prints {"status": N, "body": JSON or null}.
ice() {
    local code
    if [ "$1" = HEAD ]; then
        code=$(curl -s -I -o /dev/null -w '%{http_code}' ${3:+-H "Authorization: Bearer $3"} "$URL$2")
        : >"$TARN_CASE_TMP/ice_body"
    else
        code=$(curl -s -o "$TARN_CASE_TMP/ice_body" -w '%{http_code}' -X "$1" ${3:+-H "Authorization: Bearer $3"} \
            ${4:+-H 'Content-Type: application/json' --data "$4"} "$URL$2")
    fi
    $PY -c 'import json,sys
t = open(sys.argv[2]).read()
print(json.dumps({"status": int(sys.argv[1]), "body": json.loads(t) if t.strip() else None}))' "$code" "$TARN_CASE_TMP/ice_body"
}
# compare REF TABLE [compare.mjs options]: icebird's rows are tarn's.
compare() {
    local ref=$1 table=$2
    shift 2
    expect_out '"rows"' node "$ICE/compare.mjs" --tarn "$TARN_BIN" --ref "$ref" --table "$table" --token "$TOK" "$@"
}

expect_ok tarn query -f "$ICE/types.sql" --output types.parquet
expect_ok tarn table import types --from types.parquet
. "$ICE/history.sh"
ice_history rel1 feature/x

# Every column type, through both addressing styles.
compare main types --rest "$URL/iceberg/main"
compare main types --rest "$URL/iceberg" --warehouse main
# Refs: a tag, a branch with '/', after a replace, an old commit.
compare rel1 t --rest "$URL/iceberg" --warehouse rel1
compare feature/x t --rest "$URL/iceberg" --warehouse feature/x
compare main t --rest "$URL/iceberg/main"
compare "$FIRST" t --rest "$URL/iceberg/$FIRST"
expect_eq 2 "$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" "rows at the first commit"

# config: the prefix of a ref; one that is not plain travels as base64url.
expect_json 'j["status"] == 200 and j["body"]["overrides"] == {"prefix": "rel1"}' ice GET "/iceberg/v1/config?warehouse=rel1" "$TOK"
expect_json 'j["status"] == 200 and j["body"]["overrides"]["prefix"].startswith("b64.")' \
    ice GET "/iceberg/v1/config?warehouse=feature/x" "$TOK"
PFX=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["body"]["overrides"]["prefix"])')
expect_json 'j["status"] == 200 and sorted(i["name"] for i in j["body"]["identifiers"]) == ["t", "types"]' \
    ice GET "/iceberg/v1/$PFX/namespaces/default/tables" "$TOK"
# LoadTable twice: the metadata is written once and found again.
expect_json 'j["status"] == 200 and j["body"]["metadata"]["format-version"] == 2' ice GET "/iceberg/main/v1/namespaces/default/tables/t" "$TOK"
LOC1=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["body"]["metadata-location"])')
expect_json 'j["body"]["metadata-location"] == "'"$LOC1"'"' ice GET "/iceberg/main/v1/namespaces/default/tables/t" "$TOK"
expect_json 'j["status"] == 204' ice HEAD "/iceberg/main/v1/namespaces/default/tables/t" "$TOK"
expect_json 'j["status"] == 404' ice HEAD "/iceberg/main/v1/namespaces/default/tables/nope" "$TOK"

# Files in byte ranges, as Parquet readers ask for them (206 and the right
# bytes), whole otherwise; a range outside the file is 416.
curl -s -H "Authorization: Bearer $TOK" -o "$TARN_CASE_TMP/whole" "$LOC1"
ranged() { # ranged RANGE: prints "STATUS CONTENT-RANGE" and keeps the body
    curl -s -H "Authorization: Bearer $TOK" -r "$1" -D "$TARN_CASE_TMP/headers" -o "$TARN_CASE_TMP/part" \
        -w '%{http_code} ' "$LOC1"
    grep -i '^content-range:' "$TARN_CASE_TMP/headers" | tr -d '\r' | sed 's/^[^:]*: //'
}
SIZE=$(wc -c <"$TARN_CASE_TMP/whole")
expect_eq "206 bytes 10-29/$SIZE" "$(ranged 10-29)" "a range of the metadata file"
expect_eq "$(tail -c +11 "$TARN_CASE_TMP/whole" | head -c 20 | md5sum)" "$(md5sum <"$TARN_CASE_TMP/part")" "the range's bytes"
expect_eq "206 bytes $((SIZE - 8))-$((SIZE - 1))/$SIZE" "$(ranged -8)" "the last 8 bytes"
expect_eq "$(tail -c 8 "$TARN_CASE_TMP/whole" | md5sum)" "$(md5sum <"$TARN_CASE_TMP/part")" "the last 8 bytes' content"
expect_eq "416 " "$(ranged "$SIZE-")" "a range past the end"

# Errors in the spec's shape.
expect_json 'j["status"] == 404 and j["body"]["error"]["type"] == "NoSuchTableException" and j["body"]["error"]["code"] == 404' \
    ice GET "/iceberg/main/v1/namespaces/default/tables/nope" "$TOK"
expect_json 'j["status"] == 404 and j["body"]["error"]["type"] == "NoSuchNamespaceException"' \
    ice GET "/iceberg/main/v1/namespaces/nope/tables" "$TOK"
expect_json 'j["status"] == 404 and "nope" in j["body"]["error"]["message"]' ice GET "/iceberg/nope/v1/namespaces" "$TOK"

# Tokens: none is refused; a token that reads main only reads main.
expect_json 'j["status"] == 401' ice GET "/iceberg/main/v1/namespaces" ""
expect_json 'j["status"] == 401' ice GET "/iceberg/files/$(printf '%s' "$LOC1" | sed 's|.*/iceberg/files/||')" ""
RTOK=$(tarn -O json token create reader --read main | $PY -c 'import json,sys; print(json.load(sys.stdin)["token"])')
compare main t --rest "$URL/iceberg/main" --token "$RTOK"
expect_json 'j["status"] == 403 and j["body"]["error"]["type"] == "ForbiddenException" and "feature/x" in j["body"]["error"]["message"]' \
    ice GET "/iceberg/v1/$PFX/namespaces/default/tables/t" "$RTOK"
expect_json 'j["status"] == 403' ice GET "/iceberg/v1/config?warehouse=rel1" "$RTOK"

# A read-only catalog: writes are refused with the reason, nothing changes.
H=$(head_of main)
expect_json 'j["status"] == 406 and j["body"]["error"]["type"] == "UnsupportedOperationException" and "tarn table import" in j["body"]["error"]["message"]' \
    ice POST "/iceberg/main/v1/namespaces/default/tables" "$TOK" '{"name": "u", "schema": {"type": "struct", "fields": []}}'
expect_json 'j["status"] == 406' ice DELETE "/iceberg/main/v1/namespaces/default/tables/t" "$TOK"
expect_json 'j["status"] == 406' ice POST "/iceberg/main/v1/namespaces" "$TOK" '{"namespace": ["n2"]}'
expect_json 'j["status"] == 403' ice POST "/iceberg/main/v1/namespaces/default/register" "$RTOK" \
    '{"name": "ext", "metadata-location": "'"$LOC1"'"}'
expect_eq "$H" "$(head_of main)" "main after refused writes"
expect_json 'sorted(t["name"] for t in j) == ["default.t", "default.types"]' tarn -O json table ls

# register: an Iceberg table written elsewhere (here an export on this
# host, made without the server) added to a branch through the catalog,
# answered with its LoadTableResult, then read row for row. The server
# reads metadata and data only under the folder it was given
# (--iceberg-register-root: this lakehouse's folder here and in the
# remote pass).
env -u TARN_REMOTE -u TARN_TOKEN "$TARN_BIN" table export-iceberg t --ref rel1 --to "$PWD/elsewhere" --copy >/dev/null
EXT="file://$PWD/elsewhere/metadata/v1.metadata.json"
expect_json 'j["status"] == 200 and j["body"]["metadata"]["format-version"] == 2' \
    ice POST "/iceberg/feature/x/v1/namespaces/default/register" "$TOK" '{"name": "ext", "metadata-location": "'"$EXT"'"}'
expect_json 'j[0]["properties"]["iceberg.metadata-location"] == "'"$EXT"'"' tarn -O json commit feature/x -n 1
compare feature/x ext --rest "$URL/iceberg/feature/x"
expect_eq 2 "$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"])')" "rows of the registered table"
expect_json 'j["status"] == 409 and j["body"]["error"]["type"] == "AlreadyExistsException"' \
    ice POST "/iceberg/feature/x/v1/namespaces/default/register" "$TOK" '{"name": "ext", "metadata-location": "'"$EXT"'"}'

# Outside that folder nothing is read for a client, and nothing changes:
# metadata elsewhere, a link out of the folder, and metadata inside it
# naming another lakehouse's data files (what a client could otherwise
# register, then read).
H=$(head_of feature/x)
env -u TARN_REMOTE -u TARN_TOKEN "$TARN_BIN" table export-iceberg t --ref rel1 --to "$TARN_CASE_TMP/outside" --copy >/dev/null
ln -s "$TARN_CASE_TMP/outside" "$PWD/link_out"
mkdir -p "$TARN_CASE_TMP/other" && (cd "$TARN_CASE_TMP/other" && env -u TARN_REMOTE -u TARN_TOKEN -u TARN_HOME "$TARN_BIN" init >/dev/null &&
    printf 'id\n7\n' >o.csv && env -u TARN_REMOTE -u TARN_TOKEN -u TARN_HOME "$TARN_BIN" table import o --from o.csv >/dev/null &&
    env -u TARN_REMOTE -u TARN_TOKEN -u TARN_HOME "$TARN_BIN" table export-iceberg o --to "$PWD/../other_export" >/dev/null) ||
    _fail "another lakehouse's export"
mkdir -p "$PWD/inroot" && cp -r "$TARN_CASE_TMP/other_export/metadata" "$PWD/inroot/"
for loc in "file://$TARN_CASE_TMP/outside/metadata/v1.metadata.json" "file://$PWD/link_out/metadata/v1.metadata.json" \
    "file://$PWD/inroot/metadata/v1.metadata.json"; do
    expect_json 'j["status"] == 403 and "not under the folder this server registers tables from" in j["body"]["error"]["message"]' \
        ice POST "/iceberg/feature/x/v1/namespaces/default/register" "$TOK" '{"name": "sneaky", "metadata-location": "'"$loc"'"}'
done
expect_eq "$H" "$(head_of feature/x)" "feature/x after refused registers"
