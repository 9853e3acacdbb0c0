"""The Board summary, exceptions first: which indicators need attention, and why.

NHS England's *Making Data Count* ("The insightful ICB board", and the MDC summary icons) asks a Board
report to lead with what needs attention. Each indicator of a report goes into the first of these
groups that applies to it, in this order, with every reason that applies listed:

1. **special cause concern**: the latest point's variation icon is concern (high or low), which covers
   a point beyond the process limits, a run or trend of seven points and two of three points near a
   limit, all in the worsening direction;
2. **failing the target**: the assurance icon is "consistently fail" (the target lies beyond the limits
   on the wrong side), or the latest value is worse than the target;
3. **behind plan**: the latest period with a plan is amber or red against its trajectory;
4. **hit or miss against the target**: the target lies within the process limits;
5. **special cause improvement**;
6. **in control**: common cause variation and nothing above (or no target and no plan).

The function works on plain columns so that the report and the web app call the same code.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from placewise.analyse.spc import POLARITIES, AssuranceIcon, VariationIcon

STATUS_COLUMNS = ("indicator_id", "polarity", "latest", "target", "variation", "assurance", "plan_rag")
"""What :func:`exceptions` needs per indicator: SPC icons as :class:`VariationIcon` / :class:`AssuranceIcon`
numbers, the latest value and target on the same scale (NaN where none), the plan RAG (or empty)."""


class Group(StrEnum):
    """The Board summary's groups, in the order they are shown."""

    CONCERN = "special_cause_concern"
    FAILING = "failing_target"
    BEHIND_PLAN = "behind_plan"
    HIT_OR_MISS = "hit_or_miss"
    IMPROVING = "special_cause_improvement"
    IN_CONTROL = "in_control"


GROUP_TITLES = {
    Group.CONCERN: "Special cause concern",
    Group.FAILING: "Failing the target",
    Group.BEHIND_PLAN: "Behind plan",
    Group.HIT_OR_MISS: "Hit or miss against the target",
    Group.IMPROVING: "Special cause improvement",
    Group.IN_CONTROL: "In control, no exception",
}
GROUP_ORDER = tuple(Group)
ATTENTION = (Group.CONCERN, Group.FAILING, Group.BEHIND_PLAN)
"""The groups that need the Board's attention."""


def exceptions(status: pd.DataFrame) -> pd.DataFrame:
    """``status`` with ``group`` (a :class:`Group` value) and ``reasons`` (a sentence), sorted by group.

    Within a group the input order (the catalogue's) is kept.
    """
    missing = [c for c in STATUS_COLUMNS if c not in status.columns]
    if missing:
        raise ValueError(f"board status is missing column(s) {', '.join(missing)}")
    variation = status["variation"].to_numpy(dtype=int)
    assurance = status["assurance"].to_numpy(dtype=int)
    sign = status["polarity"].map(POLARITIES).to_numpy(dtype=float)
    latest, target = status["latest"].to_numpy(dtype=float), status["target"].to_numpy(dtype=float)
    rag = status["plan_rag"].fillna("").astype(str).to_numpy()
    flags = {
        Group.CONCERN: np.isin(variation, [VariationIcon.CONCERN_HIGH, VariationIcon.CONCERN_LOW]),
        Group.FAILING: (assurance == AssuranceIcon.CONSISTENTLY_FAIL) | ((latest - target) * sign < 0),
        Group.BEHIND_PLAN: np.isin(rag, ["amber", "red"]),
        Group.HIT_OR_MISS: assurance == AssuranceIcon.INCONSISTENT,
        Group.IMPROVING: np.isin(variation, [VariationIcon.IMPROVEMENT_HIGH, VariationIcon.IMPROVEMENT_LOW]),
    }
    choice = np.select(list(flags.values()), [g.value for g in flags], Group.IN_CONTROL.value)
    reasons = [_reasons(i, flags, assurance, rag) for i in range(len(status))]
    out = status.assign(group=choice, reasons=reasons, order=np.arange(len(status)))
    rank = out["group"].map({g.value: k for k, g in enumerate(GROUP_ORDER)})
    return out.assign(rank=rank).sort_values(["rank", "order"]).drop(columns=["rank", "order"]).reset_index(
        drop=True)


def _reasons(i: int, flags: dict[Group, np.ndarray], assurance: np.ndarray, rag: np.ndarray) -> str:
    """Every exception that applies to row ``i``, as one sentence."""
    parts = []
    if flags[Group.CONCERN][i]:
        parts.append("special cause concern")
    if flags[Group.FAILING][i]:
        parts.append("the target will be consistently missed" if assurance[i] == AssuranceIcon.CONSISTENTLY_FAIL
                     else "the latest value misses the target")
    if flags[Group.BEHIND_PLAN][i]:
        parts.append(f"{rag[i]} against plan")
    if flags[Group.HIT_OR_MISS][i]:
        parts.append("the target will be met only some of the time")
    if flags[Group.IMPROVING][i]:
        parts.append("special cause improvement")
    return ("; ".join(parts) or "common cause variation, no exception").capitalize()
