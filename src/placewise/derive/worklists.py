"""Case-finding worklists compiled from the profile's ``worklists.yaml`` over the PHM tables.

Each rule kind is compiled by one function registered for its class; each gives ``pid, reasons,
evidence, evidence_date`` (what fired, the values behind it and their dates). :func:`run` adds the
practice, date last seen and caveats, stores the rows with a content hash, the rule's hash and the
risk model's version, and reuses the stored run when nothing changed, so a re-run on the same data is
identical and not duplicated; :func:`diff` shows what changed since the run before.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, UTC
from functools import singledispatch

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from placewise.canonical import PERSON_KEY
from placewise.derive.people import PID
from placewise.derive.records import coded, codes, months_back
from placewise.derive.scores import CHA2DS2_VASC_REGISTER_POINTS, cha2ds2_vasc_age_sex_points
from placewise.derive.segments import ITEMS_TABLE, PEOPLE_TABLE
from placewise.profile.worklists import (
    AfNotAnticoagulated, DiabetesAlerts, HealthCheckDue, HighRiskGap, HypertensionNotToTarget, RelieverOveruse,
    SevereFrailtyFall, UndiagnosedHypertension, Worklist, Worklists)
from placewise.warehouse import table_names
from placewise.warehouse.derived import scratch
from placewise.warehouse.engines import engine_for

RUNS_TABLE = "worklist_runs"
ROWS_TABLE = "worklist_rows"
RISK_TABLE = "phm_risk"
ROW_COLUMNS = ["list_id", "practice_code", PERSON_KEY, "reasons", "evidence", "evidence_date", "last_seen", "caveats"]


@dataclass
class Context:
    """What every rule reads: the connection, the PHM tables, the reference date and lists already built."""

    con: ibis.BaseBackend
    people: ir.Table
    items: ir.Table
    on: date
    built: dict[str, ir.Table]


def _text(v: ir.Value) -> ir.StringValue:
    """A value as text for the evidence column: numbers (not negative) to one decimal place, alike on every engine."""
    if not v.type().is_numeric():
        return v.cast("string")
    tenths = (v * 10).round().cast("int64")
    return (tenths // 10).cast("string") + "." + (tenths % 10).cast("string")


def _registered(ctx: Context, register: str) -> ir.Table:
    """People on a register at the reference date: ``pid``."""
    i = ctx.items
    return i.filter((i.kind == "register") & (i.item == register)).select(PID)


def _daily(ctx: Context, names: list[str], lo: date) -> ir.Table:
    """Each person's values from the codelists by day in the window (lowest of the day): ``pid, d, v``."""
    r = coded(ctx.con, ctx.people, "clinical_events", names)
    r = r.filter(r.value.notnull() & (r.d >= lo) & (r.d <= ctx.on))
    return r.group_by([PID, "d"]).aggregate(v=r.value.min())


def _last_two(daily: ir.Table) -> ir.Table:
    """The latest daily value and the one before it: ``pid, d, v, d0, v0`` (the earlier pair may be null)."""
    w = ibis.window(group_by=daily[PID], order_by=daily.d.desc())
    ranked = daily.mutate(_r=ibis.row_number().over(w))
    last = ranked.filter(ranked._r == 0).select(PID, "d", "v")
    prev = ranked.filter(ranked._r == 1).select(PID, d0="d", v0="v")
    return last.left_join(prev, PID).select(PID, "d", "v", "d0", "v0")


def _bp(ctx: Context, systolic: list[str], diastolic: list[str], months: int) -> ir.Table:
    """The latest day with both a systolic and a diastolic reading in the window: ``pid, d, sys, dia``."""
    lo = months_back(ctx.on, months)
    s = _daily(ctx, systolic, lo).rename(sys="v")
    di = _daily(ctx, diastolic, lo).rename(dia="v")
    pairs = s.join(di, [PID, "d"]).select(PID, "d", "sys", "dia")
    return pairs.group_by(PID).aggregate(sys=pairs.sys.argmax(pairs.d), dia=pairs.dia.argmax(pairs.d), d=pairs.d.max())


