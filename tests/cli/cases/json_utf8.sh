# -O json never loses a message to bytes that are not UTF-8: a Latin-1
# byte in a CSV cell, in a file name, in a commit message, in a model's
# print, in its exception and in a dying worker's stderr. Each comes out as
# valid JSON with the byte replaced by U+FFFD and the rest of the text kept.
# Regression: jansson refuses a string with such a byte, and the command
# printed nothing (`job logs`: exit 0), an empty list (`commit`) or a report
# without its error; the worker could not send an exception holding one and
# the run said "exited with status 0 before returning a result".
csv t.csv id 1 2
# a file name with a Latin-1 byte, in an error
expect_json_rc 1 'j["error"]["code"] == "not_found" and "nofile-caf\ufffd.csv" in j["error"]["message"]' \
    tarn -O json table import l2 --from "$(printf 'nofile-caf\xe9.csv')"
# a commit message with one
expect_ok tarn table import t --from t.csv -m "$(printf 'from caf\xe9')"
expect_json 'len(j) == 1 and j[0]["message"] == "from caf\ufffd"' tarn -O json commit -n 1

# a model's print, its exception, and a worker dying with a Latin-1 stderr
mkdir -p p
cat >p/models.py <<'PY'
import os
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def loud(data=tarn.Model("t")):
    os.write(1, b"caf\xe9 printed\n")
    print("plain line")
    return data

@tarn.model(materialize=True)
@tarn.python("3.11")
def bad(data=tarn.Model("loud")):
    raise ValueError(b"caf\xe9 failed".decode("utf-8", "surrogateescape"))
PY
# What user code writes crosses the worker boundary with its invalid bytes
# escaped (\xe9, nothing lost); text tarn stores is repaired (U+FFFD).
expect_json_rc 1 'j["outcome"] == "failed" and "ValueError: caf\\xe9 failed" in j["error"] and "caf\\xe9 failed" in j["tasks"][1]["error"]' \
    tarn -O json run -p p
JOB=$(printf '%s' "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
expect_json '"loud @ models.py | caf\\xe9 printed" in j["logs"] and "plain line" in j["logs"]' \
    tarn -O json job logs "$JOB"
expect_json 'j["status"] == "failed" and "caf\\xe9 failed" in j["error"]' tarn -O json job get "$JOB"
cat >p/models.py <<'PY'
import os
import tarn

@tarn.model(materialize=True)
@tarn.python("3.11")
def dies(data=tarn.Model("t")):
    os.write(2, b"fatal: caf\xe9 gone\n")
    os._exit(3)
PY
expect_json_rc 1 'j["outcome"] == "failed" and "fatal: caf\\xe9 gone" in j["error"]' tarn -O json run -p p

# a CSV cell: the error quotes its line, valid JSON; read as Latin-1, it imports
printf 'id,name\n1,ok\n2,caf\xe9\n3,fine\n' >latin.csv
H=$(head_of main)
expect_json_rc 1 'j["error"]["code"] == "invalid" and "line 3 of" in j["error"]["message"] and "2,caf" in j["error"]["message"]' \
    tarn -O json table import l --from latin.csv
expect_fail 1 "--encoding latin-1" tarn table import l --from latin.csv
expect_eq "$H" "$(head_of main)" "head after a refused Latin-1 file"
# the same file read as Latin-1 imports, and its text is valid UTF-8 after
expect_ok tarn table import l --from latin.csv --encoding latin-1
expect_json 'j["rows"] == [[2, "café"]]' tarn -O json query "SELECT id, name FROM l WHERE id = 2"
