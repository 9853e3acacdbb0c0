"""Downloads: CSV and Excel carry the same figures as JSON, and the Fingertips-shaped CSV has Fingertips' columns."""

from __future__ import annotations

import io

import pandas as pd

from placewise.publish.web.api import FINGERTIPS_COLUMNS

PATH = "/api/v1/indicators/hypertension_treated_to_target"
PARAMS = {"level": "place", "breakdown": "imd_quintile"}


def test_csv_and_excel_hold_the_json_figures_as_the_caller_may_read_them(engine_client, login) -> None:
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    login(client, "analyst")
    rows = pd.DataFrame(client.get(f"{PATH}/data", params=PARAMS).json()["rows"])
    csv = client.get(f"{PATH}/data", params={**PARAMS, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert 'filename="hypertension_treated_to_target.csv"' in csv.headers["content-disposition"]
    got = pd.read_csv(io.StringIO(csv.text), dtype={"breakdown_group": str})
    xlsx = client.get(f"{PATH}/data", params={**PARAMS, "format": "xlsx"})
    sheet = pd.read_excel(io.BytesIO(xlsx.content), dtype={"breakdown_group": str})
    for table in (got, sheet):
        assert list(table.columns) == list(rows.columns) and len(table) == len(rows) > 0
        assert rows.numerator.notna().all()
        pd.testing.assert_series_equal(table.numerator.astype(float), rows.numerator.astype(float),
                                       check_names=False)
        assert table.suppressed.tolist() == rows.suppressed.tolist()


def test_the_fingertips_csv_has_fingertips_columns_and_notes_each_suppressed_value(engine_client) -> None:
    client = engine_client  # the same checks on DuckDB and on PostgreSQL
    rows = pd.DataFrame(client.get(f"{PATH}/data", params=PARAMS).json()["rows"])
    r = client.get(f"{PATH}/fingertips.csv", params=PARAMS)
    ft = pd.read_csv(io.StringIO(r.text), keep_default_na=False, na_values=[""])
    assert list(ft.columns) == FINGERTIPS_COLUMNS
    assert FINGERTIPS_COLUMNS[:13] == ["Indicator ID", "Indicator Name", "Parent Code", "Parent Name", "Area Code",
                                       "Area Name", "Area Type", "Sex", "Age", "Category Type", "Category",
                                       "Time period", "Value"]
    assert len(ft) == len(rows)
    assert (ft["Parent Code"] == "QHG").all() and set(ft["Area Type"]) == {"place"}
    assert set(ft["Category Type"]) == {"IMD quintile (1 most deprived)"} and set(ft["Sex"]) == {"Persons"}
    hidden = ft["Value note"].str.startswith("Value suppressed for disclosure control")
    assert hidden.tolist() == rows.suppressed.tolist() and ft.loc[hidden, "Value"].isna().all()
    assert ft["Count"].astype(float).fillna(-1).tolist() == rows.numerator.astype(float).fillna(-1).tolist()
    assert (ft["Time period Sortable"] // 100 % 100).between(1, 12).all()
