"""Primary-care records of one block of people: coded diagnoses, observations, checks and medication.

Codes come from the generator's own vocabulary (:mod:`placewise.sources.synth.vocabulary`), never from
Placewise's codelists. Rows are collected as arrays (person, day, code index, value), then sorted by person,
date and code; each row gets its own record identifier, as a GP system gives every record one, so two
readings of one code on one day are two records.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from placewise.sources.synth.activity import Shared
from placewise.sources.synth.config import CONDITIONS, AgeShares
from placewise.sources.synth.events import World, categorical, dates, labels, underlying_causes
from placewise.sources.synth.hospital_codes import Weighted
from placewise.sources.synth.population import CURRENT, DAYS_PER_YEAR, NEVER, rng_for
from placewise.sources.synth.truth import treatment_state
from placewise.sources.synth.vocabulary import (
    ALCOHOL_INTAKE, ALCOHOL_LEVEL, ALCOHOL_PROBLEMS, BMI, CARE_PLAN, CHOLESTEROL, DIAGNOSIS, DIASTOLIC_OF, EFI_SCORE, EPILEPSY, FRAILTY_GRADES, FRAILTY_PROBLEMS, HBA1C, IRRITABLE_BOWEL,
    LD_HEALTH_CHECK, MEDICINES, ONLY_NON_DIAGNOSTIC, OUTSIDE_CONDITION, PALLIATIVE_ENTRY, PALLIATIVE_REVIEW, RESOLVED, SMI_HEALTH_CHECK, SMOKING, SPIROMETRY,
    SYSTOLIC,
)

class Rows:
    """Accumulates event rows as arrays: person, day, code (index into ``codes``), value and unit."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.units: list[str] = []
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]] = []
        self.quantity: dict[str, float] = {}

    def pick(self, rng: np.random.Generator, weights: Weighted, n: int) -> np.ndarray:
        """``n`` codes drawn with the given weights, as indices into ``codes``."""
        k, names = categorical(rng, weights, n)
        return np.array([self.index(c) for c in names])[k] if n else np.zeros(0, np.int64)

    def index(self, code: str) -> int:
        """Index of ``code`` in the registry, adding it if new."""
        if code not in self.codes:
            self.codes.append(code)
        return self.codes.index(code)

    def add(self, who: np.ndarray, day: np.ndarray, code: np.ndarray | int, value: np.ndarray | None = None,
            unit: str | None = None) -> None:
        """Add rows; ``code`` may be one index for all; ``value`` may be absent."""
        code = np.broadcast_to(np.asarray(code, dtype=np.int64), (len(who),))
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


def _repeats(w: World, rng: np.random.Generator, meds: Rows, who: np.ndarray, start: np.ndarray, stop: np.ndarray,
             medicine: str) -> None:
    """Repeat issues of one product per person (chosen once) from ``start`` until ``stop``, a few days late at times."""
    m = MEDICINES[medicine]
    product = meds.pick(rng, m.products, len(who))
    k, day = _periodic(np.arange(len(who)), start, w.window.start, stop, m.interval_days)
    day = np.minimum(day + rng.integers(0, w.cfg.clinical.issue_delay_days + 1, len(k)), stop[k])
    meds.add(who[k], day, product[k])
    for code in m.products:
        meds.quantity[code] = m.quantity


