"""What publishing reads from the warehouse beside the measurements: which returned values came without counts."""

from __future__ import annotations

from datetime import date

import pandas as pd

from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.publish.inputs import printed_alone
from placewise.warehouse import connect, ensure_tables


def test_a_value_is_printed_alone_where_its_own_return_gave_no_counts(tmp_path):
    # cancer_31d counts measure cancer_31d's numerator over its denominator. Luton CCG (06P) printed 100% alone in
    # April 2020 (as BLMK's 2020/21 dashboard does) and 1 of 1 in May; the ICS gave 97 of 100 in April. Only
    # April's 06P value is alone: a whole 1 over 1 is told apart by the return, not by the value.
    con = connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    returns = pd.DataFrame({
        "period": [date(2020, 4, 1), date(2020, 5, 1), date(2020, 4, 1), date(2020, 4, 1)],
        "org_code": ["06P", "06P", "QHG", "06P"],
        "measure": ["cancer_31d", "cancer_31d", "cancer_31d", "rtt_within_18wk"],
        "numerator": [None, 1.0, 97.0, 640.0], "denominator": [None, 1.0, 100.0, 1000.0],
        "value": [1.0, 1.0, 0.97, 0.64]})
    con.insert("aggregate_returns", returns)
    frame = pd.DataFrame({
        "indicator_id": ["cancer_31d"] * 4 + ["cancer_31d"],
        "period_start": [date(2020, 4, 1), date(2020, 5, 1), date(2020, 4, 1), date(2020, 6, 1), date(2020, 4, 1)],
        "period_end": [date(2020, 4, 30), date(2020, 5, 31), date(2020, 4, 30), date(2020, 6, 30), date(2020, 4, 30)],
        "geography_code": ["06P", "06P", "QHG", "06P", "06P"],
        "breakdown": ["none"] * 4 + ["sex"]})
    alone = printed_alone(con, load_catalogue(load_profile()), frame)
    assert alone["cancer_31d"] == frozenset({("06P", date(2020, 4, 1))})
    assert alone["rtt_18wk"] == frozenset()  # its 06P return gave counts (and the frame holds no RTT rows)
    assert "rtt_waiting_list" not in alone  # a returned count has no share to print alone
