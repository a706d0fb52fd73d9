# An append converts what widens without changing a value to the table's
# types, and refuses anything else naming the columns and both types.
# Regression (Bauplan issue 13): a CSV append whose whole numbers were
# sniffed as BIGINT into a DOUBLE column was refused as a schema change.
printf 'id,amount,note\n1,2.5,a\n' >first.csv
expect_ok tarn table import t --from first.csv
printf 'id,amount,note\n2,3,b\n3,4,c\n' >whole.csv
expect_json 'j["rows"] == 2' tarn -O json table import t --from whole.csv --mode append
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id","BIGINT"),("amount","DOUBLE"),("note","VARCHAR")] and j["row_count"] == 3' \
    tarn -O json table get t
expect_eq 9.5 "$(count 'SELECT sum(amount) FROM t')" "amounts after a whole-number append"
# another column order: by name
printf 'note,id,amount\nd,4,5.5\n' >order.csv
expect_ok tarn table import t --from order.csv --mode append
expect_json 'j["rows"] == [[4, 5.5, "d"]]' tarn -O json query "SELECT * FROM t WHERE id = 4"
# without a header: the table's columns in order
printf '5,6.5,e\n' >nohead.csv
expect_ok tarn table import t --from nohead.csv --mode append --no-header
expect_json 'j["rows"] == [[5, 6.5, "e"]]' tarn -O json query "SELECT * FROM t WHERE id = 5"
# numbers as text in a VARCHAR column stay as written
printf 'id,amount,note\n6,1,007\n' >text.csv
expect_ok tarn table import t --from text.csv --mode append
expect_json 'j["rows"] == [["007"]]' tarn -O json query "SELECT note FROM t WHERE id = 6"

# refused, naming the columns and both types; nothing changes
H=$(head_of main)
printf 'id,amount,note\n7,lots,f\n' >bad.csv
expect_fail 1 "column 'amount' is DOUBLE in the table but the new data holds VARCHAR values ('lots')" \
    tarn table import t --from bad.csv --mode append
expect_fail 1 "line 2 of 'bad.csv'" tarn table import t --from bad.csv --mode append
printf 'id,amount,note,extra\n7,1,f,x\n' >extra.csv
expect_fail 1 "column 'extra' is not in the table" tarn table import t --from extra.csv --mode append
printf 'id,note\n7,f\n' >missing.csv
expect_fail 1 "column 'amount' (DOUBLE) is missing from the new data" tarn table import t --from missing.csv --mode append
printf '7,1.5\n' >short.csv
expect_fail 1 "the file has 2 fields a line and the table 3 columns" tarn table import t --from short.csv --mode append --no-header
expect_fail 1 "--column-types cannot be used to append" tarn table import t --from first.csv --mode append --column-types amount=VARCHAR
expect_eq "$H" "$(head_of main)" "head after refused appends"
expect_eq 6 "$(count 'SELECT count(*) FROM t')" "rows after refused appends"

# Parquet and JSON appends: each column cast when it widens
expect_ok tarn query "SELECT 1::BIGINT AS id, 1.5::DOUBLE AS v, DATE '2026-01-01' AS d, 'x' AS s" --output base.parquet
expect_ok tarn table import p --from base.parquet
expect_ok tarn query "SELECT 2::INTEGER AS id, 7::BIGINT AS v, DATE '2026-01-02' AS d, 'y' AS s" --output narrower.parquet
expect_ok tarn table import p --from narrower.parquet --mode append
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id","BIGINT"),("v","DOUBLE"),("d","DATE"),("s","VARCHAR")] and j["row_count"] == 2' \
    tarn -O json table get p
expect_json 'j["rows"] == [[2, 7.0]]' tarn -O json query "SELECT id, v FROM p WHERE id = 2"
# a column of only NULLs, whatever its type, fits any column
expect_ok tarn query "SELECT 3::BIGINT AS id, 2.5 AS v, NULL::INTEGER AS d, NULL AS s" --output nulls.parquet
expect_ok tarn table import p --from nulls.parquet --mode append
expect_json 'j["rows"] == [[3, None, None]]' tarn -O json query "SELECT id, d, s FROM p WHERE id = 3"
printf '{"id": 4, "v": 1, "d": null, "s": null}\n' >nulls.json
expect_ok tarn table import p --from nulls.json --mode append
expect_eq 4 "$(count 'SELECT count(*) FROM p')" "rows after the JSON append"
# refused: a type that does not widen, a value a double cannot hold exactly
H=$(head_of main)
expect_ok tarn query "SELECT 'five' AS id, 1.5 AS v, DATE '2026-01-01' AS d, 'x' AS s" --output text.parquet
expect_fail 1 "cannot append to 'default.p': column 'id' is BIGINT in the table but VARCHAR in the new data" \
    tarn table import p --from text.parquet --mode append
expect_ok tarn query "SELECT 5::BIGINT AS id, 9007199254740993::BIGINT AS v, DATE '2026-01-01' AS d, 'x' AS s" --output big.parquet
expect_fail 1 "column 'v': the value 9007199254740993 cannot be held exactly by the table's DOUBLE column" \
    tarn table import p --from big.parquet --mode append
expect_ok tarn query "SELECT 5::BIGINT AS id, 2.5 AS v, DATE '2026-01-01' AS d" --output fewer.parquet
expect_fail 1 "column 's' (VARCHAR) is missing from the new data" tarn table import p --from fewer.parquet --mode append
expect_eq "$H" "$(head_of main)" "head after refused Parquet appends"
