"""Referral pathways: what each GP referral leads to, drawn once per block and shared by the builders.

A GP referral (by treatment function and priority) leads to one of the outcomes of
:data:`placewise.sources.synth.config.PATHWAY_OUTCOMES`: an attended first outpatient appointment in the same
treatment function at the provider referred to, after a log-normal wait by priority (sometimes after a first
appointment missed or cancelled), then follow-ups and, for a share by treatment function, an elective admission there
some months later; a return with advice and guidance (no appointment); a first appointment not attended, then
discharge; or withdrawal. Nothing after the person's reference day (the end of the window, death or leaving) is
written. Each referral's true outcome goes to ``truth/referral_pathways.parquet`` (:func:`truth_rows`).

Each referral's referral-to-treatment (RTT) clock follows from its pathway (:data:`CLOCK_ENDS`): it starts on the
referral day and stops at the elective admission (admitted) or else, by the RTT rules' first definitive treatment
(non-admitted), at the first attendance for a share (``pathways.clock_stop_at_first``: treatment started in clinic,
discharge, active monitoring or a decision not to treat) and at the first follow-up for the rest (treated or discharged
after the investigations the first attendance ordered), or at the first attendance where no follow-up comes before the
longest wait; the longest waits are cut, as providers treat those nearest the limit first: each
referral's clock stops by a week drawn from ``pathways.longest_wait_weeks``; a first appointment not attended nullifies it, a withdrawal removes it, and so do death and leaving
the area before it stops. Advice and guidance starts no clock. The RTT returns are counted from these clocks
(:func:`placewise.sources.synth.returns.rtt_returns`).

All draws are vectorised over the block's referrals, from their own random stream, so the referrals themselves are
drawn as without pathways.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from placewise.sources.synth.config import PATHWAY_OUTCOMES, Delay, Pathways
from placewise.sources.synth.events import World, categorical, dates, nullable_dates
from placewise.sources.synth.hospital_codes import ELECTIVE_PRIMARY
from placewise.sources.synth.population import CURRENT, NEVER, rng_for

STREAM = 30
"""Random stream of the pathways (with the block's first person), apart from every builder's."""

APPOINTMENT_OUTCOMES = ("attended", "did_not_attend", "cancelled")
CLOCK_ENDS = ("admitted", "non_admitted", "nullified", "withdrawn", "died_or_left", "open", "none")
"""How a referral's RTT clock ended: stopped by an elective admission or at the first attendance (the two clock
stops the return counts); nullified (first appointment not attended, then discharged); withdrawn; removed at death or
leaving; still open at the end of the window; no clock (advice and guidance, or referred before registering)."""


@dataclass
class Referrals:
    """One block's GP referrals, in the referrals table's order."""

    referral_id: pa.Array
    who: np.ndarray
    day: np.ndarray
    treatment_function: np.ndarray
    priority: np.ndarray
    """Index into ``priorities``."""
    priorities: list[str]
    provider: pa.Array
    site: pa.Array


@dataclass
class Appointments:
    """Outpatient appointments of the pathways: person, day, row of the referral, first or not, outcome index."""

    who: np.ndarray
    day: np.ndarray
    referral: np.ndarray
    first: np.ndarray
    outcome: np.ndarray


@dataclass
class Pathway:
    """What a block's referrals led to (arrays by referral) and the rows they add to other tables."""

    referrals: Referrals
    outcome: np.ndarray
    """Index into :data:`PATHWAY_OUTCOMES`."""
    attended: np.ndarray
    """Day of the attended first appointment written (``NEVER`` where none)."""
    admitted: np.ndarray
    """Day of the elective admission written (``NEVER`` where none)."""
    appointments: Appointments
    clock_end: np.ndarray
    """Day the RTT clock stopped or the pathway left the waiting list (``NEVER`` while open and where no clock)."""
    clock_kind: np.ndarray
    """Index into :data:`CLOCK_ENDS`."""


@dataclass
class Clocks:
    """RTT clocks of referrals: provider, treatment function, start (the referral day), end day and manner."""

    provider: np.ndarray
    treatment_function: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray


def clocks(p: Pathway) -> Clocks:
    """The RTT clocks of a block's referrals (those with none left out)."""
    k = np.flatnonzero(p.clock_kind != CLOCK_ENDS.index("none"))
    return Clocks(np.asarray(p.referrals.provider.take(k).to_numpy(zero_copy_only=False), dtype=object),
                  p.referrals.treatment_function[k], p.referrals.day[k], p.clock_end[k], p.clock_kind[k])


