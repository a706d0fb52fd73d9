"""Data-quality checks with Bauplan's standard expectations: each returns a
bool; `tarn run --strict` fails the run when one is False."""
import bauplan
from bauplan.standard_expectations import (
    expect_column_accepted_values,
    expect_column_all_unique,
    expect_column_mean_greater_than,
    expect_column_no_nulls,
)


@bauplan.expectation()
@bauplan.python("3.11")
def ids_are_unique(data=bauplan.Model("clean_transactions", columns=["id"])):
    return expect_column_no_nulls(data, "id") and expect_column_all_unique(data, "id")


@bauplan.expectation()
@bauplan.python("3.11")
def amounts_above_minimum(
    data=bauplan.Model("clean_transactions", columns=["usd"]),
    min_usd=bauplan.Parameter("min_usd"),
):
    return expect_column_mean_greater_than(data, "usd", min_usd)


@bauplan.expectation()
@bauplan.python("3.11")
def known_countries(data=bauplan.Model("reports.usd_by_country", columns=["country"])):
    return expect_column_accepted_values(data, "country", ["IT", "FR", "DE", "ES", "GB", "US", "JP", "BR"])
