# Every write says what the caller asks in its commit: -m, --body and
# --property K=V (repeatable) on table import|rm|revert, namespace
# create|rm and branch merge; bad properties change nothing.
csv t.csv id 1 2
expect_ok tarn table import t --from t.csv -m "load t" --body "from the nightly export" --property ticket=DATA-42 --property source=csv
expect_json 'j[0]["message"] == "load t\n\nfrom the nightly export" and j[0]["properties"] == {"ticket": "DATA-42", "source": "csv"}' tarn -O json commit -n 1
expect_ok tarn namespace create sales --body "for the sales team" --property owner=ada
expect_json 'j[0]["message"] == "Create namespace sales\n\nfor the sales team" and j[0]["properties"] == {"owner": "ada"}' tarn -O json commit -n 1
expect_ok tarn namespace rm sales -m "not needed" --property owner=ada
expect_json 'j[0]["message"] == "not needed" and j[0]["properties"] == {"owner": "ada"}' tarn -O json commit -n 1
expect_ok tarn table rm t --property reason=cleanup
expect_json 'j[0]["message"] == "Delete table default.t" and j[0]["properties"] == {"reason": "cleanup"}' tarn -O json commit -n 1
expect_ok tarn table revert t --source-ref main~1 --property reason=mistake
expect_json 'j[0]["properties"]["reason"] == "mistake" and j[0]["properties"]["reverted_table"] == "default.t"' tarn -O json commit -n 1
# a merge that could fast-forward makes a merge commit when it has something to say
expect_ok tarn branch create dev
expect_ok tarn table import t --from t.csv --mode append --branch dev
expect_json 'j["fast_forward"] == False' tarn -O json branch merge dev --into main --property review=ok
expect_json 'len(j[0]["parents"]) == 2 and j[0]["properties"] == {"review": "ok"}' tarn -O json commit -n 1
# refused, changing nothing: a key tarn sets itself, a pair without '=', a read command
H=$(head_of main)
expect_fail 1 "commit property 'source_commit' is one tarn sets on this commit itself" tarn table revert t --source-ref main~3 --property source_commit=x
expect_fail 2 "--property takes KEY=VALUE, not 'oops'" tarn table rm t --property oops
expect_fail 2 "unknown option '--property'" tarn table ls --property a=b
expect_eq "$H" "$(head_of main)" "main after refused writes"
