"""Cohorts compiled once over the PHM tables: members, counts by geography and breakdown, a person-level dataset.

A :class:`placewise.profile.cohorts.Cohort` becomes one Ibis expression over ``phm_people`` and
``phm_items`` (built by ``placewise phm``) at their reference date, so the same definition runs on
DuckDB and PostgreSQL. Every coded-event criterion in the cohort is answered in one pass
(:func:`placewise.derive.criteria.holding`). The dataset holds pseudonyms only, and every pull of it is
appended to the warehouse's ``cohort_dataset_audit`` trail (who, when, which cohort and definition, how
many rows, where to), hash-chained and anchored like the re-identification audit
(:mod:`placewise.warehouse.audit`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from placewise.derive.criteria import holding
from placewise.derive.people import PID
from placewise.derive.segments import ITEMS_TABLE, PEOPLE_TABLE
from placewise.profile import Profile
from placewise.profile.cohorts import Cohort, Rule, check
from placewise.profile.phm import Criterion
from placewise.warehouse.audit import Trail, append, verify
from placewise.warehouse.connection import table_names
from placewise.warehouse.derived import scratch

GEOGRAPHIES = ("ics", "place", "pcn", "practice")
BREAKDOWNS = ("none", "imd_quintile", "ethnic_group", "sex", "age_band")
AGE_BANDS = [(0, "0-15"), (16, "16-24"), (25, "25-44"), (45, "45-64"), (65, "65-74"), (75, "75-84"), (85, "85+")]
"""Lower bound and label of each age band of the ``age_band`` breakdown."""
DATASET_COLUMNS = ["person_id", "reference_date", "practice_code", "la_code", "imd_quintile", "ethnic_group", "sex",
                   "age", "segment", "registers", "efi_deficits", "efi", "efi_band", "cms", "cms_conditions",
                   "emergency_admissions", "bed_days", "ae_attendances"]
"""The pseudonymised person-level dataset: the warehouse pseudonym and derived fields, no identifiers."""
DATASET_AUDIT = Trail("cohort_dataset_audit", ibis.schema({
    "at": "timestamp", "who": "string", "cohort_id": "string", "definition": "string", "reference_date": "date",
    "rows": "int64", "destination": "string", "seq": "int64", "row_hash": "string"}))
"""Every person-level dataset pulled: who, when, which cohort (and a hash of its definition), rows, where to."""


def _phm_people(con: ibis.BaseBackend) -> ir.Table:
    """The PHM people table, or a clear error if ``placewise phm`` has not built it."""
    if PEOPLE_TABLE not in table_names(con):
        raise ValueError(f"the warehouse has no {PEOPLE_TABLE} table: run `placewise phm` before a cohort")
    return con.table(PEOPLE_TABLE)


def reference_date(con: ibis.BaseBackend) -> date:
    """The reference date the PHM tables (and so every cohort) describe."""
    return _phm_people(con).reference_date.max().to_pyarrow().as_py()


def _attributes(rule: Rule, people: ir.Table) -> ir.BooleanValue:
    """The rule's conditions on a person's own row (attributes, segment, eFI band, Cambridge score)."""
    keep = ibis.literal(True)
    if rule.ages is not None and rule.ages.min is not None:
        keep &= people.age >= rule.ages.min
    if rule.ages is not None and rule.ages.max is not None:
        keep &= people.age <= rule.ages.max
    for field, column in (("sexes", "sex"), ("places", "la_code"), ("practices", "practice_code"),
                          ("imd_quintiles", "imd_quintile"), ("ethnic_groups", "ethnic_group"),
                          ("segments", "segment"), ("efi_bands", "efi_band")):
        if getattr(rule, field):
            keep &= people[column].isin(getattr(rule, field))
    if rule.cms_at_least is not None:
        keep &= people.cms >= rule.cms_at_least
    return keep


def _events(rules: list[Rule]) -> list[tuple[str, Criterion]]:
    """Keys for every event criterion in the rules: ``r{rule}e{event}``, by rule position in the walk."""
    return [(f"r{i}e{j}", c) for i, r in enumerate(rules) for j, c in enumerate(r.events)]


def _compile(rule: Rule, index: dict[int, int], people: ir.Table, items: ir.Table, hits: ir.Table | None) -> ir.Table:
    """The people (``pid``) the rule selects."""
    out = people.filter(_attributes(rule, people)).select(PID)
    regs = items.filter(items.kind == "register")
    for reg in rule.registers:
        out = out.semi_join(regs.filter(regs.item == reg), PID)
    i = index[id(rule)]
    for j in range(len(rule.events)):
        if hits is not None:                         # None only when no rule has events
            out = out.semi_join(hits.filter(hits.key == f"r{i}e{j}"), PID)
    if rule.any_of:
        subs = [_compile(r, index, people, items, hits) for r in rule.any_of]
        out = out.semi_join(ibis.union(*subs) if len(subs) > 1 else subs[0], PID)
    for r in rule.none_of:
        out = out.anti_join(_compile(r, index, people, items, hits), PID)
    return out


@contextmanager
def members(con: ibis.BaseBackend, profile: Profile, cohort: Cohort) -> Iterator[ir.Table]:
    """The cohort's people at the PHM tables' reference date: ``pid``, one row each, to be read within the block (the
    people its coded-event criteria hold for are a temporary table, dropped when the block ends)."""
    check(cohort, profile)
    people = _phm_people(con)
    items = con.table(ITEMS_TABLE)
    rules = list(cohort.walk())
    keyed = _events(rules)
    with scratch(con) as temp:
        hits = temp("_cohort", holding(con, people, keyed, [reference_date(con)])) if keyed else None
        yield _compile(cohort, {id(r): i for i, r in enumerate(rules)}, people, items, hits)


def _age_band(age: ir.IntegerValue) -> ir.StringValue:
    """The label of the person's age band (:data:`AGE_BANDS`)."""
    return ibis.cases(*[(age >= lo, label) for lo, label in reversed(AGE_BANDS)], else_="unknown")