def admissions(pathways: list[Pathway]) -> tuple[np.ndarray, np.ndarray, pa.Array, pa.Array, np.ndarray]:
    """Elective admissions the referrals led to: person, day, provider, site and treatment function."""
    ks = [np.flatnonzero(p.admitted < NEVER) for p in pathways]
    return (np.concatenate([p.referrals.who[k] for p, k in zip(pathways, ks)]),
            np.concatenate([p.admitted[k] for p, k in zip(pathways, ks)]),
            pa.concat_arrays([p.referrals.provider.take(k) for p, k in zip(pathways, ks)]),
            pa.concat_arrays([p.referrals.site.take(k) for p, k in zip(pathways, ks)]),
            np.concatenate([p.referrals.treatment_function[k] for p, k in zip(pathways, ks)]))


def appointments(pathways: list[Pathway]) -> tuple[Appointments, pa.Array, np.ndarray]:
    """Outpatient appointments of the pathways, with each one's provider and treatment function."""
    a = [p.appointments for p in pathways]
    both = Appointments(*(np.concatenate([getattr(x, f) for x in a]) for f in ("who", "day", "referral", "first", "outcome")))
    provider = pa.concat_arrays([p.referrals.provider.take(x.referral) for p, x in zip(pathways, a)])
    return both, provider, np.concatenate([p.referrals.treatment_function[x.referral] for p, x in zip(pathways, a)])


def earlier_referrals(w: World, r: Referrals) -> Referrals:
    """Referrals made in the year before the window, whose appointments and admissions fall in it as real extracts
    hold them: the block's referrals of the window's first year, a year earlier (not written themselves)."""
    k = np.flatnonzero(r.day < w.window.start + 365)
    return Referrals(r.referral_id.take(k), r.who[k], r.day[k] - 365, r.treatment_function[k], r.priority[k],
                     r.priorities, r.provider.take(k), r.site.take(k))


def _delay(rng: np.random.Generator, d: Delay | list[Delay], k: np.ndarray | None, n: int) -> np.ndarray:
    """Whole days (at least one) of a log-normal delay; ``d`` indexed by ``k`` when a list."""
    if isinstance(d, list):
        assert k is not None
        median = np.array([x.median for x in d])[k]
        sigma = np.array([x.sigma for x in d])[k]
    else:
        median, sigma = np.full(n, d.median), np.full(n, d.sigma)
    return np.maximum(np.ceil(median * np.exp(sigma * rng.standard_normal(n))), 1).astype(np.int64)


def practice_effects(w: World) -> tuple[np.ndarray, np.ndarray]:
    """Each practice's effect (by practice index) on the log-odds that its referrals reach a first attendance and on
    the log of the chance that a first attendance leads to an elective admission: drawn once from the seed's own
    stream (``pathways.practice_attendance_sigma``, ``pathways.practice_admission_sigma``), so every block and
    ``truth/practice_effects.parquet`` see the same; centred, so that the ICS keeps the profile's shares."""
    z = rng_for(w.seed, STREAM + 10).standard_normal((2, len(w.prac.code)))
    z -= z.mean(axis=1, keepdims=True)
    return w.cfg.pathways.practice_attendance_sigma * z[0], w.cfg.pathways.practice_admission_sigma * z[1]


def _with_practice_attendance(w: World, cfg: Pathways, outcome: np.ndarray, effect: np.ndarray,
                              rng: np.random.Generator) -> np.ndarray:
    """The outcomes with each referral's practice effect on reaching a first attendance: the chance of ``attended``
    moved to ``expit(logit(p) + effect)``, referrals taken from (or given to) the other outcomes in their
    proportions, on the pathways' own stream."""
    if not cfg.practice_attendance_sigma or not len(outcome):
        return outcome
    shares: dict[str, float] = {str(k): v for k, v in cfg.outcome.items()}
    p = shares["attended"]
    target = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + effect)))
    u, v = rng.random(len(outcome)), rng.random(len(outcome))
    attended = outcome == PATHWAY_OUTCOMES.index("attended")
    others = [o for o in PATHWAY_OUTCOMES if o != "attended"]
    weights = np.cumsum([shares[o] for o in others]) / (1 - p)
    instead = np.array([PATHWAY_OUTCOMES.index(o) for o in others])[np.minimum(np.searchsorted(weights, v),
                                                                              len(others) - 1)]
    lose = attended & (target < p) & (u < (p - target) / p)
    gain = ~attended & (target > p) & (u < (target - p) / (1 - p))
    return np.where(lose, instead, np.where(gain, PATHWAY_OUTCOMES.index("attended"), outcome))


