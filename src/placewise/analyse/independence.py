"""Which series may go on an SPC chart: Making Data Count's XmR chart needs points that do not overlap.

NHS England's *Making Data Count* ("Strengthening your decisions", 2019, the section "Seasonality and
rolling averages") advises against SPC on rolling or cumulative figures: each point of a rolling
12-month series shares 11 months of data with its neighbour, and a year-to-date figure contains every
earlier month of its year, so neighbouring points are not independent, the moving ranges are too small,
the limits too narrow, and runs and trends appear that the process did not make. Such a series is drawn
as a line chart, with no process limits and no variation or assurance icon.

Three kinds of series overlap, read from the catalogue definition (not configured separately):

- a **rolling** frequency (``rolling_12_months``);
- a **cumulative** count from 1 April (a ``financial_year_to_date`` window);
- a **look-back** count of records over a window longer than the period (a ``has_code`` window of
  ``last_N_months`` on a series whose periods are shorter than N months): a monthly share of people with a
  check in the last 12 months counts most of the same checks each month.

Deliberate deviation: a criterion that reads a person's *latest* value (``latest_value``,
``blood_pressure``) describes their state on the day, as a waiting list does; such snapshots keep SPC,
although neighbouring months share the people whose latest reading has not changed.
"""

from __future__ import annotations

from placewise.measure.catalogue import HasCode, Indicator, criteria_of, window_months

PERIOD_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
"""How many months one period of each non-rolling frequency spans."""

WHY = ("Making Data Count advises against SPC on such figures, so this is a line chart without process limits "
       "or variation and assurance icons; compare a point with the one 12 months earlier, which shares no data "
       "with it.")


def overlap(ind: Indicator) -> str:
    """Why the indicator's points overlap (a sentence), or an empty string when SPC applies to it."""
    if ind.frequency == "rolling_12_months":
        return ("Each point covers the 12 months to its month, so neighbouring points share 11 months of data "
                "and are not independent.")
    windows = [c.window for c in criteria_of(ind) if isinstance(c, HasCode)]
    if cumulative(ind):
        return ("Each point is cumulative from 1 April to its month, so it contains every earlier month of the "
                "financial year and is not independent of them.")
    spans = [n for n in map(window_months, windows) if n is not None and n > PERIOD_MONTHS[ind.frequency]]
    if spans:
        n, step = max(spans), PERIOD_MONTHS[ind.frequency]
        return (f"Each point counts records from the {n} months to its end, so neighbouring points share "
                f"{n - step} months of records and are not independent.")
    return ""


def cumulative(ind: Indicator) -> bool:
    """Whether each point counts from 1 April to its month (a ``financial_year_to_date`` window)."""
    return any(isinstance(c, HasCode) and c.window == "financial_year_to_date" for c in criteria_of(ind))


def no_spc_reason(ind: Indicator) -> str:
    """The note shown where SPC is withheld: why the points overlap and what is drawn instead; empty if SPC applies."""
    why = overlap(ind)
    return f"{why} {WHY}" if why else ""