def _bp_text(t: ir.Table) -> ir.StringValue:
    """A blood pressure reading as evidence: ``BP 152/94 mmHg on 2024-01-05``."""
    return "BP " + t.sys.round(0).cast("int64").cast("string") + "/" + t.dia.round(0).cast("int64").cast("string") \
        + " mmHg on " + t.d.cast("string")


@singledispatch
def rule(w: Worklist, ctx: Context) -> ir.Table:
    """The rows of a list: ``pid, reasons, evidence, evidence_date``."""
    raise TypeError(f"no rule registered for worklist kind {type(w).__name__}")


@rule.register
def _diabetes(w: DiabetesAlerts, ctx: Context) -> ir.Table:
    """Latest HbA1c above the threshold, or risen by at least ``rise_at_least``, or none in the window."""
    on_reg = _registered(ctx, w.on_register)
    last = _last_two(_daily(ctx, w.hba1c, months_back(ctx.on, w.months)))
    j = on_reg.left_join(last, PID).drop(f"{PID}_right")
    high, rising, none = j.v > w.above, (j.v - j.v0) >= w.rise_at_least, j.v.isnull()
    j = j.filter(high | rising | none)
    reasons = ibis.cases((none, f"no HbA1c in {w.months} months"),
                         (high & rising, f"HbA1c above {w.above:g} and rising"),
                         (high, f"HbA1c above {w.above:g} mmol/mol"), else_=f"HbA1c rising by {w.rise_at_least:g} or more")
    evidence = ibis.cases((none, "no HbA1c recorded"),
                          (j.v0.isnull(), "HbA1c " + _text(j.v) + " mmol/mol on " + _text(j.d)),
                          else_="HbA1c " + _text(j.v) + " mmol/mol on " + _text(j.d) + "; previous " + _text(j.v0)
                          + " on " + _text(j.d0))
    return j.select(PID, reasons=reasons, evidence=evidence, evidence_date=j.d)


@rule.register
def _undiagnosed(w: UndiagnosedHypertension, ctx: Context) -> ir.Table:
    """Not on the register, latest same-day blood pressure at or above the thresholds (either)."""
    bp = _bp(ctx, w.systolic, w.diastolic, w.months)
    bp = bp.anti_join(_registered(ctx, w.on_register), PID)
    bp = bp.filter((bp.sys >= w.systolic_at_least) | (bp.dia >= w.diastolic_at_least))
    return bp.select(PID, reasons=ibis.literal(f"blood pressure {w.systolic_at_least:g}/{w.diastolic_at_least:g} or "
                                               "more without a hypertension diagnosis"),
                     evidence=_bp_text(bp), evidence_date=bp.d)


@rule.register
def _not_to_target(w: HypertensionNotToTarget, ctx: Context) -> ir.Table:
    """On the register, latest same-day blood pressure above the target for the person's age."""
    bp = _bp(ctx, w.systolic, w.diastolic, w.months).semi_join(_registered(ctx, w.on_register), PID)
    j = bp.join(ctx.people.select(PID, "age"), PID)
    older = j.age >= w.older_from_age
    ts = ibis.ifelse(older, w.older[0], w.under[0])
    td = ibis.ifelse(older, w.older[1], w.under[1])
    j = j.filter((j.sys > ts) | (j.dia > td))
    reason = ibis.ifelse(older, f"blood pressure above {w.older[0]:g}/{w.older[1]:g} (aged {w.older_from_age} or over)",
                         f"blood pressure above {w.under[0]:g}/{w.under[1]:g} (under {w.older_from_age})")
    return j.select(PID, reasons=reason, evidence=_bp_text(j), evidence_date=j.d)


