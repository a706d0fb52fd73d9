# JSON nested deeper than 1,000 levels is refused, with its line, before
# DuckDB reads it; anything up to the limit imports.
# Regression (issue 8, point 20): 10,000 levels killed the importer with
# SIGSEGV inside DuckDB's schema inference.
H=$(head_of main)
$PY -c 'print("[" * 10000 + "1" + "]" * 10000)' >arrays.json
expect_fail 1 "'arrays.json' nests deeper than 1000 levels (line 1)" tarn table import a --from arrays.json
$PY -c 'print("{\"id\": 1, \"x\": 1}"); print("{\"a\": " * 10000 + "1" + "}" * 10000)' >objects.ndjson
expect_json_rc 1 'j["error"]["code"] == "invalid" and "nests deeper than 1000 levels (line 2)" in j["error"]["message"]' \
    tarn -O json table import o --from objects.ndjson
gzip -k objects.ndjson
expect_fail 1 "nests deeper than 1000 levels" tarn table import o --from objects.ndjson.gz
expect_eq "$H" "$(head_of main)" "head after refused JSON"
# at the limit, and brackets inside strings (they do not nest)
$PY -c 'print("{\"s\": \"" + "[" * 5000 + "\", \"v\": " + "[" * 999 + "7" + "]" * 999 + "}")' >limit.json
expect_ok tarn table import l --from limit.json
expect_eq 1 "$(count 'SELECT count(*) FROM l')" "rows of the 1,000-level file"
