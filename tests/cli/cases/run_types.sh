# Every type DuckDB produces crosses into a Python model and back: a SQL
# model makes INTERVAL, MAP, LIST, fixed-size ARRAY, STRUCT, UNION, DECIMAL,
# UUID, BLOB, TIME, DATE, TIMESTAMP with and without time zone; a Python
# model checks the values to_pylist() and to_pandas() give (timezones kept,
# durations as timedelta, UUID as uuid.UUID, DECIMAL as Decimal, MAP as
# (key, value) tuples, UNION values) and writes them all back from Python
# values; both tables are materialized and read with `tarn query` (a UNION
# is materialized as DuckDB's Parquet writer stores it, a STRUCT).
mkdir -p proj
csv t.csv id 1
expect_ok tarn table import t --from t.csv
cat >proj/typed.sql <<'SQL'
-- tarn: materialization_strategy=REPLACE
SELECT id,
       INTERVAL '3 days 4 seconds' AS dur,
       INTERVAL '1 month 2 days' AS iv,
       MAP {'a': 1, 'b': 2} AS m,
       [1, 2, NULL] AS l,
       [0.5, 1.5, 2.5]::FLOAT[3] AS emb,
       {'x': 1, 'y': 'z'} AS st,
       union_value(num := 2)::UNION(num INTEGER, str VARCHAR) AS un,
       12.34::DECIMAL(10, 2) AS dec,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS uu,
       '\x00\xffab'::BLOB AS bl,
       TIME '12:34:56.5' AS tm,
       DATE '2024-02-29' AS dt,
       TIMESTAMP '2024-01-01 10:00:00' AS ts,
       TIMESTAMPTZ '2024-01-01 10:00:00+02' AS tstz
FROM t
SQL
cat >proj/check.py <<'PY'
import datetime as dt, decimal, uuid
import tarn

UTC = dt.timezone.utc
EXPECTED = {
    "id": 1, "dur": dt.timedelta(days=3, seconds=4),
    "iv": tarn.table.MonthDayNano(1, 2, 0), "m": [("a", 1), ("b", 2)], "l": [1, 2, None],
    "emb": [0.5, 1.5, 2.5], "st": {"x": 1, "y": "z"}, "un": 2,
    "dec": decimal.Decimal("12.34"), "uu": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "bl": b"\x00\xffab", "tm": dt.time(12, 34, 56, 500000), "dt": dt.date(2024, 2, 29),
    "ts": dt.datetime(2024, 1, 1, 10), "tstz": dt.datetime(2024, 1, 1, 8, tzinfo=UTC),
}

def same(got, want):
    return got == want and type(got) is type(want) or (
        isinstance(want, dt.datetime) and got == want and (got.tzinfo is None) == (want.tzinfo is None))

@tarn.model(materialize=True)
@tarn.python("3.11")
def roundtrip(data=tarn.Model("typed", format="tarn")):
    row = data.to_pylist()[0]
    bad = {k: (row.get(k), v) for k, v in EXPECTED.items() if not same(row.get(k), v)}
    assert not bad, "to_pylist differs: %r" % bad
    df = data.to_pandas()
    assert str(df["tstz"].dt.tz) in ("UTC", "Etc/UTC"), df["tstz"].dtype
    assert df["dur"].iloc[0] == EXPECTED["dur"] and df["tm"].iloc[0] == EXPECTED["tm"]
    # back into a table from Python values (UUID as uuid.UUID this time)
    out = dict(row, uu=uuid.UUID(row["uu"]), emb2=[0.25, 0.75])
    again = tarn.Table.from_pylist([out])
    assert again.to_pylist()[0]["m"] == EXPECTED["m"]
    # the UNION column itself, put beside the Python values
    return again.append_column("un_kept", data.column("un"))
PY
expect_ok tarn run -p proj
expect_json 'j["rows"] == [["1 month 2 days", "{a=1, b=2}", "[1, 2, NULL]", "[0.5, 1.5, 2.5]", "{'"'"'x'"'"': 1, '"'"'y'"'"': z}", "2", "12.34", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]]' \
    tarn -O json query "SELECT iv::VARCHAR, m::VARCHAR, l::VARCHAR, emb::VARCHAR, st::VARCHAR, un[2]::VARCHAR, dec::VARCHAR, uu::VARCHAR FROM typed"
# what the Python model wrote: same values, DuckDB types
expect_json 'j["rows"] == [["72:00:04", "1 month 2 days", "{a=1, b=2}", "[1, 2, NULL]", "{'"'"'x'"'"': 1, '"'"'y'"'"': z}", "2", "12.34", "UUID", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x00\\xFFab", "12:34:56.5", "2024-02-29", "2024-01-01 10:00:00", True, "[0.25, 0.75]", "INTERVAL", "DOUBLE[]", "MAP(VARCHAR, BIGINT)", "2"]]' \
    tarn -O json query "SELECT dur::VARCHAR, iv::VARCHAR, m::VARCHAR, l::VARCHAR, st::VARCHAR, un::VARCHAR, dec::VARCHAR, typeof(uu), uu::VARCHAR, bl::VARCHAR, tm::VARCHAR, dt::VARCHAR, ts::VARCHAR, tstz = TIMESTAMPTZ '2024-01-01 08:00:00+00', emb2::VARCHAR, typeof(dur), typeof(emb2), typeof(m), un_kept[2]::VARCHAR FROM roundtrip"
expect_out "TIMESTAMP WITH TIME ZONE" tarn query "SELECT typeof(tstz) FROM roundtrip"
# Parquet has no union: DuckDB writes a UNION as an unnamed STRUCT of its tag and members
expect_out "STRUCT(UTINYINT, INTEGER, VARCHAR)" tarn query "SELECT typeof(un_kept) FROM roundtrip"
