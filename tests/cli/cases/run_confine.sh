# A model runs confined: it cannot open the lakehouse (tarn.Client, the
# catalog, the objects, config, HEAD), write next to the project or in the
# lakehouse, or reach a TCP server on this machine; it can write in its
# scratch folder. Nor can a project file's top level, run at plan time. A model that imports into main and then raises leaves
# main as it was. internet_access=True gives it the network back.
csv t.csv id 1 2 3
expect_ok tarn table import t --from t.csv
LAKE=$PWD
OBJECT=$(find .tarn/objects -name '*.parquet' | head -1)
# a TCP server on loopback that records every connection it accepts
$PY - >port.txt 2>/dev/null <<'PY' &
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
sys.stdout.close()
while True:
    c, _ = s.accept()
    with open("connections.txt", "a") as f:
        f.write("connected\n")
    c.close()
PY
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
PORT=$(cat port.txt)
mkdir -p proj
cat >proj/m.py <<PY
import json, os, socket, tarn

# the top level runs at plan time: confined too
try:
    open("$LAKE/.tarn/catalog.db", "rb").read(16)
    raise SystemExit("the project's top level could read the catalog")
except OSError:
    pass

def attempt(out, name, fn):
    try:
        fn()
        out[name] = "done"
    except BaseException as e:
        out[name] = type(e).__name__

@tarn.model(materialize=True)
@tarn.python("3.11")
def probe(data=tarn.Model("t")):
    out = {}
    attempt(out, "client", lambda: tarn.Client("$LAKE").get_branches())
    attempt(out, "client_here", lambda: tarn.Client().get_branches())
    attempt(out, "catalog", lambda: open("$LAKE/.tarn/catalog.db", "rb").read(16))
    attempt(out, "objects", lambda: os.listdir("$LAKE/.tarn/objects"))
    attempt(out, "object", lambda: open("$LAKE/$OBJECT", "rb").read(4))
    attempt(out, "config", lambda: open("$LAKE/.tarn/config").read())
    attempt(out, "head", lambda: open("$LAKE/.tarn/HEAD").read())
    attempt(out, "write_project", lambda: open("$LAKE/proj/written.txt", "w").write("x"))
    attempt(out, "write_lake", lambda: open("$LAKE/.tarn/evil", "w").write("x"))
    attempt(out, "tcp", lambda: socket.create_connection(("127.0.0.1", $PORT), timeout=5).close())
    attempt(out, "scratch", lambda: open("scratch.txt", "w").write("x"))
    print("attempts", json.dumps(out, sort_keys=True))
    return {k: [v] for k, v in out.items()}
PY
expect_ok tarn run -p proj
# every attempt failed, but writing in its own scratch folder
expect_json '(lambda r: len(r) == 11 and r.pop("scratch") == "done" and all(v != "done" for v in r.values()))(dict(zip([c["name"] for c in j["columns"]], j["rows"][0])))' \
    tarn -O json query "SELECT * FROM probe"
[ ! -e proj/written.txt ] || _fail "the model wrote next to the project"
[ ! -e .tarn/evil ] || _fail "the model wrote into the lakehouse"
[ ! -s connections.txt ] || _fail "the model reached the loopback server"

# the issue's case: import into main from inside a model, then raise
cat >proj/m.py <<PY
import tarn

@tarn.model()
@tarn.python("3.11")
def sneaky(data=tarn.Model("t")):
    try:
        tarn.Client("$LAKE").import_data("stolen", data, branch="main")
    except Exception as e:
        print("import refused:", type(e).__name__)
    raise ValueError("then fail")
PY
HEAD=$(head_of main)
expect_fail 1 "ValueError: then fail" tarn run -p proj
expect_eq "$HEAD" "$(head_of main)" "main after a model tried to write to it"
expect_fail 1 "not found" tarn table get stolen

# a model that asks for the network has it
cat >proj/m.py <<PY
import socket, tarn

@tarn.model(materialize=True, internet_access=True)
@tarn.python("3.11")
def online(data=tarn.Model("t")):
    socket.create_connection(("127.0.0.1", $PORT), timeout=5).close()
    return {"ok": [True]}
PY
expect_ok tarn run -p proj
expect_eq "connected" "$(cat connections.txt 2>/dev/null)" "the loopback server saw the model with internet_access"