def _queue_factor(seed: int, sigma: float, r: Referrals) -> np.ndarray:
    """Each referral's queue factor: a log-normal draw (median 1, log-scale spread ``sigma``) of its provider ×
    treatment function, the same in every block (seeded by the seed and the queue's name)."""
    if not sigma or not len(r.who):
        return np.ones(len(r.who))
    provider = np.asarray(r.provider.to_numpy(zero_copy_only=False), dtype=object)
    names = provider.astype(str) + "/" + r.treatment_function.astype(str)
    cells, index = np.unique(names, return_inverse=True)
    z = np.array([np.random.default_rng([seed, STREAM + 6, zlib.crc32(c.encode())]).standard_normal() for c in cells])
    return np.exp(sigma * z)[index]


def draw_pathways(w: World, block: slice, r: Referrals, *, earlier: bool = False) -> Pathway:
    """What each referral of a block leads to, and the appointments and admissions written for it (of referrals
    made before the window, only those from the window's start and the person's registration)."""
    cfg: Pathways = w.cfg.pathways
    rng = rng_for(w.seed, STREAM + earlier, block.start)
    n, ref = len(r.who), w.people.ref[r.who]
    since = np.maximum(w.people.start[r.who], w.window.start) if earlier else np.zeros(n, np.int64)
    outcome, names = categorical(rng, cfg.outcome, n)
    outcome = np.array([PATHWAY_OUTCOMES.index(o) for o in names], np.int64)[outcome]
    effects = practice_effects(w)
    practice = w.people.practice_at(r.day, r.who)
    outcome = _with_practice_attendance(w, cfg, outcome, effects[0][practice],
                                        rng_for(w.seed, STREAM + 8 + earlier, block.start))
    lo, hi = cfg.longest_wait_weeks  # the clock stops by then: first seen a week before it at the latest
    longest = rng_for(w.seed, STREAM + 2 + earlier, block.start).integers(7 * lo, 7 * hi + 1, n)
    queue = _queue_factor(w.seed, cfg.queue_sigma, r)
    wait = np.minimum(np.ceil(_delay(rng, [cfg.first_wait_days[p] for p in r.priorities], r.priority, n) * queue),
                      longest - 7).astype(np.int64)
    first = r.day + wait
    attended = (outcome == PATHWAY_OUTCOMES.index("attended")) & (first <= ref)
    missed = (outcome == PATHWAY_OUTCOMES.index("did_not_attend")) & (first <= ref) & (first >= since)
    u = rng.random(n)
    dna, cancel = cfg.first_missed.get("did_not_attend", 0.0), cfg.first_missed.get("cancelled", 0.0)
    before = attended & (u < dna + cancel)
    before_day = r.day + np.floor(wait * rng.uniform(0.3, 0.8, n)).astype(np.int64)
    before_outcome = np.where(u < dna, 1, 2)
    follow = np.where(attended, rng.poisson(cfg.follow_ups_mean, n), 0)
    k = np.repeat(np.arange(n), follow)
    lo, hi = cfg.follow_up_interval_days
    gaps = np.cumsum(rng.integers(lo, hi + 1, len(k)))
    f_day = first[k] + gaps - np.repeat(np.concatenate([[0], gaps])[np.cumsum(follow) - follow], follow)
    o = w.cfg.outpatients
    v = rng.random(len(k))
    f_outcome = np.where(v < o.dna_rate, 1, np.where(v < o.dna_rate + o.cancelled_rate, 2, 0))
    share = np.array([cfg.admitted_share.get(t, 0.0) for t in r.treatment_function]) if n else np.zeros(0)
    share = np.minimum(share * np.exp(effects[1][practice]), 1.0)
    admit_wait = np.ceil(_delay(rng, cfg.admission_wait_days, None, n) * queue).astype(np.int64)
    admit_day = np.maximum(np.minimum(first + admit_wait, r.day + longest), first + 1)
    listed = (outcome == PATHWAY_OUTCOMES.index("attended")) & (rng.random(n) < share)
    admitted = attended & listed & (admit_day <= ref) & (admit_day >= since)
    idx = np.arange(n)
    seen = attended & (first >= since)
    parts = [(idx[before], before_day[before], True, before_outcome[before]),
             (idx[seen], first[seen], True, np.zeros(int(seen.sum()), np.int64)),
             (idx[missed], first[missed], True, np.ones(int(missed.sum()), np.int64)),
             (k, f_day, False, f_outcome)]
    row = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts])
    keep = (day <= ref[row]) & (day >= since[row])
    appointments = Appointments(
        r.who[row][keep], day[keep], row[keep],
        np.concatenate([np.full(len(p[0]), p[2]) for p in parts])[keep],
        np.concatenate([p[3] for p in parts]).astype(np.int64)[keep])
    # A non-admitted clock stops at the first attendance (treatment started in clinic, discharge, active monitoring
    # or a decision not to treat: the RTT rules' first definitive treatment) or, for the rest, at the first follow-up
    # in time, the decision following the investigations; its own stream, so the pathways stay as they were drawn.
    later = rng_for(w.seed, STREAM + 4 + earlier, block.start).random(n) >= cfg.clock_stop_at_first
    treated = first.copy()
    has = (follow > 0) & later
    treated[has] = f_day[(np.cumsum(follow) - follow)[has]]
    treated = np.where(treated - r.day <= longest, treated, first)
    clock_end, clock_kind = _clocks(w, r, outcome, listed, treated, admit_day, first)
    return Pathway(r, outcome, np.where(seen, first, NEVER), np.where(admitted, admit_day, NEVER), appointments,
                   clock_end, clock_kind)


