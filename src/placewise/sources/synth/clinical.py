"""Primary-care records of one block of people: coded diagnoses, observations, checks and medication.

Rows are collected as arrays (person, day, code index, value), then sorted by person, date and code; each
row gets its own record identifier, as a GP system gives every record one, so two readings of one code on
one day are two records.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from placewise.codelists import codes
from placewise.sources.synth.activity import Shared
from placewise.sources.synth.config import CONDITIONS
from placewise.sources.synth.events import World, dates, labels
from placewise.sources.synth.population import DAYS_PER_YEAR, NEVER

TABLET_LISTS = ("antihypertensives", "anticoagulants")


class Rows:
    """Accumulates event rows as arrays: person, day, code (index into ``codes``), value and unit."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.units: list[str] = []
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []

    def pick(self, rng: np.random.Generator, codelist: str, n: int) -> np.ndarray:
        """``n`` codes drawn from a codelist, as indices into ``codes``."""
        pool = np.array([self.index(c) for c in codes(codelist)])
        return pool[rng.integers(0, len(pool), n)]

    def first(self, codelist: str, n: int) -> np.ndarray:
        """The codelist's first (usual) code, ``n`` times, as indices into ``codes``."""
        return np.full(n, self.index(codes(codelist)[0]))

    def index(self, code: str) -> int:
        """Index of ``code`` in the registry, adding it if new."""
        if code not in self.codes:
            self.codes.append(code)
        return self.codes.index(code)

    def add(self, who: np.ndarray, day: np.ndarray, code: np.ndarray, value: np.ndarray | None = None,
            unit: str | None = None) -> None:
        """Add rows; ``value`` may be absent."""
        v = np.full(len(who), np.nan) if value is None else np.asarray(value, dtype=float)
        if unit is not None and unit not in self.units:
            self.units.append(unit)
        self.parts.append((who, day, code, v, self.units.index(unit) if unit else -1))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows sorted by person, day and code text (a stable sort: same-day repeats keep their order)."""
        who = np.concatenate([p[0] for p in self.parts]).astype(np.int64)
        day = np.concatenate([p[1] for p in self.parts]).astype(np.int64)
        code = np.concatenate([p[2] for p in self.parts]).astype(np.int64)
        value = np.concatenate([p[3] for p in self.parts])
        unit = np.concatenate([np.full(len(p[0]), p[4]) for p in self.parts])
        rank = np.argsort(np.argsort(np.array(self.codes, dtype=str)))
        order = np.lexsort((rank[code] if len(code) else code, day, who))
        return who[order], day[order], code[order], value[order], unit[order]


def _at_practice(w: World, share: float, who: np.ndarray) -> np.ndarray:
    """A care-process share shifted on the logit scale by the quality of each person's practice."""
    logit = np.log(share / (1 - share)) if 0 < share < 1 else (np.inf if share >= 1 else -np.inf)
    return 1 / (1 + np.exp(-(logit + w.prac.quality[w.people.practice[who]])))


