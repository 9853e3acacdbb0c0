"""Which target applies to a report, and whether it is current: stale and missing targets are flagged.

A catalogue target may hold a standing value (a constitutional or national standard), targets by
financial year (operating-plan ambitions, "X% by March") and a first year (``since``). For the
financial year of the report's latest period:

- the year's own target applies, unflagged;
- else the standing value applies; if the indicator has yearly plan targets but none for this year,
  it is flagged ``standing`` (no operating-plan target is held for the year);
- else, if an earlier year had a target, that one is shown and flagged ``stale`` (its year has passed);
- else no target applies and the indicator is flagged ``missing`` (the standard starts later).

The year is the report's (its latest period), not today's, so a historical report is judged by its own year.
Where the profile says why no figure is held for a year (``target.unset``: not found in the stored copies
of the guidance, or none set), the note repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from placewise.measure.catalogue import Target, financial_year

Flag = Literal["", "standing", "stale", "missing"]


@dataclass(frozen=True)
class TargetStatus:
    """The target shown for one indicator in one report, where it comes from and any flag."""

    value: float | None
    year: str
    source: str
    flag: Flag = ""
    note: str = ""


def target_status(target: Target | None, standard_source: str, as_of: date | None) -> TargetStatus:
    """The target that applies in the financial year of ``as_of``, flagged when stale, standing or missing."""
    if target is None:
        return TargetStatus(None, "", standard_source)
    if as_of is None:
        return TargetStatus(target.value, "", standard_source)
    fy = financial_year(as_of)
    own = next((y for y in target.years if y.year == fy), None)
    if own is not None:
        return TargetStatus(own.value, fy, f"{fy}: {own.source}")
    earlier = sorted((y for y in target.years if y.year < fy), key=lambda y: y.year)
    why = target.unset_reason(fy).rstrip(".")
    if target.value is not None and (target.since is None or fy >= target.since):
        if not earlier:
            return TargetStatus(target.value, fy, f"{fy}: {target.source}")
        last = earlier[-1]
        return TargetStatus(target.value, fy, f"{fy}: {target.source}", "standing",
                            f"No operating-plan target is held for {fy}{f' ({why})' if why else ''}; the standing "
                            f"standard applies (the latest plan target, {last.value:g}, was for {last.year}).")
    why = f" {why[:1].upper()}{why[1:]}." if why else ""
    if earlier:
        last = earlier[-1]
        return TargetStatus(last.value, last.year, f"{last.year}: {last.source}", "stale",
                            f"Stale target: the latest is for {last.year}; none is held for {fy}.{why}")
    return TargetStatus(None, fy, f"{standard_source} (no target in {fy})", "missing",
                        f"No target applies in {fy}.{why}")
