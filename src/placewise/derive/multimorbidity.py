"""The Cambridge Multimorbidity Score (Payne et al. 2020) at dates: the weights of the conditions present, summed."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from placewise.derive.criteria import holding
from placewise.derive.people import PID
from placewise.profile.phm import Multimorbidity


def conditions(con: ibis.BaseBackend, people: ir.Table, mm: Multimorbidity, ons: list[date]) -> ir.Table:
    """Every scored condition each person has at each of ``ons``: ``pid, period_end, item, d``.

    A condition holds when any of its ``any`` criteria holds and every ``also`` criterion holds.
    """
    keyed = []
    for c in mm.conditions:
        keyed += [(f"{c.id}#any{i}", k) for i, k in enumerate(c.any)]
        keyed += [(f"{c.id}#also{i}", k) for i, k in enumerate(c.also)]
    h = holding(con, people, keyed, ons)
    h = h.mutate(item=h.key.re_replace(r"#.*$", ""), part=h.key.re_extract(r"#(any|also)", 1))
    needed = ibis.memtable({"item": [c.id for c in mm.conditions], "also_needed": [len(c.also) for c in mm.conditions]})
    g = h.group_by([PID, "period_end", "item"]).aggregate(
        any_=(h.part == "any").any(), also_=h.key.nunique(where=h.part == "also"), d=h.d.max())
    g = g.join(needed, "item")
    g = g.filter(g.any_ & (g.also_ == g.also_needed))
    return g.select(PID, "period_end", "item", "d")


def score(found: ir.Table, pop: ir.Table, mm: Multimorbidity) -> ir.Table:
    """Cambridge score for people in ``pop`` (``pid, period_end, age``) of the minimum age at each date:
    ``pid, period_end, cms, cms_conditions``."""
    w = ibis.memtable({"item": [c.id for c in mm.conditions], "weight": [float(c.weight) for c in mm.conditions]})
    j = found.join(w, "item")
    s = j.group_by([PID, "period_end"]).aggregate(cms=j.weight.sum(), cms_conditions=j.item.nunique())
    adults = pop.filter(pop.age >= mm.min_age).select(PID, "period_end")
    out = adults.left_join(s, [PID, "period_end"])
    return out.select(PID, "period_end", cms=ibis.coalesce(out.cms, 0.0).round(2),
                      cms_conditions=ibis.coalesce(out.cms_conditions, 0).cast("int64"))
