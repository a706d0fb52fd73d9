# init: a second init is refused; init DIR creates DIR/.tarn with main.
expect_fail 1 "already holds a tarn lakehouse" tarn init
expect_json_rc 1 'j["error"]["code"] == "exists" and "message" in j["error"]' tarn -O json init
expect_ok tarn init sub
[ -f sub/.tarn/catalog.db ] || _fail "init sub did not create sub/.tarn/catalog.db"
expect_fail 1 "already holds" tarn init sub
expect_json 'len(j) == 1 and j[0]["name"] == "main" and len(j[0]["commit"]) == 64' tarn -O json branch ls
expect_json 'len(j) == 1 and j[0]["parents"] == []' tarn -O json commit
local_only "a local lakehouse is found by walking up folders; a server is named by TARN_REMOTE wherever one is"
# commands find .tarn by walking up, like git
mkdir -p deep/er
expect_out "main" bash -c 'cd deep/er && "$TARN_BIN" branch ls'
# outside any lakehouse: a clear error
expect_fail 1 "tarn" bash -c 'cd / && "$TARN_BIN" branch ls'
expect_out "." tarn --version
