"""Which target applies to a report, whether it is current, and which figure a year's plan is drawn to.

A catalogue target may hold a standing value (a constitutional or national standard), targets by
financial year (operating-plan ambitions, "X% by March"), a first year (``since``) and, for a retired standard, a
last year (``until``). For the
financial year of the report's latest period:

- the year's own target applies, unflagged;
- else the standing value applies; if no operating-plan figure is held for the year (:func:`plan_held`), it is
  flagged ``standing``: the standard is the reference, and no plan is drawn;
- else, if an earlier year had a target, that one is shown and flagged ``stale`` (its year has passed);
- else no target applies and the indicator is flagged ``missing`` (the standard starts later, or has been retired).

Where the profile declares that the year's national guidance sets no figure (``unset`` with ``none_set``: it was
read, not merely not found), no target applies and the indicator is flagged ``none``: "no national target", with the
profile's source, rather than an earlier year's target shown as stale.

The year is the report's (its latest period), not today's, so a historical report is judged by its own year.
Where the profile says why no figure is held for a year (``target.unset``: not found in the stored copies
of the guidance, or none set), the note repeats it.

The plan follows the year's planning guidance as the profile holds it (:func:`plan_figure`, the one rule for
every standard): the year's own operating-plan target; none where no plan figure is held for the year (the
profile declares the year ``unset``, or the indicator has plan targets for earlier years but none for this one),
as when the 2023/24 and 2024/25 guidance planned the elimination of long waits rather than a share within 18
weeks; otherwise the standing standard, for an indicator that is held to its standard every year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from placewise.measure.catalogue import Target, YearTarget, financial_year

Flag = Literal["", "standing", "stale", "missing", "none"]


@dataclass(frozen=True)
class TargetStatus:
    """The target shown for one indicator in one report, where it comes from and any flag."""

    value: float | None
    year: str
    source: str
    flag: Flag = ""
    note: str = ""


def plan_held(target: Target, year: str) -> bool:
    """Whether an operating-plan figure for financial ``year`` is held or stands: the year's own target, or a year
    neither declared ``unset`` nor after an earlier year's plan target (where the standing standard is the plan)."""
    if any(y.year == year for y in target.years):
        return True
    return not any(u.covers(year) for u in target.unset) and not any(y.year < year for y in target.years)


def plan_figure(target: Target, year: str) -> YearTarget | None:
    """The figure the plan for financial ``year`` is drawn to: the year's own target, else the standing standard
    where a plan is held and the standard applies, else none (the year has no planned figure)."""
    own = next((y for y in target.years if y.year == year), None)
    if own is not None or target.value is None or not plan_held(target, year) or not target.stands_in(year):
        return own
    return YearTarget(year=year, value=target.value, source=target.source)


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
    if target.none_set(fy) and not target.stands_in(fy):
        return TargetStatus(None, fy, f"{fy}: {why}", "none", f"No national target for {fy}: {why}.")
    if target.stands_in(fy):
        if plan_held(target, fy):
            return TargetStatus(target.value, fy, f"{fy}: {target.source}")
        latest = f" (the latest plan target, {earlier[-1].value:g}, was for {earlier[-1].year})" if earlier else ""
        return TargetStatus(target.value, fy, f"{fy}: {target.source}", "standing",
                            f"No plan held for {fy}{f': {why}' if why else ''}. The standing standard, "
                            f"{target.value:g}, is the reference{latest}.")
    why = f" {why[:1].upper()}{why[1:]}." if why else ""
    if earlier:
        last = earlier[-1]
        return TargetStatus(last.value, last.year, f"{last.year}: {last.source}", "stale",
                            f"Stale target: the latest is for {last.year}; none is held for {fy}.{why}")
    return TargetStatus(None, fy, f"{standard_source} (no target in {fy})", "missing",
                        f"No target applies in {fy}.{why}")
