-- Every column type tarn stores, 3 rows and one of NULLs: the tables the
-- Iceberg interop cases read back (iceberg_export.sh, iceberg_rest.sh).
SELECT i AS id,
  (i % 100)::TINYINT AS ti, (i * 7)::SMALLINT AS si, (i * 1000)::INTEGER AS ii, (i * 100000000000)::BIGINT AS bi,
  (i % 200)::UTINYINT AS uti, (i * 3)::USMALLINT AS usi, (i * 4000000)::UINTEGER AS ui, (i * 5000000000)::UBIGINT AS ubi,
  (i * 1e20)::HUGEINT AS hi, (i / 3)::FLOAT AS fl, (i / 7)::DOUBLE AS db,
  (i / 10)::DECIMAL(4,1) AS d4, (i * 1234.567)::DECIMAL(18,3) AS d18, (i * 123456789012345.12345)::DECIMAL(30,5) AS d30,
  'text ' || i || ' é' AS vc, ('blob' || i)::BLOB AS bl,
  DATE '2024-01-01' + (i::INTEGER) AS dt, TIME '10:00:00.123456' + to_seconds(i) AS tm,
  TIMESTAMP '2024-01-01 00:00:00.123456' + to_hours(i) AS ts,
  (TIMESTAMP '2024-01-01 00:00:00.5' + to_minutes(i))::TIMESTAMP_MS AS tms,
  (TIMESTAMP '2024-01-01' + to_days(i::INTEGER))::TIMESTAMP_S AS tss,
  (TIMESTAMP '2024-01-01' + to_days(i::INTEGER))::TIMESTAMP_NS AS tns,
  TIMESTAMPTZ '2024-01-01 10:00:00+02' + to_hours(i) AS tz,
  TIMETZ '10:00:00+02' AS ttz, to_days(i::INTEGER) AS iv,
  md5(i::VARCHAR)::UUID AS uu, i % 2 = 0 AS bo, ('{"k": ' || i || '}')::JSON AS js,
  [i, i + 1, NULL] AS li, {'a': i, 'b': 'x' || i} AS st, MAP {'k' || i: i} AS mp,
  [{'p': i}] AS lst, [i, i]::INTEGER[2] AS arr
FROM range(1, 4) t(i)
UNION ALL SELECT 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
