# tests/fault/common.sh — shared by the fault tests: the binary, a scratch
# lakehouse, pass/fail counting and the "state of every branch" snapshot.
set -u
if [ $# -lt 1 ]; then echo "usage: $0 TARN_BINARY" >&2; exit 2; fi
TARN_BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
[ -x "$TARN_BIN" ] || { echo "$0: $1 is not executable" >&2; exit 2; }
unset TARN_HOME TARN_FAULT
# Every query here reads its data files: no file is spared by statistics
# and no count(*) is answered from them, so "the table reads" means every
# file it references is there and whole.
export TARN_NO_PRUNE=1
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tarn-fault.XXXXXX")
LAKE="$WORK/lake"
mkdir -p "$LAKE"
cd "$LAKE" || exit 2
tarn() { "$TARN_BIN" "$@"; }

PASSED=0 FAILED=0
ok()  { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
# check "description" COMMAND...: passes when COMMAND exits 0.
check() {
    local what="$1"; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -eq 0 ]; then rm -rf "$WORK"; else echo "(kept $WORK)"; fi
    [ "$FAILED" -eq 0 ]
    exit $?
}

# Rows of TABLE at REF ("-" when the table or ref is missing).
rows() {
    tarn -O json query "SELECT count(*) FROM $2" --ref "$1" 2>/dev/null |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["rows"][0][0])' 2>/dev/null || echo "-"
}
# One line per branch: NAME HEAD ROWS-OF-TABLE (sorted by name).
snapshot() {
    local table="$1" b h
    tarn -O json branch ls | $PY -c 'import json,sys; [print(b["name"], b["commit"]) for b in json.load(sys.stdin)]' |
        while read -r b h; do echo "$b $h $(rows "$b" "$table")"; done
}
# The first parent of commit C.
parent_of() {
    tarn -O json commit "$1" -n 1 | $PY -c 'import json,sys; print((json.load(sys.stdin)[0]["parents"] or ["-"])[0])'
}
nobjects() { find .tarn/objects -type f | wc -l; }
catalog_sane() {
    [ "$(sqlite3 .tarn/catalog.db 'PRAGMA integrity_check' 2>&1)" = ok ] && tarn branch ls >/dev/null 2>&1 &&
        tarn table ls >/dev/null 2>&1
}
# gc --grace 0 after the grace clock has ticked (mtime has 1 s resolution);
# prints the number of files it removed.
gc_now() {
    sleep 2.1
    tarn -O json gc --grace 0 | $PY -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}
# Number of data files the catalog references (what gc counts as live).
nreferenced() {
    tarn -O json gc --dry-run | $PY -c 'import json,sys; print(json.load(sys.stdin)["referenced"])'
}
