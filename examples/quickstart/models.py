"""The quickstart pipeline: transactions -> euro_selection -> usd_by_country.

Run it with `tarn run -p examples/quickstart` after importing
examples/quickstart/data/transactions.csv as `transactions` and
countries.csv as `countries` (`make demo` does all of it)."""
import tarn


@tarn.model()
@tarn.python("3.11", pip={"pandas": "1.5.3"})
def euro_selection(
    data=tarn.Model(
        "transactions",
        columns=["id", "usd", "country"],
        filter="country IN ('IT', 'FR', 'DE') AND usd >= $min_usd",
    ),
):
    df = data.to_pandas()
    print(f"selected {len(df)} European transactions")
    return df


@tarn.model(materialization_strategy="REPLACE")
@tarn.python("3.11")
def usd_by_country(data=tarn.Model("euro_selection")):
    df = data.to_pandas()
    return df.groupby("country", as_index=False)["usd"].sum()


@tarn.expectation()
@tarn.python("3.11")
def no_negative_usd(data=tarn.Model("usd_by_country", columns=["usd"])):
    return bool((data.column("usd") >= 0).all())
