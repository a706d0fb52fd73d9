# namespace create / ls / rm; tables live in a namespace.
expect_json 'j == ["default"] or j == []' tarn -O json namespace ls
expect_ok tarn namespace create sales
expect_json '"sales" in j' tarn -O json namespace ls
expect_out "sales" tarn namespace ls
expect_fail 1 "exists" tarn namespace create sales
expect_fail 1 "invalid" tarn namespace create 'bad-ns'
expect_fail 1 "invalid" tarn namespace create 'a.b'
csv o.csv id 1 2 3
expect_ok tarn table import sales.orders --from o.csv
expect_json 'j["namespace"] == "sales" and j["name"] == "sales.orders" and j["row_count"] == 3' \
    tarn -O json table get sales.orders
# namespaces are versioned: a branch made before does not have it
expect_ok tarn branch create before --from-ref main~2
expect_json '"sales" not in j' tarn -O json namespace ls --ref before
# rm of a namespace that still holds tables is refused or takes them along;
# either way the result is consistent
if tarn namespace rm sales >/dev/null 2>&1; then
    expect_json '"sales" not in j' tarn -O json namespace ls
    expect_fail 1 "not found" tarn table get sales.orders
else
    expect_json '"sales" in j' tarn -O json namespace ls
    expect_ok tarn table rm sales.orders
    expect_ok tarn namespace rm sales
    expect_json '"sales" not in j' tarn -O json namespace ls
fi
expect_fail 1 "not found" tarn namespace rm nope
expect_ok tarn namespace create empty_ns
expect_ok tarn namespace rm empty_ns
expect_json '"empty_ns" not in j' tarn -O json namespace ls
