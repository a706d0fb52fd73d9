# Protected branches refuse direct writes from the command line too (the
# library checks inside the commit's transaction), and tokens are made,
# listed without their secret and revoked. (Issue 12, point 3.)
csv a.csv id 1 2 3
expect_ok tarn table import t --from a.csv
expect_ok tarn branch create feature
expect_out "protected" tarn branch protect main
expect_fail 1 "protected" tarn table import u --from a.csv
expect_fail 1 "protected" tarn table rm t
expect_fail 1 "protected" tarn branch rm main
expect_fail 1 "protected" tarn branch rename main other
expect_json '[t["name"] for t in j] == ["default.t"]' tarn -O json table ls
expect_ok tarn table import u --from a.csv --branch feature
expect_ok tarn branch merge feature --into main
expect_json 'sorted(t["name"] for t in j) == ["default.t", "default.u"]' tarn -O json table ls
expect_ok tarn branch protect main --runs
expect_ok tarn table import v --from a.csv --branch feature
expect_fail 1 "successful runs" tarn branch merge feature --into main
expect_json 'j == [{"name": "main", "mode": "runs"}]' tarn -O json branch protected
# --runs: a run aimed straight at the branch reaches it only when every
# expectation passed, with --strict or without
mkdir -p proj
cat >proj/models.py <<'PY'
import tarn


@tarn.model(materialize=True)
@tarn.python("3.11")
def copied(data=tarn.Model("t")):
    return data


@tarn.expectation()
@tarn.python("3.11")
def never_holds(data=tarn.Model("copied")):
    return False
PY
H=$(head_of main)
expect_fail 1 "expectations all passed" tarn run -p proj --ref main
expect_eq "$H" "$(head_of main)" "main after a run whose expectation failed"
expect_json '"default.copied" not in [t["name"] for t in j]' tarn -O json table ls
expect_json 'j[0]["status"] == "failed"' tarn -O json job ls -n 1
expect_ok tarn branch protect main --off
expect_ok tarn table import w --from a.csv
expect_fail 2 "some right" tarn token create bob
expect_json 'j["user"] == "bob" and j["token"].startswith("tarn_") and j["write"] == "bob.*"' \
    tarn -O json token create bob --write 'bob.*' --read main
# (through a server, the test's own admin token is listed too)
expect_json '[(t["user"], t["state"]) for t in j if t["user"] != "'"${TARN_TEST_USER:-}"'"] == [("bob", "live")] and not any("token" in t for t in j)' \
    tarn -O json token ls
expect_fail 1 "no token" tarn token revoke 0000000000000000
expect_fail 1 "character" tarn token create eve --read 'a?b'