@rule.register
def _af(w: AfNotAnticoagulated, ctx: Context) -> ir.Table:
    """On the AF register, CHA2DS2-VASc at least the minimum, no anticoagulant issued in the window."""
    regs = [(r, CHA2DS2_VASC_REGISTER_POINTS[c], c) for c, rs in w.components.items() for r in rs]
    pts = ibis.memtable({"item": [r[0] for r in regs], "pts": [r[1] for r in regs], "component": [r[2] for r in regs]})
    i = ctx.items.filter(ctx.items.kind == "register").join(pts, "item")
    per = i.group_by([PID, "component"]).aggregate(pts=i.pts.max())
    cond = per.group_by(PID).aggregate(pts=per.pts.sum())
    j = ctx.people.select(PID, "age", "sex").semi_join(_registered(ctx, w.on_register), PID)
    j = j.left_join(cond, PID).drop(f"{PID}_right")
    j = j.mutate(score=ibis.coalesce(j.pts, 0) + cha2ds2_vasc_age_sex_points(j.age, j.sex))
    j = j.filter(j.score >= w.min_score)
    meds = coded(ctx.con, ctx.people, "medications", w.anticoagulants)
    meds = meds.filter((meds.d >= months_back(ctx.on, w.months)) & (meds.d <= ctx.on))
    j = j.anti_join(meds, PID)
    return j.select(PID, reasons=ibis.literal(f"CHA2DS2-VASc {w.min_score} or more, no anticoagulant in "
                                              f"{w.months} months"),
                    evidence="CHA2DS2-VASc " + j.score.cast("string"), evidence_date=ibis.null("date"))


@rule.register
def _health_check(w: HealthCheckDue, ctx: Context) -> ir.Table:
    """On the register, of the minimum age, no health check in the window; shows the last check if any."""
    p = ctx.people.select(PID, "age").semi_join(_registered(ctx, w.on_register), PID)
    p = p.filter(p.age >= w.min_age)
    checks = coded(ctx.con, ctx.people, "clinical_events", w.check)
    last = checks.filter(checks.d <= ctx.on).group_by(PID).aggregate(d=checks.d.max())
    j = p.left_join(last, PID).drop(f"{PID}_right")
    j = j.filter(j.d.isnull() | (j.d < months_back(ctx.on, w.months)))
    return j.select(PID, reasons=ibis.literal(f"no health check in {w.months} months"),
                    evidence=ibis.ifelse(j.d.isnull(), "no health check recorded", "last check on " + _text(j.d)),
                    evidence_date=j.d)


@rule.register
def _reliever(w: RelieverOveruse, ctx: Context) -> ir.Table:
    """On the asthma register with at least ``at_least`` reliever issues in the window."""
    m = coded(ctx.con, ctx.people, "medications", w.relievers)
    m = m.filter((m.d >= months_back(ctx.on, w.months)) & (m.d <= ctx.on)).semi_join(
        _registered(ctx, w.on_register), PID)
    g = m.group_by(PID).aggregate(n=m.count(), d=m.d.max())
    g = g.filter(g.n >= w.at_least)
    return g.select(PID, reasons=ibis.literal(f"{w.at_least} or more reliever issues in {w.months} months"),
                    evidence=g.n.cast("string") + " reliever issues, latest " + _text(g.d), evidence_date=g.d)


@rule.register
def _frailty_fall(w: SevereFrailtyFall, ctx: Context) -> ir.Table:
    """Severe eFI band, a fall coded or a falls admission in the window, and no care plan in the window."""
    lo = months_back(ctx.on, w.months)
    severe = ctx.people.filter(ctx.people.efi_band == "severe").select(PID)
    falls = coded(ctx.con, ctx.people, "clinical_events", w.falls).select(PID, "d")
    if w.falls_icd10:
        falls = falls.union(_falls_admissions(ctx, w.falls_icd10))
    falls = falls.filter((falls.d >= lo) & (falls.d <= ctx.on)).semi_join(severe, PID)
    g = falls.group_by(PID).aggregate(d=falls.d.max())
    if w.care_plan:
        plans = coded(ctx.con, ctx.people, "clinical_events", w.care_plan)
        g = g.anti_join(plans.filter((plans.d >= lo) & (plans.d <= ctx.on)), PID)
    return g.select(PID, reasons=ibis.literal(f"severe frailty and a fall in {w.months} months"),
                    evidence="latest fall " + _text(g.d), evidence_date=g.d)