def _until(p_resolved: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Last day of care for a condition: the day before it resolved, or the reference day."""
    return np.minimum(ref, p_resolved - 1)


def primary_care(w: World, rng: np.random.Generator, block: slice,
                 shared: Shared) -> tuple[pa.Table, pa.Table, dict[str, np.ndarray]]:
    """Clinical events and medications of the people in ``block``, and each one's true treatment state."""
    p, c, ws = w.people, w.cfg.clinical, w.window.start
    everyone = np.arange(block.start, block.stop)
    lo = np.maximum(p.start[block], ws)
    ev, meds = Rows(), Rows()
    _diagnoses(w, rng, everyone, ev)
    _blood_pressure(w, rng, everyone, lo, ev, meds)
    _long_term_care(w, rng, everyone, lo, ev, meds)
    adult = everyone[p.age_at(p.ref[block], block) >= 18]
    per_year = c.bmi_per_year * np.exp(c.bmi_per_condition * w.n_conditions[adult]
                                       + c.bmi_obese * (_usual_bmi(w, adult, p.ref[adult]) >= 30))
    who, day = _spread(rng, adult, lo[adult - block.start], p.ref[adult], per_year)
    ev.add(who, day, ev.index(BMI), _bmi(w, rng, who, day), "kg/m2")
    old = p.age_at(p.ref[block], block) >= c.frailty_min_age
    who, day = _spread(rng, everyone[old], np.maximum(lo[old], p.birth[block][old] + int(c.frailty_min_age * DAYS_PER_YEAR)),
                       p.ref[block][old], c.frailty_checks_per_year)
    score = (c.frailty_base + c.frailty_per_condition * w.n_conditions[who]
             + c.frailty_per_year_over_min * (p.age_at(day, who) - c.frailty_min_age) + rng.normal(0, 0.03, len(who)))
    score = np.round(np.clip(score, 0, 1), 2)
    ev.add(who, day, ev.index(EFI_SCORE), score, "score")
    category = np.digitize(score, c.frailty_thresholds)  # 0 fit, then mild, moderate, severe frailty
    frail = category > 0
    grades = np.array([ev.index(x) for x in FRAILTY_GRADES])
    ev.add(who[frail], day[frail], grades[category[frail] - 1])
    _problems_of_later_life(w, rng_for(w.seed, 15, block.start), everyone, lo, ev)
    _everyday_medicines(w, rng_for(w.seed, 16, block.start), everyone, lo, ev, meds)
    _bowel_medicines(w, rng_for(w.seed, 17, block.start), everyone, lo, ev, meds)
    _palliative_care(w, rng_for(w.seed, 13, block.start), everyone, lo, ev)
    who, day, code, _, _ = meds.arrays()
    state = treatment_state(w, everyone, who, day, np.array(meds.codes, dtype=object)[code])
    return _events_table(w, ev, shared), _medications_table(w, meds, (who, day, code), shared), state


def _problems_of_later_life(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray,
                            ev: Rows) -> None:
    """Falls, sensory loss, mobility and social problems accumulating with age, conditions and deprivation
    (:class:`placewise.sources.synth.config.FrailtyProblems`), each coded once; care plans for the frailest."""
    p, f, cp = w.people, w.cfg.clinical.frailty_problems, w.cfg.clinical.care_plan
    ref = p.ref[everyone]
    age = p.age_at(ref, everyone)
    old = np.flatnonzero(age >= f.min_age)
    who = everyone[old]
    first = np.maximum(lo[old], p.birth[who] + int(f.min_age * DAYS_PER_YEAR))
    log_rate = (f.log_rate + f.per_year * (age[old] - 65) + f.per_condition * w.n_conditions[who]
                + f.deprivation * p.dep[who] + f.sd * w.need[who])
    weights = np.array([weight for weight, _ in FRAILTY_PROBLEMS.values()])
    has = rng.random((len(who), len(weights))) < 1 - np.exp(-np.exp(log_rate)[:, None] * weights[None, :])
    has &= (first <= ref[old])[:, None]
    span = np.maximum(ref[old] - first + 1, 1)
    for j, (_, codes) in enumerate(FRAILTY_PROBLEMS.values()):
        k = np.flatnonzero(has[:, j])
        ev.add(who[k], first[k] + (rng.random(len(k)) * span[k]).astype(np.int64), ev.pick(rng, codes, len(k)))
    planned = np.flatnonzero((has.sum(axis=1) >= cp.min_problems) & (rng.random(len(who)) < cp.share))
    recent = np.maximum(first[planned], ref[old][planned] - int(cp.months * DAYS_PER_YEAR / 12))
    day = recent + (rng.random(len(planned)) * (ref[old][planned] - recent + 1)).astype(np.int64)
    ev.add(who[planned], day, ev.pick(rng, CARE_PLAN, len(planned)))


ILLNESS_KINDS = ("cancer", "organ_failure", "frailty", "other")
"""The kinds of illness people die of, for palliative care (the last catches every cause not listed)."""


def _dying_kind(w: World, everyone: np.ndarray) -> np.ndarray:
    """For each person of a block, the kind of illness of their underlying cause of death (an index into
    :data:`ILLNESS_KINDS`), or -1 for people who do not die."""
    who, cause = underlying_causes(w)
    prefixes = w.cfg.clinical.palliative.cause_kinds
    names, inverse = np.unique(cause, return_inverse=True)
    kind = np.array([next((ILLNESS_KINDS.index(k) for pre, k in prefixes.items() if c.startswith(pre)),
                          len(ILLNESS_KINDS) - 1) for c in names], dtype=np.int64)
    out = np.full(len(everyone), -1)
    here = (who >= everyone[0]) & (who <= everyone[-1]) if len(everyone) else np.zeros(len(who), bool)
    out[who[here] - everyone[0]] = kind[inverse[here]]
    return out


def _living_palliative_weight(w: World, who: np.ndarray) -> np.ndarray:
    """Relative chance that a living person is on palliative care: rising with age and with advanced illness."""
    p, c = w.people, w.cfg.clinical.palliative
    log_w = c.living_per_year * (p.age_at(p.ref[who], who) - 75)
    for cond, log_rr in c.living_conditions.items():
        log_w = log_w + log_rr * (p.diagnosed[cond][who] <= p.ref[who])
    return np.exp(log_w)


def _palliative_care(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, ev: Rows) -> None:
    """Palliative care records (:class:`placewise.sources.synth.config.Palliative`): people in what the generator
    knows to be their last months, and a share of the living chosen by age and advanced illness; a first record
    (register, framework, DS1500, referral…) then reviews until death or the end."""
    p, c = w.people, w.cfg.clinical.palliative
    ref, n = p.ref[everyone], len(everyone)
    kind = _dying_kind(w, everyone)
    shares = np.array([getattr(c.dying_share, k) for k in ILLNESS_KINDS])
    dying = (kind >= 0) & (rng.random(n) < shares[np.maximum(kind, 0)])
    lead = np.minimum(rng.exponential(c.lead_days, n), c.most_days).astype(np.int64)
    living_all = np.flatnonzero(p.status == CURRENT)
    scale = c.living_share * len(living_all) / _living_palliative_weight(w, living_all).sum()
    chance = np.where(p.status[everyone] == CURRENT, scale * _living_palliative_weight(w, everyone), 0.0)
    living = rng.random(n) < np.minimum(chance, 1.0)
    back = (rng.random(n) * c.living_months * DAYS_PER_YEAR / 12).astype(np.int64)
    first = np.where(dying, ref - lead, ref - back)
    on = np.flatnonzero(dying | living)
    seen = on[first[on] >= lo[on]]
    ev.add(everyone[seen], first[seen], ev.pick(rng, PALLIATIVE_ENTRY, len(seen)))
    who, day = _spread(rng, everyone[on], np.maximum(first[on], lo[on]), ref[on], c.reviews_per_year)
    ev.add(who, day, ev.pick(rng, PALLIATIVE_REVIEW, len(who)))


def _everyday_medicines(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, ev: Rows,
                        meds: Rows) -> None:
    """Antidepressants and anxiolytics in depression, analgesics in musculoskeletal conditions, lithium in severe
    mental illness; epilepsy coded and mostly treated (:class:`placewise.sources.synth.config.EverydayMedicines`)."""
    p, m = w.people, w.cfg.clinical.medicines
    ref, n = p.ref[everyone], len(everyone)
    u = rng.random((6, n))
    for cond, share, medicine, row in (("depression", m.antidepressant_share, "antidepressant", 0),
                                       ("depression", m.antidepressant_share * m.anxiolytic_share,
                                        "anxiolytic_hypnotic", 1),
                                       ("msk", m.analgesic_share, "analgesic", 2), ("smi", m.lithium_share, "lithium", 3)):
        dx, stop = p.diagnosed[cond][everyone], _until(p.resolved[cond][everyone], ref)
        on = np.flatnonzero((dx <= stop) & (u[row] < share))
        _repeats(w, rng, meds, everyone[on], np.maximum(dx[on] + rng.integers(7, 60, len(on)), lo[on]), stop[on],
                 medicine)
    epi = np.flatnonzero((u[4] < m.epilepsy_prevalence) & (lo <= ref))
    ev.add(everyone[epi], lo[epi] + (rng.random(len(epi)) * (ref[epi] - lo[epi] + 1)).astype(np.int64),
           ev.pick(rng, EPILEPSY, len(epi)))
    treated = epi[rng.random(len(epi)) < m.epilepsy_treated_share]
    _repeats(w, rng, meds, everyone[treated], lo[treated], ref[treated], "antiepileptic")
    risk = np.where(p.female[everyone], 0.6, 1.4) * (0.6 + 0.8 * p.dep[everyone])
    drinks = np.flatnonzero((p.age_at(ref, everyone) >= 18) & (u[5] < m.alcohol_problems_prevalence * risk) & (lo <= ref))
    ev.add(everyone[drinks], lo[drinks] + (rng.random(len(drinks)) * (ref[drinks] - lo[drinks] + 1)).astype(np.int64),
           ev.pick(rng, ALCOHOL_PROBLEMS, len(drinks)))


def _by_age_and_sex(w: World, everyone: np.ndarray, shares: AgeShares, female_ratio: float) -> np.ndarray:
    """Each person's chance from an age table, women ``female_ratio`` times men with the same average."""
    p = w.people
    age = p.age_at(p.ref[everyone], everyone)
    band = np.searchsorted(np.asarray(shares.ages), age, side="right") - 1
    share = np.where(band >= 0, np.asarray(shares.shares)[np.maximum(band, 0)], 0.0)
    return share * np.where(p.female[everyone], 2 * female_ratio, 2.0) / (1 + female_ratio)


def _spells(w: World, rng: np.random.Generator, meds: Rows, who: np.ndarray, first: np.ndarray, medicine: str) -> None:
    """Spells of repeat issues that began at some time up to the reference day (not before ``first``) and last
    ``repeat_years`` on average, so some began too lately, or ended too early, for four issues in the last year."""
    ref, b = w.people.ref[who], w.cfg.clinical.medicines.bowel
    start = np.maximum(ref - (rng.exponential(b.repeat_years, len(who)) * DAYS_PER_YEAR).astype(np.int64), first)
    stop = np.minimum(ref, start + (rng.exponential(b.repeat_years, len(who)) * DAYS_PER_YEAR).astype(np.int64))
    _repeats(w, rng, meds, who, start, stop, medicine)


def _occasional(w: World, rng: np.random.Generator, meds: Rows, who: np.ndarray, first: np.ndarray,
                medicine: str) -> None:
    """One to three issues in the two years to the reference day (none before ``first``): short courses."""
    ref = w.people.ref[who]
    n = rng.integers(1, 4, len(who))
    k = np.repeat(np.arange(len(who)), n)
    day = ref[k] - rng.integers(0, 2 * 365, len(k))
    keep = day >= first[k]
    meds.add(who[k][keep], day[keep], meds.pick(rng, MEDICINES[medicine].products, int(keep.sum())))


def _bowel_medicines(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, ev: Rows,
                     meds: Rows) -> None:
    """Chronic constipation on repeat laxatives, commoner with age and in women; irritable bowel syndrome coded in
    adult life, some of it on repeat antispasmodics, and antispasmodics for some without a code; short courses of
    both (:class:`placewise.sources.synth.config.BowelMedicines`)."""
    p, b = w.people, w.cfg.clinical.medicines.bowel
    ref, n = p.ref[everyone], len(everyone)
    u = rng.random((5, n))
    adult_from = p.birth[everyone] + int(16 * DAYS_PER_YEAR)
    adult = (adult_from <= ref) & (lo <= ref)
    lax = np.flatnonzero((u[0] < _by_age_and_sex(w, everyone, b.constipation, b.female_ratio)) & (lo <= ref))
    _spells(w, rng, meds, everyone[lax], lo[lax], "laxative")
    ibs = np.flatnonzero(adult & (u[1] < _by_age_and_sex(w, everyone, b.ibs, b.female_ratio)))
    coded = adult_from[ibs] + (rng.random(len(ibs)) * (ref[ibs] - adult_from[ibs] + 1)).astype(np.int64)
    ev.add(everyone[ibs], coded, ev.pick(rng, IRRITABLE_BOWEL, len(ibs)))
    treated = rng.random(len(ibs)) < b.ibs_antispasmodic_share
    _spells(w, rng, meds, everyone[ibs[treated]], np.maximum(coded[treated], lo[ibs[treated]]), "antispasmodic")
    uncoded = np.flatnonzero(adult & (u[2] < b.uncoded_antispasmodic_share))
    _spells(w, rng, meds, everyone[uncoded], np.maximum(adult_from[uncoded], lo[uncoded]), "antispasmodic")
    for row, medicine in ((3, "laxative"), (4, "antispasmodic")):
        some = np.flatnonzero(adult & (u[row] < b.occasional_share))
        _occasional(w, rng, meds, everyone[some], np.maximum(lo[some], adult_from[some]), medicine)


def _usual_bmi(w: World, who: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Each person's usual BMI on ``day``, the same in every block and call: 30 or more once coded obese, else
    from the adult spread."""
    c = w.cfg.clinical
    z = rng_for(w.seed, 19).standard_normal(len(w.people))[who]
    obese = w.people.diagnosed["obesity"][who] <= day
    return np.where(obese, np.maximum(c.obese_bmi.mean + c.obese_bmi.sd * z, 30.0),
                    np.clip(c.other_bmi.mean + c.other_bmi.sd * z, 16.0, 45.0))


def _bmi(w: World, rng: np.random.Generator, who: np.ndarray, day: np.ndarray) -> np.ndarray:
    """BMI readings: the person's usual BMI with some scatter between readings."""
    reading = _usual_bmi(w, who, day) + rng.normal(0, w.cfg.clinical.bmi_reading_sd, len(who))
    return np.round(np.clip(reading, 14.0, 70.0), 1)


def _diagnoses(w: World, rng: np.random.Generator, everyone: np.ndarray, ev: Rows) -> None:
    """Diagnosis codes as clinicians record them: a spread of codes, re-codings, resolutions and near misses."""
    p, c = w.people, w.cfg.clinical
    ref = p.ref[everyone]
    for name in CONDITIONS:
        d = p.diagnosed[name][everyone]
        has = d <= ref
        idx = np.flatnonzero(has)
        code = ev.pick(rng, DIAGNOSIS[name], len(idx))
        if name in ONLY_NON_DIAGNOSTIC:
            share, other = ONLY_NON_DIAGNOSTIC[name]
            code = np.where(rng.random(len(idx)) < share, ev.pick(rng, other, len(idx)), code)
        ev.add(everyone[idx], d[idx], code)
        k, day = _spread(rng, idx, d[idx] + 1, ref[idx], w.cfg.conditions[name].recoded_per_year)
        same = rng.random(len(k)) < 0.5  # re-coded with the same concept (a duplicate) or another one
        first = code[np.searchsorted(idx, k)] if len(k) else code[:0]
        ev.add(everyone[k], day, np.where(same, first, ev.pick(rng, DIAGNOSIS[name], len(k))))
        if name in RESOLVED:
            r = p.resolved[name][everyone]
            coded = has & (r <= ref) & (d < r) & (rng.random(len(everyone)) < c.resolved_code_share)
            ev.add(everyone[coded], r[coded], ev.index(RESOLVED[name]))
        if name in OUTSIDE_CONDITION:
            share, near = OUTSIDE_CONDITION[name]
            adult = p.age_at(ref, everyone) >= 18
            without = adult & (p.onset[name][everyone] > ref) & (rng.random(len(everyone)) < share)
            lo = np.maximum(p.start[everyone], w.window.start)
            day = lo + (rng.random(len(everyone)) * np.maximum(ref - lo, 0)).astype(np.int64)
            ev.add(everyone[without], day[without], ev.pick(rng, near, int(without.sum())))


def _preferred_digits(rng: np.random.Generator, value: np.ndarray, to_10: float, to_5: float) -> np.ndarray:
    """Readings as recorded: some rounded to a multiple of 10 or 5 (terminal-digit preference), others whole."""
    u = rng.random(len(value))
    return np.where(u < to_10, np.round(value / 10) * 10,
                    np.where(u < to_10 + to_5, np.round(value / 5) * 5, np.round(value)))


def _blood_pressure(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray,
                    ev: Rows, meds: Rows) -> None:
    """Readings (systolic and diastolic pairs) that fall once treatment starts; antihypertensive issues."""
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
    sys = mu_s[k] - on * eff_s[k] + c.reading_noise_sd * noise[0]
    dia = mu_d[k] - on * eff_d[k] + c.reading_noise_sd * 0.6 * (0.5 * noise[0] + 0.87 * noise[1])
    again = rng.random(len(k)) < c.second_reading_share
    drop = np.maximum(rng.normal(c.second_reading_drop.mean, c.second_reading_drop.sd, int(again.sum())), 0)
    k = np.concatenate([k, k[again]])
    day = np.concatenate([day, day[again]])
    sys = np.concatenate([sys, sys[again] - drop])
    dia = np.concatenate([dia, dia[again] - drop / 2])
    sys = _preferred_digits(rng, np.clip(sys, 70, 260), c.bp_round_to_10_share, c.bp_round_to_5_share)
    dia = np.minimum(_preferred_digits(rng, np.clip(dia, 40, 150), c.bp_round_to_10_share, c.bp_round_to_5_share),
                     sys - 10)
    s_code = ev.pick(rng, SYSTOLIC, len(k))
    pair = {ev.index(s): ev.index(d) for s, d in DIASTOLIC_OF.items()}
    d_code = np.array([pair.get(i, -1) for i in range(len(ev.codes))], dtype=np.int64)[s_code]
    ev.add(everyone[k], day, s_code, sys, "mmHg")
    ev.add(everyone[k], day, d_code, dia, "mmHg")
    stop = _until(p.resolved["hypertension"][everyone], ref)
    idx = np.flatnonzero(treated)
    _repeats(w, rng, meds, everyone[idx], treat_start[idx], stop[idx], "antihypertensive")
    dual = idx[rng.random(len(idx)) < c.dual_therapy_share]
    _repeats(w, rng, meds, everyone[dual], treat_start[dual] + rng.integers(90, 720, len(dual)), stop[dual],
             "antihypertensive")


def _long_term_care(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray,
                    ev: Rows, meds: Rows) -> None:
    """Anticoagulation in AF, asthma and COPD care, HbA1c, and LD and SMI annual health checks."""
    p, c = w.people, w.cfg.clinical
    ref, n = p.ref[everyone], len(everyone)
    af = p.diagnosed["atrial_fibrillation"][everyone]
    anticoag = (af <= ref) & (rng.random(n) < _at_practice(w, c.anticoagulated_share, everyone))
    vka = rng.random(n) < c.vka_share
    start = af + rng.integers(7, 30, n)
    stop = _until(p.resolved["atrial_fibrillation"][everyone], ref)
    for kind, which in (("doac", anticoag & ~vka), ("vitamin_k_antagonist", anticoag & vka)):
        _repeats(w, rng, meds, everyone[which], start[which], stop[which], kind)
    _inhalers(w, rng, everyone, lo, meds)
    for cond, share in (("asthma", c.spirometry_share_asthma), ("copd", c.spirometry_share_copd)):
        dx = p.diagnosed[cond][everyone]
        done = (dx <= ref) & (rng.random(n) < _at_practice(w, share, everyone))
        day = np.minimum(dx + rng.integers(0, 90, n), ref)
        ev.add(everyone[done], day[done], ev.index(SPIROMETRY))
    dm = p.diagnosed["type2_diabetes"][everyone]
    idx = np.flatnonzero(dm <= ref)
    k, day = _spread(rng, idx, np.maximum(lo, dm)[idx], ref[idx], c.hba1c_per_year)
    ev.add(everyone[k], day, ev.pick(rng, HBA1C, len(k)),
           np.round(np.clip(rng.normal(c.hba1c.mean, c.hba1c.sd, len(k)), 30, 150)), "mmol/mol")
    who, day = _annual_checks(w, rng, everyone, lo, "learning_disability", c.ld_health_check_share, 14, True)
    ev.add(who, day, ev.index(LD_HEALTH_CHECK))
    _smi_checks(w, rng, everyone, lo, ev)


def _inhalers(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, meds: Rows) -> None:
    """Relievers as needed (sometimes two on one day) in asthma and COPD, preventers on repeat in asthma."""
    p, c = w.people, w.cfg.clinical
    ref, n = p.ref[everyone], len(everyone)
    asthma = p.diagnosed["asthma"][everyone]
    stop = _until(p.resolved["asthma"][everyone], ref)
    copd = p.diagnosed["copd"][everyone]
    rate = np.where(rng.random(n) < c.saba_overuser_share, c.saba_overuser_issues_per_year, c.saba_issues_per_year)
    rate = np.where(asthma <= stop, rate, np.where(copd <= ref, c.copd_saba_issues_per_year, 0.0))
    first = np.where(asthma <= stop, asthma, copd)
    last = np.where(asthma <= stop, stop, ref)
    idx = np.flatnonzero(rate > 0)
    k, day = _spread(rng, idx, np.maximum(lo, first)[idx], last[idx], rate[idx])
    product = meds.pick(rng, MEDICINES["saba"].products, n)[k]
    twice = rng.random(len(k)) < c.double_issue_share
    meds.add(everyone[np.concatenate([k, k[twice]])], np.concatenate([day, day[twice]]),
             np.concatenate([product, product[twice]]))
    for code in MEDICINES["saba"].products:
        meds.quantity[code] = MEDICINES["saba"].quantity
    ics = np.flatnonzero((asthma <= stop) & (rng.random(n) < c.ics_share_asthma))
    _repeats(w, rng, meds, everyone[ics], asthma[ics] + 14, stop[ics], "ics")


def _annual_checks(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, cond: str,
                   share: float, min_age: float, financial_years: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(person, day) of an annual check in each 12-month period ending on the end date (or, with
    ``financial_years``, in each financial year, as practices schedule checks that are counted by financial
    year), for ``share`` of the eligible."""
    p, end = w.people, w.window.end
    years = round((end - w.window.start + 1) / DAYS_PER_YEAR)
    if financial_years:
        last = np.datetime64(end, "D").astype(object)
        fy_end = last.year + (last.month > 3)
        period_end = np.array([f"{fy_end - k}-03-31" for k in range(years + 1)], "datetime64[D]").astype(np.int64)
    else:
        period_end = end - 365 * np.arange(years)
    day = period_end[None, :] - rng.integers(0, 365, (len(everyone), len(period_end)))
    who = np.broadcast_to(everyone[:, None], day.shape)
    ok = ((p.diagnosed[cond][who] <= day) & (day <= p.ref[who]) & (day <= end) & (day >= lo[:, None])
          & (day - p.birth[who] >= min_age * DAYS_PER_YEAR) & (rng.random(day.shape) < _at_practice(w, share, who)))
    return who[ok], day[ok]


def _smi_checks(w: World, rng: np.random.Generator, everyone: np.ndarray, lo: np.ndarray, ev: Rows) -> None:
    """SMI physical health checks: six components (BMI, blood pressure, cholesterol, HbA1c, alcohol, smoking),
    each recorded or missed, around one visit a year; a completed-check code only when all six are done."""
    c = w.cfg.clinical
    who, day = _annual_checks(w, rng, everyone, lo, "smi", c.smi_health_check_share, 18)
    n = len(who)
    done = rng.random((6, n)) < c.smi_component_share
    on = [np.minimum(day + rng.integers(0, 21, n), w.people.ref[who]) for _ in range(6)]
    ev.add(who[done[0]], on[0][done[0]], ev.index(BMI), _bmi(w, rng, who, day)[done[0]], "kg/m2")
    sys = _preferred_digits(rng, rng.normal(128, 14, n), c.bp_round_to_10_share, c.bp_round_to_5_share)
    dia = np.minimum(_preferred_digits(rng, rng.normal(80, 9, n), c.bp_round_to_10_share, c.bp_round_to_5_share), sys - 10)
    s_code = next(iter(SYSTOLIC))
    ev.add(who[done[1]], on[1][done[1]], ev.index(s_code), sys[done[1]], "mmHg")
    ev.add(who[done[1]], on[1][done[1]], ev.index(DIASTOLIC_OF[s_code]), dia[done[1]], "mmHg")
    ev.add(who[done[2]], on[2][done[2]], ev.pick(rng, CHOLESTEROL, n)[done[2]],
           np.round(rng.normal(5.0, 1.0, n), 1)[done[2]], "mmol/L")
    ev.add(who[done[3]], on[3][done[3]], ev.pick(rng, HBA1C, n)[done[3]],
           np.round(np.clip(rng.normal(40, 8, n), 25, 120))[done[3]], "mmol/mol")
    units = done[4] & (rng.random(n) < c.alcohol_units_share)
    level = done[4] & ~units
    ev.add(who[units], on[4][units], ev.index(ALCOHOL_INTAKE), np.round(rng.exponential(8, n))[units], "units/week")
    ev.add(who[level], on[4][level], ev.pick(rng, ALCOHOL_LEVEL, n)[level])
    ev.add(who[done[5]], on[5][done[5]], ev.pick(rng, SMOKING, n)[done[5]])
    complete = done.all(axis=0)
    ev.add(who[complete], np.max(np.stack(on), axis=0)[complete], ev.index(SMI_HEALTH_CHECK))


def _events_table(w: World, ev: Rows, shared: Shared) -> pa.Table:
    """The clinical events rows as the canonical table, each with its record identifier."""
    who, day, code, value, unit = ev.arrays()
    units = pa.DictionaryArray.from_arrays(pa.array(unit.astype(np.int32), mask=unit < 0), pa.array(ev.units, pa.string()))
    return pa.table({
        "event_id": shared.ids("EV", len(who)), "nhs_number": w.nhs.take(who), "event_date": dates(day),
        "snomed_code": labels(code, ev.codes), "value": pa.array(value, pa.float64(), mask=np.isnan(value)),
        "unit": units.cast(pa.string()),
    })


def _medications_table(w: World, meds: Rows, rows: tuple[np.ndarray, np.ndarray, np.ndarray],
                       shared: Shared) -> pa.Table:
    """The medication issues (person, day, code index, sorted) as the canonical table, with quantities."""
    who, day, code = rows
    per_code = np.array([meds.quantity[c] for c in meds.codes]) if meds.codes else np.zeros(0)
    return pa.table({
        "issue_id": shared.ids("MD", len(who)), "nhs_number": w.nhs.take(who), "issue_date": dates(day),
        "dmd_code": labels(code, meds.codes), "quantity": pa.array(per_code[code], pa.float64()),
    })
