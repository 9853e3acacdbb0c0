"""Cohort counts for publication: people in a cohort and registered people by geography and group, disclosure-controlled.

The counts come from :func:`placewise.derive.cohorts.counts`; both the cohort counts and the
registered population pass the profile's one disclosure rule (``disclosure.yaml``), decided once over
every geography and breakdown of the ICS (:func:`decided_counts`), so a count printed by one run (by Place,
say) is hidden exactly as in another (by sex, or for the ICS). A cohort count is hidden with its population,
and a percentage (worked out from the unrounded counts) is shown only where both are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placewise.publish.disclosure import SUPPRESSED_TEXT, TOTAL, DisclosureRule, decide_family, round_counts

COLUMNS = ["geography_code", "group", "people_in_cohort", "registered_people", "percent"]


GEOGRAPHY_DIMENSION = {"place": "la_code", "pcn": "pcn_code", "practice": "practice_code"}
"""The column of :func:`placewise.derive.cohorts.finest_counts` that names each geography (the ICS is the total)."""

BREAKDOWN_DIMENSIONS = ["imd_quintile", "ethnic_group", "sex", "age_band"]


def decided_counts(finest: pd.DataFrame, rule: DisclosureRule) -> pd.DataFrame:
    """The cohort's counts (``n``) and registered people (``population``) with every margin, and the one decision
    over them for the whole ICS (every Place, PCN and practice, every breakdown): each table published for a
    geography and breakdown is cut from it, so no two of them hide a count differently."""
    tables = [["la_code", b] for b in BREAKDOWN_DIMENSIONS] + [["la_code", "pcn_code", "practice_code"]]
    nested = [("practice_code", "la_code"), ("practice_code", "pcn_code")]
    return decide_family(finest, tables, ["n", "population"], rule, nested, decide=("n", "population"))


def published_counts(finest: pd.DataFrame, rule: DisclosureRule, by: str, breakdown: str, ics: str) -> pd.DataFrame:
    """The counts by geography ``by`` and ``breakdown`` (``ics`` the ICS's code), with totals, as published.

    ``finest`` is :func:`placewise.derive.cohorts.finest_counts`. A geography type the rule does not publish, or
    publishes for the whole population only while the counts are broken down by group (PCNs and practices, for
    BLMK), is refused whole.
    """
    if by not in rule.geographies or (by in rule.whole_population_only and breakdown != "none"):
        raise ValueError(f"counts by {by} are not published under the disclosure rule (published geographies: "
                         f"{', '.join(rule.geographies)}); use the pseudonymised dataset for analysis")
    if breakdown != "none" and breakdown not in BREAKDOWN_DIMENSIONS:
        raise ValueError(f"unknown breakdown {breakdown!r}: one of none, {', '.join(BREAKDOWN_DIMENSIONS)}")
    cells = decided_counts(finest, rule)
    where: dict[str, dict[str, str]] = {}
    if by == "practice":
        at = cells.reset_index()
        at = at[(at.practice_code != TOTAL) & (at[BREAKDOWN_DIMENSIONS] == TOTAL).all(axis=1)]
        where = {pr: {"la_code": la, "pcn_code": pcn, "practice_code": pr}
                 for la, pcn, pr in zip(at.la_code, at.pcn_code, at.practice_code, strict=True)}
    elif by in GEOGRAPHY_DIMENSION:
        dim = GEOGRAPHY_DIMENSION[by]
        where = {g: {dim: g} for g in sorted(set(cells.index.get_level_values(dim)) - {TOTAL})}
    else:
        where = {ics: {}}
    groups = {"all": {}} if breakdown == "none" else {
        g: {breakdown: g} for g in sorted(set(cells.index.get_level_values(breakdown)) - {TOTAL})}
    geos, cols = [*where.items(), (TOTAL, {})], [*groups.items(), (TOTAL, {})]
    rows = []
    for g, at_geo in sorted(geos[:-1]) + geos[-1:]:
        for j, (grp, at_group) in enumerate(cols):
            if len(cols) == 2 and j == 1:
                continue                               # one group: its total repeats it
            k = tuple({**at_geo, **at_group}.get(d, TOTAL) for d in cells.index.names)
            n, pop, n_hidden, pop_hidden = (cells.at[k, c] for c in ("n", "population", "hidden_n", "hidden_population"))
            n_hidden = n_hidden or pop_hidden
            rows.append([g, grp,
                         SUPPRESSED_TEXT if n_hidden else f"{round_counts(np.array([n]), rule.round_to)[0]:.0f}",
                         SUPPRESSED_TEXT if pop_hidden else f"{round_counts(np.array([pop]), rule.round_to)[0]:.0f}",
                         SUPPRESSED_TEXT if n_hidden else "-" if pop == 0 else f"{100 * n / pop:.1f}"])
    return pd.DataFrame(rows, columns=COLUMNS)


def hidden_share(table: pd.DataFrame) -> float:
    """The share of cohort counts hidden, for the command's summary line."""
    return float(np.mean(table.people_in_cohort == SUPPRESSED_TEXT)) if len(table) else 0.0