def _falls_admissions(ctx: Context, icd10: list[str]) -> ir.Table:
    """Admissions with a falls code as the primary or any secondary diagnosis: ``pid, d``."""
    spells, dx = ctx.con.table("inpatient_spells"), ctx.con.table("inpatient_diagnoses")
    wanted = codes(icd10)
    ids = spells.filter(spells.primary_diagnosis.isin(wanted)).select("spell_id").union(
        dx.filter(dx.icd10_code.isin(wanted)).select("spell_id"), distinct=True)
    sp = spells.semi_join(ids, "spell_id").join(ctx.people.select(PERSON_KEY, PID), PERSON_KEY)
    return sp.select(PID, d=sp.admission_date.cast("date"))


@rule.register
def _high_risk(w: HighRiskGap, ctx: Context) -> ir.Table:
    """Top band of admission risk and on at least one of the named lists."""
    if RISK_TABLE not in table_names(ctx.con):
        raise ValueError(f"worklist {w.id} needs admission risk scores: run 'placewise risk score' first")
    risk = ctx.con.table(RISK_TABLE)
    risk = risk.filter(risk.high_risk & (risk.reference_date == ctx.on))
    risk = risk.join(ctx.people.select(PERSON_KEY, PID), PERSON_KEY)
    on_lists = ibis.union(*[ctx.built[i].select(PID, lst=ibis.literal(i)) for i in w.lists])
    g = on_lists.group_by(PID).aggregate(**{f"on_{i}": (on_lists.lst == i).any() for i in w.lists})
    named = ibis.literal("")
    for i in w.lists:                                    # in the profile's order, so re-runs give the same text
        named = named + ibis.ifelse(g[f"on_{i}"], f"{i}; ", "")
    j = risk.join(g, PID)
    return j.select(PID, reasons=ibis.literal("top 5% admission risk with a gap"),
                    evidence="risk " + _text(j.risk * 100) + "%; on " + named.re_replace("; $", ""),
                    evidence_date=ibis.null("date"))


def _last_seen(ctx: Context, pids: ir.Table) -> ir.Table:
    """Each listed person's latest attended GP appointment or coded event up to the date: ``pid, last_seen``."""
    ev = ctx.con.table("clinical_events").select(PERSON_KEY, d=ibis._.event_date.cast("date"))
    ap = ctx.con.table("gp_appointments")
    ap = ap.filter(ap.status == "attended").select(PERSON_KEY, d=ap.appointment_date.cast("date"))
    u = ev.union(ap)
    u = u.filter(u.d <= ctx.on).join(ctx.people.select(PERSON_KEY, PID).semi_join(pids, PID), PERSON_KEY)
    return u.group_by(PID).aggregate(last_seen=u.d.max())


def _recently_registered(ctx: Context) -> ir.Table:
    """People whose registration with their current practice began less than 12 months before the date: ``pid``."""
    r = ctx.con.table("registrations")
    j = r.join(ctx.people.select(PERSON_KEY, PID, "practice_code"), [PERSON_KEY, "practice_code"])
    j = j.filter(j.start_date.cast("date") <= ctx.on)
    g = j.group_by(PID).aggregate(start=j.start_date.cast("date").max())
    return g.filter(g.start >= months_back(ctx.on, 12)).select(PID)


NEW_HERE = "registered with this practice less than 12 months: earlier records may be held elsewhere"


def _assemble(ctx: Context, w: Worklist, t: ir.Table, seen: ir.Table, new: ir.Table) -> ir.Table:
    """A list's rows with practice, pseudonym, date last seen and caveats, in :data:`ROW_COLUMNS`."""
    j = t.join(ctx.people.select(PID, PERSON_KEY, "practice_code"), PID)
    j = j.left_join(seen, PID).drop(f"{PID}_right")
    j = j.left_join(new.mutate(_new=ibis.literal(True)), PID).drop(f"{PID}_right")
    fixed = " | ".join(w.caveats)
    caveat = ibis.ifelse(j._new.notnull(), ibis.literal(NEW_HERE + (" | " + fixed if fixed else "")), fixed)
    return j.select(list_id=ibis.literal(w.id), practice_code=j.practice_code, **{PERSON_KEY: j[PERSON_KEY]},
                    reasons=j.reasons, evidence=j.evidence, evidence_date=j.evidence_date.cast("date"),
                    last_seen=j.last_seen, caveats=caveat)


