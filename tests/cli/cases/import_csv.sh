# CSV imports never drop or merge rows silently: a line whose fields do not
# match the header, or a value that does not fit its column, fails the
# import with the file's line number and changes nothing; the CSV options
# read what tarn cannot read unaided.
# Regression (issue 8, point 19): DuckDB's sniffer, left alone, imported a
# small ragged file as one VARCHAR column named "id,name,amount", 1,000 good
# rows plus one with an extra field as that one row, a column empty in its
# first 20,480 rows as VARCHAR, and an empty header name as "column1".
H=$(head_of main)
printf 'id,name,amount\n1,a,2.5\n2,b\n3,c,4.5\n' >ragged.csv
expect_fail 1 "line 3 of 'ragged.csv': expected 3 fields, found 2 (\"2,b\")" tarn table import r --from ragged.csv
expect_json_rc 1 'j["error"]["code"] == "invalid" and "expected 3 fields, found 2" in j["error"]["message"]' \
    tarn -O json table import r --from ragged.csv
$PY -c '
print("id,name,amount")
for i in range(1000): print("%d,n%d,%d.5" % (i, i, i))
print("1000,x,1.5,extra")' >extra.csv
expect_fail 1 "line 1002 of 'extra.csv': expected 3 fields, found 4" tarn table import e --from extra.csv
# several bad lines: the first is named, the others counted
printf 'a,b\n1,2\n3\n4,5,6\n7,8\n' >two.csv
expect_fail 1 "line 3 of 'two.csv': expected 2 fields, found 1 (\"3\") (and 1 more bad line)" tarn table import t --from two.csv
# a quoted field over two lines: the line number is the file's
printf 'a,b\n1,"x\ny"\n2,z\n3,4,5\n' >multi.csv
expect_fail 1 "line 5 of 'multi.csv': expected 2 fields, found 3" tarn table import m --from multi.csv
# text after a closing quote
printf 'a,b\n1,"x"y\n' >quote.csv
expect_fail 1 "line 2 of 'quote.csv': a quote inside an unquoted field, or text after a closing quote" \
    tarn table import q --from quote.csv
expect_eq "$H" "$(head_of main)" "head after refused files"
expect_json 'j == []' tarn -O json table ls

# the good files of the same shapes import whole, with their types
printf 'id,name,amount\n1,a,2.5\n2,"b, with comma",\n3,"say ""hi""",4.5\n' >good.csv
expect_json 'j["rows"] == 3' tarn -O json table import good --from good.csv
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id","BIGINT"),("name","VARCHAR"),("amount","DOUBLE")]' \
    tarn -O json table get good
expect_json 'j["rows"] == [["b, with comma", None], ["say \"hi\"", 4.5]]' \
    tarn -O json query "SELECT name, amount FROM good WHERE id > 1 ORDER BY id"
# blank lines are not rows; CRLF line ends
printf 'a,b\r\n1,2\r\n\r\n3,4\r\n' >crlf.csv
expect_json 'j["rows"] == 2' tarn -O json table import crlf --from crlf.csv
expect_eq 7 "$(count 'SELECT sum(b) + 1 FROM crlf')" "CRLF values"

# header names: empty and duplicate names are refused
printf 'id,,amount\n1,x,2\n' >noname.csv
expect_fail 1 "column 2 of the header of 'noname.csv' has no name" tarn table import nn --from noname.csv
printf 'id,ID\n1,2\n' >dup.csv
expect_fail 1 "names column 'ID' twice" tarn table import dup --from dup.csv
# --no-header: generated names, and the first line is data
expect_json 'j["rows"] == 2' tarn -O json table import nh --from noname.csv --no-header
expect_json '[c["name"] for c in j["columns"]] == ["column0","column1","column2"]' tarn -O json table get nh

# a column empty in its first 25,000 rows and numbers after: not VARCHAR
$PY -c '
print("id,late")
for i in range(25000): print("%d," % i)
for i in range(25000, 25010): print("%d,%d.25" % (i, i))' >late.csv
expect_ok tarn table import late --from late.csv
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("id","BIGINT"),("late","DOUBLE")]' tarn -O json table get late
expect_eq 250047.5 "$(count 'SELECT sum(late) FROM late')" "late values"

# detected delimiters: the one every line agrees on
printf 'id;price;name\n1;3,50;a b\n2;4,00;c\n' >semi.csv
expect_ok tarn table import semi --from semi.csv
expect_json '[c["name"] for c in j["columns"]] == ["id","price","name"]' tarn -O json table get semi
printf 'id\tname\n1\tx, y\n' >tab.tsv
expect_ok tarn table import tabbed --from tab.tsv
expect_json 'j["rows"] == [[1, "x, y"]]' tarn -O json query "SELECT * FROM tabbed"

