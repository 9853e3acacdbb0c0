"""The electronic Frailty Index (Clegg et al. 2016) at dates: deficits present ÷ 36, banded, for ages 65 and over."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.criteria import holding
from placewise.derive.people import PID
from placewise.derive.records import in_windows, look_backs, months_back
from placewise.profile.phm import Frailty

POLYPHARMACY = "polypharmacy"
BANDS = ("fit", "mild", "moderate", "severe")


def _polypharmacy(con: ibis.BaseBackend, people: ir.Table, f: Frailty, ons: list[date]) -> ir.Table:
    """People issued at least the published number of distinct products in the window to each date:
    ``pid, period_end, item, d``."""
    m = con.table("medications")
    m = m.select(PERSON_KEY, "dmd_code", d=m.issue_date.cast("date"))
    m = m.filter((m.d <= max(ons)) & (m.d >= min(months_back(on, f.polypharmacy.months) for on in ons)))
    m = in_windows(m.join(people.select(PERSON_KEY, PID), PERSON_KEY), look_backs(ons, f.polypharmacy.months))
    g = m.group_by([PID, "period_end"]).aggregate(n=m.dmd_code.nunique(), d=m.d.max())
    g = g.filter(g.n >= f.polypharmacy.distinct_products)
    return g.select(PID, "period_end", item=ibis.literal(POLYPHARMACY), d=g.d)


def deficits(con: ibis.BaseBackend, people: ir.Table, f: Frailty, ons: list[date]) -> ir.Table:
    """Every deficit each person has at each of ``ons`` (any age): ``pid, period_end, item, d`` with the latest
    record's date."""
    keyed = [(f"{d.id}#{i}", c) for d in f.deficits for i, c in enumerate(d.any)]
    h = holding(con, people, keyed, ons)
    h = h.mutate(item=h.key.re_replace(r"#.*$", ""))
    coded = h.group_by([PID, "period_end", "item"]).aggregate(d=h.d.max())
    return coded.union(_polypharmacy(con, people, f, ons))


def band(score: ir.FloatingValue, f: Frailty) -> ir.StringValue:
    """The eFI band of a score: fit up to 0.12, mild up to 0.24, moderate up to 0.36, severe above (inclusive)."""
    b = f.bands
    return ibis.cases((score <= b.fit, "fit"), (score <= b.mild, "mild"), (score <= b.moderate, "moderate"),
                      else_="severe")


def frailty_index(found: ir.Table, pop: ir.Table, f: Frailty) -> ir.Table:
    """eFI for the people in ``pop`` (``pid, period_end, age``) of the minimum age at each date:
    ``pid, period_end, efi_deficits, efi, efi_band``.

    Deficit counts are integers and the bands compare the exact quotient, so 0.12 × 36 = 4.32 puts
    4 deficits in fit and 5 in mild.
    """
    n = found.group_by([PID, "period_end"]).aggregate(efi_deficits=found.item.nunique())
    old = pop.filter(pop.age >= f.min_age).select(PID, "period_end")
    j = old.left_join(n, [PID, "period_end"]).select(
        PID, "period_end", efi_deficits=ibis.coalesce(n.efi_deficits, 0).cast("int64"))
    score = j.efi_deficits.cast("float64") / f.n_deficits
    return j.mutate(efi=score, efi_band=band(score, f))
