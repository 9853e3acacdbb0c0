"""Cohort counts for publication: people in a cohort and registered people by geography and group, disclosure-controlled.

The counts come from :func:`placewise.derive.cohorts.counts`; both the cohort counts and the
registered population pass the profile's one disclosure rule (``disclosure.yaml``) as tables with
their totals (:func:`placewise.publish.disclosure.suppress_table`). A cohort count is hidden with its
population, and a percentage (worked out from the unrounded counts) is shown only where both are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placewise.publish.disclosure import (
    SUPPRESSED_TEXT,
    DisclosureRule,
    round_counts,
    suppress_table,
    with_totals,
)

TOTAL = "Total"
COLUMNS = ["geography_code", "group", "people_in_cohort", "registered_people", "percent"]


def published_counts(frame: pd.DataFrame, rule: DisclosureRule, by: str) -> pd.DataFrame:
    """The counts (``geography_code, group, n, population``) by geography ``by``, with totals, as published.

    A geography type the rule does not publish, or publishes for the whole population only while the counts
    are broken down by group (PCNs and practices, for BLMK), is refused whole.
    """
    if by not in rule.geographies or (by in rule.whole_population_only and frame.group.nunique() > 1):
        raise ValueError(f"counts by {by} are not published under the disclosure rule (published geographies: "
                         f"{', '.join(rule.geographies)}); use the pseudonymised dataset for analysis")
    n = frame.pivot_table(index="geography_code", columns="group", values="n", aggfunc="sum", fill_value=0)
    pop = frame.pivot_table(index="geography_code", columns="group", values="population", aggfunc="sum",
                            fill_value=0).reindex(index=n.index, columns=n.columns, fill_value=0)
    n_full, pop_full = with_totals(n.to_numpy()), with_totals(pop.to_numpy())
    pop_hidden = suppress_table(pop_full, rule)
    n_hidden = suppress_table(n_full, rule) | pop_hidden
    n_shown, pop_shown = round_counts(n_full, rule.round_to), round_counts(pop_full, rule.round_to)
    geos, groups = [*map(str, n.index), TOTAL], [*map(str, n.columns), TOTAL]
    rows = []
    for i, g in enumerate(geos):
        for j, grp in enumerate(groups):
            if len(groups) == 2 and j == 1:
                continue                               # one group: its total repeats it
            hidden = n_hidden[i, j] or pop_hidden[i, j]
            rows.append([g, grp,
                         SUPPRESSED_TEXT if n_hidden[i, j] else f"{n_shown[i, j]:.0f}",
                         SUPPRESSED_TEXT if pop_hidden[i, j] else f"{pop_shown[i, j]:.0f}",
                         SUPPRESSED_TEXT if hidden else "-" if pop_full[i, j] == 0
                         else f"{100 * n_full[i, j] / pop_full[i, j]:.1f}"])
    return pd.DataFrame(rows, columns=COLUMNS)


def hidden_share(table: pd.DataFrame) -> float:
    """The share of cohort counts hidden, for the command's summary line."""
    return float(np.mean(table.people_in_cohort == SUPPRESSED_TEXT)) if len(table) else 0.0
