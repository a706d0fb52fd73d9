"""Models written against pyarrow's Table API, as Bauplan hands tables to
models. tarn gives them a pyarrow.Table when the environment has pyarrow,
else a tarn.Table, which answers the same calls used here (join, filter,
group_by, sort_by, select, rename_columns, column access)."""
import bauplan


@bauplan.model()
@bauplan.python("3.11")
def clean_transactions(
    trips=bauplan.Model(
        "transactions",
        columns=["id", "usd", "country", "event_time"],
        filter="usd >= $min_usd",
    ),
    countries=bauplan.Model("countries"),
    region=bauplan.Parameter("region"),
    api_token=bauplan.Parameter("api_token"),
):
    # The token would authenticate an enrichment call; it is never printed.
    print(f"{trips.num_rows} transactions to enrich (token of {len(api_token)} characters)")
    joined = trips.join(countries, keys="country", join_type="inner")
    in_region = joined.filter(joined["region"].to_numpy() == region)
    return in_region.select(["id", "usd", "country", "name", "event_time"])


@bauplan.model(
    name="reports.usd_by_country",
    columns=["country", "name", "usd", "transactions"],
    materialization_strategy="REPLACE",
)
@bauplan.python("3.11")
def usd_by_country(data=bauplan.Model("clean_transactions")):
    totals = data.group_by(["country", "name"]).aggregate([("usd", "sum"), ("id", "count")])
    totals = totals.select(["country", "name", "usd_sum", "id_count"])
    totals = totals.rename_columns(["country", "name", "usd", "transactions"])
    return totals.sort_by([("usd", "descending")])
