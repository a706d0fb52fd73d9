-- bauplan: name=reports.region_totals
-- bauplan: materialization_strategy=REPLACE
SELECT c.region, round(sum(u.usd), 2) AS usd, sum(u.transactions)::BIGINT AS transactions
FROM reports.usd_by_country u JOIN countries c USING (country)
WHERE c.region = $region
GROUP BY 1
