-- tarn: materialization_strategy=REPLACE
-- Totals per European country, with the country's name and region.
SELECT u.country, c.name, c.region, round(u.usd, 2) AS usd
FROM usd_by_country u JOIN countries c USING (country)
ORDER BY usd DESC