def _clocks(w: World, r: Referrals, outcome: np.ndarray, listed: np.ndarray, treated: np.ndarray,
            admit_day: np.ndarray, withdrawn_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Day and manner (index into :data:`CLOCK_ENDS`) of each referral's RTT clock end, from its drawn pathway (no
    further draws: the pathways stay as they were). ``treated`` is the day a non-admitted clock stops and, for a
    first appointment not attended, the day it was missed (the first appointment's day)."""
    o = PATHWAY_OUTCOMES.index
    end = np.select([listed, outcome == o("attended"), outcome == o("did_not_attend"), outcome == o("withdrawn")],
                    [admit_day, treated, treated, withdrawn_day], NEVER)
    kind = np.select([listed, outcome == o("attended"), outcome == o("did_not_attend"), outcome == o("withdrawn")],
                     [0, 1, 2, 3], CLOCK_ENDS.index("none"))
    people = w.people
    ref, current = people.ref[r.who], people.status[r.who] == CURRENT
    late = (kind != CLOCK_ENDS.index("none")) & (end > ref)
    kind = np.where(late, np.where(current, CLOCK_ENDS.index("open"), CLOCK_ENDS.index("died_or_left")), kind)
    end = np.where(late & current, NEVER, np.where(late, ref, end))
    unregistered = r.day < people.start[r.who]  # an earlier referral of someone not yet in the area's population
    kind = np.where(unregistered, CLOCK_ENDS.index("none"), kind)
    end = np.where(unregistered | (kind == CLOCK_ENDS.index("none")), NEVER, end)
    return end.astype(np.int64), kind.astype(np.int64)


def elective_codes(rng: np.random.Generator, treatment_function: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Primary diagnosis and procedure of elective spells in the given treatment functions (each drawn among the
    elective diagnoses of its treatment function, by their frequency)."""
    n = len(treatment_function)
    dx, procedure = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for tf in np.unique(treatment_function) if n else []:
        here = np.flatnonzero(treatment_function == tf)
        options = {d: v for d, v in ELECTIVE_PRIMARY.items() if v[1] == tf}
        if not options:
            raise ValueError(f"pathways.admitted_share: no elective diagnosis of treatment function {tf}")
        k, names = categorical(rng, {d: v[0] for d, v in options.items()}, len(here))
        dx[here] = np.array(names, dtype=object)[k]
        for j, d in enumerate(names):
            at = here[k == j]
            procs = options[d][2]
            p, pnames = categorical(rng, procs, len(at))
            procedure[at] = np.array(pnames, dtype=object)[p]
    return dx, procedure


def truth_rows(p: Pathway) -> pa.Table:
    """Each referral's true outcome: ``referral_id, provider_code, treatment_function, priority, referral_date,
    outcome, first_attended_on, admitted_on`` (null where none was written) and its RTT clock's end, ``rtt_clock_end``
    (:data:`CLOCK_ENDS`) and ``rtt_clock_end_on`` (null while open, and where no clock)."""
    r = p.referrals
    ended = p.clock_end < NEVER
    return pa.table({
        "referral_id": r.referral_id, "provider_code": r.provider,
        "treatment_function": pa.array(r.treatment_function, pa.string()),
        "priority": pa.array(np.array(r.priorities, dtype=object)[r.priority] if len(r.who) else [], pa.string()),
        "referral_date": dates(r.day),
        "outcome": pa.array(np.array(PATHWAY_OUTCOMES, dtype=object)[p.outcome] if len(r.who) else [], pa.string()),
        "first_attended_on": nullable_dates(p.attended, p.attended < NEVER),
        "admitted_on": nullable_dates(p.admitted, p.admitted < NEVER),
        "rtt_clock_end": pa.array(np.array(CLOCK_ENDS, dtype=object)[p.clock_kind] if len(r.who) else [], pa.string()),
        "rtt_clock_end_on": nullable_dates(p.clock_end, ended),
    })