def build_lists(con: ibis.BaseBackend, lists: Worklists, wanted: list[str] | None = None) -> dict[str, pa.Table]:
    """Every list's rows (or only ``wanted`` and the lists they depend on) over the PHM tables, sorted."""
    people = con.table(PEOPLE_TABLE)
    on = people.reference_date.max().to_pyarrow().as_py()
    ctx = Context(con, people, con.table(ITEMS_TABLE), on, {})
    needed = set(wanted or [w.id for w in lists.worklists])
    for w in lists.worklists:
        if isinstance(w, HighRiskGap) and w.id in needed:
            needed |= set(w.lists)
    out = {}
    with scratch(con) as temp:
        for w in lists.worklists:
            if w.id in needed:
                ctx.built[w.id] = temp(f"_wl_{w.id}", rule(w, ctx))
        pids = ibis.union(*[t.select(PID) for t in ctx.built.values()], distinct=True)
        seen = temp("_wl_seen", _last_seen(ctx, pids))
        new = _recently_registered(ctx)
        for w in lists.worklists:
            if w.id in ctx.built and (wanted is None or w.id in wanted):
                rows = _assemble(ctx, w, ctx.built[w.id], seen, new).to_pyarrow()
                out[w.id] = rows.sort_by([("practice_code", "ascending"), (PERSON_KEY, "ascending")])
    return out


