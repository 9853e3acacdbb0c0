"""The electronic Frailty Index (Clegg et al. 2016) at a date: deficits present ÷ 36, banded, for ages 65 and over."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.canonical import PERSON_KEY
from placewise.derive.criteria import holding
from placewise.derive.people import PID
from placewise.derive.records import months_back
from placewise.profile.phm import Frailty

POLYPHARMACY = "polypharmacy"
BANDS = ("fit", "mild", "moderate", "severe")


def _polypharmacy(con: ibis.BaseBackend, people: ir.Table, f: Frailty, on: date) -> ir.Table:
    """People issued at least the published number of distinct products in the window: ``pid, item, d``."""
    m = con.table("medications")
    m = m.filter((m.issue_date.cast("date") <= on) & (m.issue_date.cast("date") >= months_back(on, f.polypharmacy.months)))
    m = m.join(people.select(PERSON_KEY, PID), PERSON_KEY)
    g = m.group_by(PID).aggregate(n=m.dmd_code.nunique(), d=m.issue_date.cast("date").max())
    g = g.filter(g.n >= f.polypharmacy.distinct_products)
    return g.select(PID, item=ibis.literal(POLYPHARMACY), d=g.d)


def deficits(con: ibis.BaseBackend, people: ir.Table, f: Frailty, on: date) -> ir.Table:
    """Every deficit each person has at ``on`` (any age): ``pid, item, d`` with the latest record's date."""
    keyed = [(f"{d.id}#{i}", c) for d in f.deficits for i, c in enumerate(d.any)]
    h = holding(con, people, keyed, on)
    h = h.mutate(item=h.key.re_replace(r"#.*$", ""))
    coded = h.group_by([PID, "item"]).aggregate(d=h.d.max())
    return coded.union(_polypharmacy(con, people, f, on))


def band(score: ir.FloatingValue, f: Frailty) -> ir.StringValue:
    """The eFI band of a score: fit up to 0.12, mild up to 0.24, moderate up to 0.36, severe above (inclusive)."""
    b = f.bands
    return ibis.cases((score <= b.fit, "fit"), (score <= b.mild, "mild"), (score <= b.moderate, "moderate"),
                      else_="severe")


def frailty_index(found: ir.Table, pop: ir.Table, f: Frailty) -> ir.Table:
    """eFI for the people in ``pop`` (``pid, age``) of the minimum age: ``pid, efi_deficits, efi, efi_band``.

    Deficit counts are integers and the bands compare the exact quotient, so 0.12 × 36 = 4.32 puts
    4 deficits in fit and 5 in mild.
    """
    n = found.group_by(PID).aggregate(efi_deficits=found.item.nunique())
    old = pop.filter(pop.age >= f.min_age).select(PID)
    j = old.left_join(n, PID).select(PID, efi_deficits=ibis.coalesce(n.efi_deficits, 0).cast("int64"))
    score = j.efi_deficits.cast("float64") / f.n_deficits
    return j.mutate(efi=score, efi_band=band(score, f))
