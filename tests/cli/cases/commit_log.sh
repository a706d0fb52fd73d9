# commit: the log, newest first; -n; a merge has two parents.
csv a.csv id 1
expect_ok tarn table import t --from a.csv -m "first"
expect_ok tarn table import t --from a.csv --mode append -m "second"
expect_json '[c["message"] for c in j] == ["second", "first", "Initialize lakehouse"] or [c["message"] for c in j][:2] == ["second", "first"]' \
    tarn -O json commit
expect_json 'len(j) == 3 and all(set(c) >= {"hash","parents","message","author","time","properties"} for c in j)' tarn -O json commit
expect_json 'all(isinstance(c["properties"], dict) and isinstance(c["parents"], list) for c in j)' tarn -O json commit
expect_json 'j[0]["parents"] == [j[1]["hash"]] and j[1]["parents"] == [j[2]["hash"]] and j[2]["parents"] == []' tarn -O json commit
expect_json 'j[0]["time"] >= j[1]["time"] >= j[2]["time"]' tarn -O json commit
expect_json 'len(j) == 1 and j[0]["message"] == "second"' tarn -O json commit -n 1
expect_json 'len(j) == 2' tarn -O json commit -n 2
expect_json 'len(j) == 2 and j[0]["message"] == "first"' tarn -O json commit main~1
expect_out "second" tarn commit
expect_out "first" tarn commit -n 2
expect_no_out "first" tarn commit -n 1
# a merge: two parents, and the log follows both
expect_ok tarn branch create dev
expect_ok tarn table import t --from a.csv --mode append --branch dev -m "on dev"
expect_ok tarn table import t --from a.csv --mode append -m "on main"
expect_ok tarn branch merge dev -m "the merge"
expect_json 'j[0]["message"] == "the merge" and len(j[0]["parents"]) == 2' tarn -O json commit -n 1
expect_json 'set(c["message"] for c in j) >= {"the merge", "on dev", "on main", "second", "first"} and len(j) == 6' tarn -O json commit
expect_json 'len(j) == 4 and j[0]["message"] == "on dev"' tarn -O json commit dev
expect_fail 1 "unknown ref" tarn commit nope
