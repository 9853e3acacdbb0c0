"""The exceptions-first Board summary: each indicator in the first group that applies, every reason listed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from placewise.analyse.board import Group, exceptions
from placewise.analyse.spc import AssuranceIcon as A
from placewise.analyse.spc import VariationIcon as V

NAN = np.nan


def _status(rows: list[tuple]) -> pd.DataFrame:
    """Hand-built status rows: id, polarity, latest, target, variation, assurance, plan RAG."""
    return pd.DataFrame(rows, columns=["indicator_id", "polarity", "latest", "target", "variation", "assurance",
                                       "plan_rag"])


def test_each_indicator_goes_into_the_first_group_that_applies_in_mdc_order():
    status = _status([
        ("calm", "higher_is_better", 80.0, 70.0, V.COMMON_CAUSE, A.CONSISTENTLY_PASS, "green"),
        ("better", "lower_is_better", 10.0, NAN, V.IMPROVEMENT_LOW, A.NONE, None),
        ("hit_miss", "higher_is_better", 71.0, 70.0, V.COMMON_CAUSE, A.INCONSISTENT, ""),
        ("behind", "higher_is_better", 71.0, NAN, V.IMPROVEMENT_HIGH, A.NONE, "amber"),
        # Failing although the icons say hit or miss: the latest value (69.9) is below the target (70).
        ("missed", "higher_is_better", 69.9, 70.0, V.COMMON_CAUSE, A.INCONSISTENT, "red"),
        ("concern", "lower_is_better", 12.0, 10.0, V.CONCERN_HIGH, A.CONSISTENTLY_FAIL, "red"),
    ])
    out = exceptions(status)
    assert list(out.indicator_id) == ["concern", "missed", "behind", "hit_miss", "better", "calm"]
    assert list(out.group) == [Group.CONCERN, Group.FAILING, Group.BEHIND_PLAN, Group.HIT_OR_MISS,
                               Group.IMPROVING, Group.IN_CONTROL]
    reasons = dict(zip(out.indicator_id, out.reasons, strict=True))
    assert reasons["concern"] == "Special cause concern; the target will be consistently missed; red against plan"
    assert reasons["missed"] == ("The latest value misses the target; red against plan; the target will be met "
                                 "only some of the time")
    assert reasons["behind"] == "Amber against plan; special cause improvement"
    assert reasons["calm"] == "Common cause variation, no exception"


@pytest.mark.parametrize(("polarity", "latest", "failing"), [
    ("higher_is_better", 70.0, False),   # exactly on the target meets it
    ("higher_is_better", 69.99, True),
    ("lower_is_better", 70.0, False),
    ("lower_is_better", 70.01, True),
    ("neutral", 0.0, False),             # a neutral indicator never fails a target
])
def test_the_latest_value_against_the_target_follows_polarity_at_the_boundary(polarity, latest, failing):
    out = exceptions(_status([("x", polarity, latest, 70.0, V.COMMON_CAUSE, A.NONE, "")]))
    assert (out.group[0] == Group.FAILING) is failing


def test_catalogue_order_is_kept_within_a_group_and_a_missing_column_is_named():
    status = _status([(f"i{k}", "higher_is_better", 1.0, NAN, V.CONCERN_LOW, A.NONE, "") for k in range(5)])
    assert list(exceptions(status).indicator_id) == [f"i{k}" for k in range(5)]
    with pytest.raises(ValueError, match="plan_rag"):
        exceptions(status.drop(columns="plan_rag"))