def _spread(rng: np.random.Generator, who: np.ndarray, a: np.ndarray, b: np.ndarray,
            per_year: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Events at a constant rate between days ``a`` and ``b`` (inclusive) for each person."""
    span = np.maximum(b - a + 1, 0)
    count = rng.poisson(np.asarray(per_year) * span / DAYS_PER_YEAR)
    k = np.repeat(np.arange(len(who)), count)
    return who[k], a[k] + (rng.random(len(k)) * span[k]).astype(np.int64)


def _periodic(who: np.ndarray, first: np.ndarray, lo: int, hi: np.ndarray, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Repeat issues every ``every`` days from ``first``, kept between ``lo`` and ``hi`` (inclusive)."""
    k0 = np.maximum(np.ceil((lo - first) / every), 0).astype(np.int64)
    k1 = np.floor((hi - first) / every).astype(np.int64)
    count = np.maximum(k1 - k0 + 1, 0)
    rep = np.repeat(np.arange(len(who)), count)
    step = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
    return who[rep], first[rep] + (k0[rep] + step) * every


def primary_care(w: World, rng: np.random.Generator, block: slice, shared: Shared) -> tuple[pa.Table, pa.Table]:
    """Clinical events and medications of the people in ``block``."""
    p, c, ws = w.people, w.cfg.clinical, w.window.start
    everyone = np.arange(block.start, block.stop)
    lo = np.maximum(p.start[block], ws)
    ev, meds = Rows(), Rows()
    for name in CONDITIONS:
        d = p.diagnosed[name][block]
        has = d <= p.ref[block]
        ev.add(everyone[has], d[has], ev.pick(rng, name, int(has.sum())))
    _blood_pressure(w, rng, everyone, lo, ev, meds)
    _long_term_care(w, rng, everyone, lo, ev, meds)
    adult = p.age_at(p.ref[block], block) >= 18
    who, day = _spread(rng, everyone[adult], lo[adult], p.ref[block][adult], 1 / c.bmi_every_years)
    obese = p.diagnosed["obesity"][who] <= day
    bmi = np.where(obese, np.maximum(rng.normal(c.obese_bmi.mean, c.obese_bmi.sd, len(who)), 30.0),
                   np.clip(rng.normal(c.other_bmi.mean, c.other_bmi.sd, len(who)), 16.0, 45.0))
    ev.add(who, day, ev.pick(rng, "bmi", len(who)), np.round(bmi, 1), "kg/m2")
    old = p.age_at(p.ref[block], block) >= c.frailty_min_age
    who, day = _spread(rng, everyone[old], np.maximum(lo[old], p.birth[block][old] + int(c.frailty_min_age * DAYS_PER_YEAR)),
                       p.ref[block][old], c.frailty_checks_per_year)
    score = (c.frailty_base + c.frailty_per_condition * w.n_conditions[who]
             + c.frailty_per_year_over_min * (p.age_at(day, who) - c.frailty_min_age) + rng.normal(0, 0.03, len(who)))
    score = np.round(np.clip(score, 0, 1), 2)
    ev.add(who, day, ev.first("frailty_score", len(who)), score, "score")
    category = np.digitize(score, c.frailty_thresholds)  # 0 fit, then mild, moderate, severe frailty
    frail = category > 0
    grades = np.array([ev.index(x) for x in codes("frailty_score")])
    ev.add(who[frail], day[frail], grades[category[frail]])
    return _events_table(w, ev, shared), _medications_table(w, meds, shared)


def _blood_pressure(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray,
                    ev: Rows, meds: Rows) -> None:
    """Readings that fall once treatment starts; antihypertensive issues for the treated."""
    p, c = w.people, w.cfg.clinical
    ref = p.ref[everyone]
    dx = p.diagnosed["hypertension"][everyone]
    true = p.onset["hypertension"][everyone] <= ref
    treated = (dx <= ref) & (rng.random(len(everyone)) < _at_practice(w, c.treated_share, everyone))
    treat_start = np.where(treated, dx + rng.integers(7, 60, len(everyone)), NEVER)
    mu_s = np.where(true, rng.normal(c.untreated_systolic.mean, c.untreated_systolic.sd, len(everyone)),
                    rng.normal(c.normal_systolic.mean, c.normal_systolic.sd, len(everyone)))
    mu_d = np.where(true, rng.normal(c.untreated_diastolic.mean, c.untreated_diastolic.sd, len(everyone)),
                    rng.normal(c.normal_diastolic.mean, c.normal_diastolic.sd, len(everyone)))
    eff_s = np.maximum(rng.normal(c.treatment_effect_systolic.mean, c.treatment_effect_systolic.sd, len(everyone)), 0)
    eff_d = np.maximum(rng.normal(c.treatment_effect_diastolic.mean, c.treatment_effect_diastolic.sd, len(everyone)), 0)
    adult = p.age_at(ref, everyone) >= c.normal_bp_min_age
    rate = np.where(dx <= ref, c.bp_readings_per_year,
                    np.where(true, c.undiagnosed_bp_readings_per_year, np.where(adult, c.normal_bp_readings_per_year, 0.0)))
    k, day = _spread(rng, np.arange(len(everyone)), np.where(dx <= ref, np.maximum(lo, dx), lo), ref, rate)
    on = day >= treat_start[k]
    noise = rng.standard_normal((2, len(k)))
    sys = np.round(mu_s[k] - on * eff_s[k] + c.reading_noise_sd * noise[0])
    dia = np.round(mu_d[k] - on * eff_d[k] + c.reading_noise_sd * 0.6 * (0.5 * noise[0] + 0.87 * noise[1]))
    ev.add(everyone[k], day, ev.first("systolic_bp", len(k)), sys, "mmHg")
    ev.add(everyone[k], day, ev.first("diastolic_bp", len(k)), np.minimum(dia, sys - 10), "mmHg")
    product = meds.pick(rng, "antihypertensives", len(everyone))
    who, day = _periodic(np.flatnonzero(treated), treat_start[treated], w.window.start, ref[treated], c.issue_interval_days)
    meds.add(everyone[who], day, product[who])


def _long_term_care(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray,
                    ev: Rows, meds: Rows) -> None:
    """Anticoagulation in AF, asthma and COPD care, HbA1c, and LD and SMI annual health checks."""
    p, c, ws = w.people, w.cfg.clinical, w.window.start
    ref, n = p.ref[everyone], len(everyone)
    af = p.diagnosed["atrial_fibrillation"][everyone]
    anticoag = (af <= ref) & (rng.random(n) < _at_practice(w, c.anticoagulated_share, everyone))
    start = af + rng.integers(7, 30, n)
    product = meds.pick(rng, "anticoagulants", n)
    who, day = _periodic(np.flatnonzero(anticoag), start[anticoag], ws, ref[anticoag], c.issue_interval_days)
    meds.add(everyone[who], day, product[who])
    asthma = p.diagnosed["asthma"][everyone]
    has = asthma <= ref
    rate = np.where(rng.random(n) < c.saba_overuser_share, c.saba_overuser_issues_per_year, c.saba_issues_per_year)
    idx = np.flatnonzero(has)
    k, day = _spread(rng, idx, np.maximum(lo, asthma)[idx], ref[idx], rate[idx])
    meds.add(everyone[k], day, meds.pick(rng, "saba_relievers", len(k)))
    ics = has & (rng.random(n) < c.ics_share_asthma)
    product = meds.pick(rng, "inhaled_corticosteroids", n)
    who, day = _periodic(np.flatnonzero(ics), asthma[ics] + 14, ws, ref[ics], c.issue_interval_days)
    meds.add(everyone[who], day, product[who])
    for cond, share in (("asthma", c.spirometry_share_asthma), ("copd", c.spirometry_share_copd)):
        dx = p.diagnosed[cond][everyone]
        done = (dx <= ref) & (rng.random(n) < _at_practice(w, share, everyone))
        day = np.minimum(dx + rng.integers(0, 90, n), ref)
        ev.add(everyone[done], day[done], ev.pick(rng, "spirometry", int(done.sum())))
    dm = p.diagnosed["type2_diabetes"][everyone]
    idx = np.flatnonzero(dm <= ref)
    k, day = _spread(rng, idx, np.maximum(lo, dm)[idx], ref[idx], c.hba1c_per_year)
    ev.add(everyone[k], day, ev.pick(rng, "hba1c", len(k)),
           np.round(np.clip(rng.normal(c.hba1c.mean, c.hba1c.sd, len(k)), 30, 150)), "mmol/mol")
    for cond, share, check, min_age in (("learning_disability", c.ld_health_check_share, "ld_health_check", 14),
                                         ("smi", c.smi_health_check_share, "smi_health_check", 18)):
        _annual_checks(w, rng, everyone, lo, cond, share, check, min_age, ev)


def _annual_checks(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, cond: str,
                   share: float, check: str, min_age: float, ev: Rows) -> None:
    """An annual health check in each 12-month period ending on the end date, done for ``share`` of the eligible."""
    p, end = w.people, w.window.end
    years = round((end - w.window.start + 1) / DAYS_PER_YEAR)
    period_end = end - 365 * np.arange(years)
    day = period_end[None, :] - rng.integers(0, 365, (len(everyone), years))
    who = np.broadcast_to(everyone[:, None], day.shape)
    ok = ((p.diagnosed[cond][who] <= day) & (day <= p.ref[who]) & (day >= lo[:, None])
          & (day - p.birth[who] >= min_age * DAYS_PER_YEAR) & (rng.random(day.shape) < _at_practice(w, share, who)))
    ev.add(who[ok], day[ok], ev.pick(rng, check, int(ok.sum())))


def _events_table(w: World, ev: Rows, shared: Shared) -> pa.Table:
    """The clinical events rows as the canonical table, each with its record identifier."""
    who, day, code, value, unit = ev.arrays()
    units = pa.DictionaryArray.from_arrays(pa.array(unit.astype(np.int32), mask=unit < 0), pa.array(ev.units, pa.string()))
    return pa.table({
        "event_id": shared.ids("EV", len(who)), "nhs_number": w.nhs.take(who), "event_date": dates(day), "snomed_code": labels(code, ev.codes),
        "value": pa.array(value, pa.float64(), mask=np.isnan(value)),
        "unit": units.cast(pa.string()),
    })


def _medications_table(w: World, meds: Rows, shared: Shared) -> pa.Table:
    """The medication issues as the canonical table; tablets by the interval, inhalers one at a time."""
    who, day, code, _, _ = meds.arrays()
    tablets = {cd for name in TABLET_LISTS for cd in codes(name)}
    per_code = np.array([float(w.cfg.clinical.tablets_per_issue) if c in tablets else 1.0 for c in meds.codes])
    return pa.table({
        "issue_id": shared.ids("MD", len(who)), "nhs_number": w.nhs.take(who), "issue_date": dates(day), "dmd_code": labels(code, meds.codes),
        "quantity": pa.array(per_code[code], pa.float64()),
    })