def rule_hash(w: Worklist) -> str:
    """A short hash of the list's declared rule, so a changed threshold gives a new version."""
    return hashlib.sha256(json.dumps(w.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def content_hash(rows: pa.Table) -> str:
    """A short hash of a list's rows (sorted), the same for the same rows on any engine."""
    h = hashlib.sha256()
    for r in rows.select(ROW_COLUMNS).to_pylist():
        h.update(json.dumps(r, default=str, sort_keys=True).encode())
    return h.hexdigest()[:16]


RUN_SCHEMA = ibis.schema({"run_id": "string", "list_id": "string", "reference_date": "date",
                          "created_at": "timestamp", "list_version": "string", "rule_hash": "string",
                          "model_version": "string", "content_hash": "string", "rows": "int64"})
ROW_SCHEMA = ibis.schema({"run_id": "string", "list_id": "string", "practice_code": "string", PERSON_KEY: "string",
                          "reasons": "string", "evidence": "string", "evidence_date": "date", "last_seen": "date",
                          "caveats": "string"})


@dataclass(frozen=True)
class Run:
    """One stored run of a list: its id, version hashes, size and whether this call stored it anew."""

    run_id: str
    list_id: str
    reference_date: date
    rule_hash: str
    model_version: str
    content_hash: str
    rows: int
    new: bool


def _model_version(con: ibis.BaseBackend, w: Worklist) -> str:
    """The risk model version a list depends on, or empty for lists that do not use the model."""
    if not isinstance(w, HighRiskGap):
        return ""
    return con.table(RISK_TABLE).model_version.max().to_pyarrow().as_py() or ""


def _latest_run(con: ibis.BaseBackend, list_id: str, before: str | None = None) -> dict | None:
    """The newest stored run of a list (or the newest before run ``before``); none before the first store."""
    if RUNS_TABLE not in table_names(con):
        return None
    runs = con.table(RUNS_TABLE).filter(ibis._.list_id == list_id)
    if before is not None:
        cut = runs.filter(runs.run_id == before).created_at.max()
        runs = runs.filter(runs.created_at < cut)
    got = runs.order_by(ibis.desc("created_at")).limit(1).to_pyarrow().to_pylist()
    return got[0] if got else None


def _store(con: ibis.BaseBackend, rows: list[pa.Table], runs: list[dict]) -> None:
    """Write the new runs through the engine, each write all or nothing: their rows first, then their records, which
    make them runs (rows are read only through a record, so a store stopped between the two leaves no run)."""
    if not runs:
        return
    engine = engine_for(con)
    new_ids = [r["run_id"] for r in runs]
    engine.replace_rows(ROWS_TABLE, pa.concat_tables(rows), "run_id", new_ids)
    engine.replace_rows(RUNS_TABLE, pa.Table.from_pylist(runs, schema=RUN_SCHEMA.to_pyarrow()), "run_id", new_ids)


def run(con: ibis.BaseBackend, lists: Worklists, wanted: list[str] | None = None) -> dict[str, Run]:
    """Build lists and store each run, unless the newest stored run has the same rows, rule and model version."""
    out = {}
    new_rows: list[pa.Table] = []
    new_runs: list[dict] = []
    on = con.table(PEOPLE_TABLE).reference_date.max().to_pyarrow().as_py()
    for list_id, rows in build_lists(con, lists, wanted).items():
        w = lists.get(list_id)
        rh, mv, ch = rule_hash(w), _model_version(con, w), content_hash(rows)
        last = _latest_run(con, list_id)
        if last and (last["rule_hash"], last["model_version"], last["content_hash"], last["reference_date"]) == \
                (rh, mv, ch, on):
            out[list_id] = Run(last["run_id"], list_id, on, rh, mv, ch, last["rows"], new=False)
            continue
        now = datetime.now(UTC).replace(tzinfo=None)
        run_id = f"{list_id}-{now:%Y%m%dT%H%M%S%f}-{ch[:8]}"
        new_rows.append(rows.append_column("run_id", pa.array([run_id] * rows.num_rows, pa.string()))
                        .select(list(ROW_SCHEMA.names)).cast(ROW_SCHEMA.to_pyarrow()))
        new_runs.append({"run_id": run_id, "list_id": list_id, "reference_date": on, "created_at": now,
                         "list_version": w.version, "rule_hash": rh, "model_version": mv, "content_hash": ch,
                         "rows": rows.num_rows})
        out[list_id] = Run(run_id, list_id, on, rh, mv, ch, rows.num_rows, new=True)
    _store(con, new_rows, new_runs)
    return out


def rows_of(con: ibis.BaseBackend, run_id: str, practice: str | None = None) -> pa.Table:
    """The stored rows of a run (for one practice if given), sorted by pseudonym."""
    t = con.table(ROWS_TABLE).filter(ibis._.run_id == run_id)
    if practice is not None:
        t = t.filter(t.practice_code == practice)
    return t.order_by(PERSON_KEY).to_pyarrow()


def diff(con: ibis.BaseBackend, run_id: str, practice: str | None = None) -> tuple[set[str], set[str]]:
    """Pseudonyms added and removed since the run of the same list before this one (all, for a first run)."""
    list_id = con.table(RUNS_TABLE).filter(ibis._.run_id == run_id).list_id.max().to_pyarrow().as_py()
    now = set(rows_of(con, run_id, practice)[PERSON_KEY].to_pylist())
    prev = _latest_run(con, list_id, before=run_id)
    before = set(rows_of(con, prev["run_id"], practice)[PERSON_KEY].to_pylist()) if prev else set()
    return now - before, before - now



def export(rows: pa.Table, run: Run, list_title: str, path: str) -> None:
    """Write a practice's rows with the run's version columns to CSV, or to Excel for a ``.xlsx`` path."""
    meta = {"list": list_title, "list_run": run.run_id, "rule_hash": run.rule_hash, "model_version": run.model_version,
            "content_hash": run.content_hash, "reference_date": str(run.reference_date)}
    t = rows.drop_columns(["run_id"])
    for k, v in meta.items():
        t = t.append_column(k, pa.array([v] * t.num_rows, pa.string()))
    if path.endswith(".xlsx"):
        t.to_pandas().to_excel(path, index=False, sheet_name=run.list_id[:31])
    else:
        pacsv.write_csv(t, path)