# the options
printf '# exported 2026-01-01\n# by a tool\nzip|city|pop\n02134|Boston|NA\n10001|New York|8000000\n' >opts.csv
expect_fail 1 "line 3 of 'opts.csv': expected 1 field, found 3 (\"zip|city|pop\") (and 2 more bad lines)" tarn table import o --from opts.csv
expect_ok tarn table import o --from opts.csv --skip 2 --delimiter '|' --null NA --column-types 'zip=VARCHAR,pop=DECIMAL(12,0)'
expect_json '[(c["name"], c["type"]) for c in j["columns"]] == [("zip","VARCHAR"),("city","VARCHAR"),("pop","DECIMAL(12,0)")]' \
    tarn -O json table get o
expect_json 'j["rows"] == [["02134", None], ["10001", 8000000.0]]' tarn -O json query "SELECT zip, pop::DOUBLE FROM o ORDER BY zip"
# --header on a file whose first line looks like data
printf '1,2\n3,4\n' >nums.csv
expect_json 'j["rows"] == 2' tarn -O json table import nums --from nums.csv
expect_json 'j["rows"] == 1' tarn -O json table import nums2 --from nums.csv --header
expect_json '[c["name"] for c in j["columns"]] == ["1","2"]' tarn -O json table get nums2
# a value that does not fit the type given
printf 'id,v\n1,2\n2,abc\n' >cast.csv
expect_fail 1 "line 3 of 'cast.csv': column 'v': 'abc' is not a BIGINT (as --column-types says)" \
    tarn table import cast --from cast.csv --column-types v=BIGINT
# backslash escapes, with --escape
printf 'a,b\n1,"say \\"hi\\""\n' >esc.csv
expect_fail 1 "line 2 of 'esc.csv'" tarn table import esc --from esc.csv
expect_ok tarn table import esc --from esc.csv --escape '\'
expect_json 'j["rows"] == [["say \"hi\""]]' tarn -O json query "SELECT b FROM esc"
# gzip, and several files of one header (a glob)
printf 'id,v\n1,a\n2,b\n' >part1.csv
printf 'id,v\n3,c\n' >part2.csv
gzip -k part1.csv
expect_json 'j["rows"] == 2' tarn -O json table import gz --from part1.csv.gz
expect_json 'j["rows"] == 3' tarn -O json table import parts --from 'part?.csv'
printf 'id,w\n4,d\n' >part3.csv
expect_fail 1 "column 2 is 'w' in 'part3.csv' but 'v' in 'part1.csv'" tarn table import parts2 --from 'part?.csv'
expect_fail 1 "no file matches 'nothing*.csv'" tarn table import none --from 'nothing*.csv'
cp part3.csv 'data[1].csv'
expect_json 'j["rows"] == 1' tarn -O json table import brackets --from 'data[1].csv'

# bad options: a clear error, nothing changed
H=$(head_of main)
expect_fail 1 "--delimiter wants 1 to 4 characters" tarn table import x --from good.csv --delimiter '"'
expect_fail 1 "--column-types names column 'nope', which the file does not have (its columns: 'id', 'name', 'amount')" \
    tarn table import x --from good.csv --column-types nope=INT
expect_fail 1 "'NOTATYPE' for column 'id' is not a type" tarn table import x --from good.csv --column-types id=NOTATYPE
expect_fail 1 "is not a type" tarn table import x --from good.csv --column-types 'id=INT); SELECT 1; --'
expect_fail 2 "--column-types wants NAME=TYPE" tarn table import x --from good.csv --column-types id
expect_fail 2 "--skip wants an integer >= 0" tarn table import x --from good.csv --skip -1
expect_fail 2 "--header and --no-header exclude each other" tarn table import x --from good.csv --header --no-header
expect_fail 1 "unknown encoding 'utf-16'" tarn table import x --from good.csv --encoding utf-16
expect_fail 1 "has fewer than 9 lines to skip" tarn table import x --from good.csv --skip 9
expect_ok tarn query 'SELECT 1 AS a' --output p.parquet
expect_fail 1 "--delimiter applies to CSV files, not to parquet" tarn table import x --from p.parquet --delimiter ';'
printf 'zstd' | { $PY -c 'import sys; sys.stdout.buffer.write(bytes([0x28, 0xb5, 0x2f, 0xfd]) + b"rest")'; } >z.csv.zst
expect_fail 1 "Zstandard" tarn table import x --from z.csv.zst
: >empty.csv
expect_fail 1 "'empty.csv' has no lines" tarn table import x --from empty.csv
expect_eq "$H" "$(head_of main)" "head after bad options"