def counts(con: ibis.BaseBackend, profile: Profile, cohort: Cohort, by: str = "place",
           breakdown: str = "none") -> pa.Table:
    """People in the cohort and registered people, by geography and breakdown group.

    Columns ``geography_code, group, n, population``; ``by`` is one of :data:`GEOGRAPHIES` and
    ``breakdown`` one of :data:`BREAKDOWNS`.
    """
    if by not in GEOGRAPHIES or breakdown not in BREAKDOWNS:
        raise ValueError(f"unknown geography {by!r} or breakdown {breakdown!r}: geography one of "
                         f"{', '.join(GEOGRAPHIES)}; breakdown one of {', '.join(BREAKDOWNS)}")
    people = _phm_people(con)
    with members(con, profile, cohort) as inside:
        p = people.left_join(inside.mutate(_in=ibis.literal(1, "int64")), PID)
        if by == "pcn":
            pr = con.table("practices").select("practice_code", "pcn_code")
            p = p.left_join(pr, "practice_code")
        geo = {"ics": ibis.literal(profile.ics.code), "place": p.la_code,
               "pcn": p.pcn_code if by == "pcn" else None, "practice": p.practice_code}[by]
        group = {"none": ibis.literal("all"), "imd_quintile": p.imd_quintile, "ethnic_group": p.ethnic_group,
                 "sex": p.sex, "age_band": _age_band(p.age)}[breakdown]
        p = p.select(geography_code=ibis.coalesce(geo, "unknown"), group=group, _in=ibis.coalesce(p._in, 0))
        g = p.group_by(["geography_code", "group"]).aggregate(n=p._in.sum().cast("int64"),
                                                              population=p.count().cast("int64"))
        return g.order_by(["geography_code", "group"]).to_pyarrow()


def finest_counts(con: ibis.BaseBackend, profile: Profile, cohort: Cohort) -> pa.Table:
    """People in the cohort and registered people by Place, PCN, practice and every breakdown at once (columns
    ``la_code, pcn_code, practice_code``, the :data:`BREAKDOWNS` but ``none``, ``n, population``): the one table
    every published cohort count is cut from, so one disclosure decision covers them all."""
    people = _phm_people(con)
    with members(con, profile, cohort) as inside:
        p = people.left_join(inside.mutate(_in=ibis.literal(1, "int64")), PID)
        p = p.left_join(con.table("practices").select("practice_code", "pcn_code"), "practice_code")
        p = p.select(la_code=p.la_code, pcn_code=p.pcn_code, practice_code=p.practice_code,
                     imd_quintile=p.imd_quintile.cast("string"), ethnic_group=p.ethnic_group, sex=p.sex,
                     age_band=_age_band(p.age), _in=ibis.coalesce(p._in, 0))
        keys = [c for c in p.columns if c != "_in"]
        g = p.group_by(keys).aggregate(n=p._in.sum().cast("int64"), population=p.count().cast("int64"))
        return g.to_pyarrow()


def dataset(con: ibis.BaseBackend, profile: Profile, cohort: Cohort, who: str, destination: str) -> pa.Table:
    """The cohort as a pseudonymised person-level dataset (:data:`DATASET_COLUMNS`), ordered by pseudonym, audited.

    The audit trail is checked first (a changed or truncated trail refuses the pull) and the pull is
    appended to it once the rows are read, with ``who`` asked for it and the ``destination`` they named.
    """
    if not who.strip():
        raise ValueError("a person-level dataset is audited: say who is pulling it")
    verify(con, DATASET_AUDIT)
    people = _phm_people(con)
    on = reference_date(con)
    with members(con, profile, cohort) as inside:
        data = people.semi_join(inside, PID).select(*DATASET_COLUMNS).order_by("person_id").to_pyarrow()
    append(con, DATASET_AUDIT, {"who": who, "cohort_id": cohort.id, "reference_date": on,
                                "definition": hashlib.sha256(cohort.model_dump_json().encode()).hexdigest()[:16],
                                "rows": data.num_rows, "destination": destination})
    return data
