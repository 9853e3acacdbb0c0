"""What the generator knows and the records only hint at: each person's true state at their reference day.

Written beside the delivery as ``truth/person_state.parquet`` (not a canonical table; ingestion ignores
sub-folders). It is keyed by the raw NHS number, which exists only in the source delivery: to compare it
with the warehouse, hash the NHS number with the same key as ingestion (see
``tests/sources/truth_support.py``). The planted worklist cases are not in it: their truth is
``truth/worklist_cases.parquet`` (:mod:`placewise.sources.synth.planted`); each GP referral's true outcome is
``truth/referral_pathways.parquet`` (:mod:`placewise.sources.synth.pathways`). Columns:

- ``status`` registered, died or left; ``age`` in whole years at the reference day (end date, death or leaving);
- ``has_<condition>``: the condition has begun and not resolved; ``diagnosed_<condition>``: a clinician has
  recorded it; ``resolved_<condition>``: it resolved (for the conditions that can);
- ``cha2ds2_vasc``: the score from the true conditions, age and sex (Lip et al., Chest 2010);
- ``anticoagulated``: a DOAC or vitamin K antagonist issued in the 6 months to the reference day;
  ``asthma_medication``: a reliever or preventer issued in the 12 months to the reference day;
  ``antihypertensive``: treated for hypertension in the 12 months to the reference day;
- ``admission_probability_12m``: the true chance of at least one emergency admission in the 12 months after
  the end date (from the generator's own rates, the target for a later risk model);
- ``registered_year_before``, ``admission_probability_12m_year_before`` and ``emergency_admission_year_before``:
  whether the person was registered on the same day a year before the end date (the risk model's test date), their
  true chance then of an emergency admission in the 12 months to the end date (from the rates and calendar the
  admissions were drawn at, over the days they stayed registered: direct, through A&E, readmitted after elective
  care, children's asthma attacks), and whether the generator wrote one. The risk
  model is tested on exactly these people and outcomes, so these give its like-for-like ceiling.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from placewise.sources.synth.config import CONDITIONS
from placewise.sources.synth.events import World, admission_chance, cumulative_intensity, person_rate
from placewise.sources.synth.population import CURRENT, DAYS_PER_YEAR, DIED
from placewise.sources.synth.population import day as day_number
from placewise.sources.synth.vocabulary import MEDICINES, RESOLVED

TREATMENTS: dict[str, tuple[tuple[str, ...], int]] = {
    "anticoagulated": (("doac", "vitamin_k_antagonist"), 182),
    "asthma_medication": (("saba", "ics"), 365),
    "antihypertensive": (("antihypertensive",), 365),
}
"""Truth column -> (medicine classes, days back from the reference day)."""


def treatment_state(w: World, everyone: np.ndarray, who: np.ndarray, day: np.ndarray,
                    product: np.ndarray) -> dict[str, np.ndarray]:
    """For each person of a block, whether each treatment was issued in its window (from the issues written)."""
    out = {}
    ref = w.people.ref
    for column, (classes, days) in TREATMENTS.items():
        products = [c for k in classes for c in MEDICINES[k].products]
        hit = np.isin(product, products) & (day > ref[who] - days) & (day <= ref[who])
        out[column] = np.isin(everyone, who[hit])
    return out


def cha2ds2_vasc(w: World) -> np.ndarray:
    """CHA2DS2-VASc from the true state: heart failure, hypertension, age, diabetes, stroke/TIA, vascular, sex."""
    p = w.people
    has = {c: _has(w, c) for c in ("heart_failure", "hypertension", "type2_diabetes", "stroke_tia", "chd")}
    age = p.age_at(p.ref)
    return (has["heart_failure"] + has["hypertension"] + 2 * (age >= 75) + ((age >= 65) & (age < 75))
            + has["type2_diabetes"] + 2 * has["stroke_tia"] + has["chd"] + p.female).astype(np.int64)


def _has(w: World, condition: str) -> np.ndarray:
    """Whether each person has the condition at their reference day (begun, not resolved)."""
    p = w.people
    return (p.onset[condition] <= p.ref) & (p.resolved[condition] > p.ref)


WINTER_SHARE = 4 / 12
"""December to March: the share of a year when an attendance is likelier to admit."""


def admission_probability(w: World) -> np.ndarray:
    """Chance of an emergency admission in the next 12 months: direct admissions plus A&E attendances that admit."""
    p, a = w.people, w.cfg.ae
    everyone = np.arange(len(p))
    when = np.full(len(p), w.window.end)
    direct = person_rate(w.cfg.activity["direct_emergency_admissions"], w, everyone, when)
    attend = person_rate(w.cfg.activity["ae_attendances"], w, everyone, when)
    chance = ((1 - WINTER_SHARE) * admission_chance(w, everyone, when, 0.0)
              + WINTER_SHARE * admission_chance(w, everyone, when, 1.0))
    admitted = (1 - a.department_type_shares[2] / sum(a.department_type_shares)) * chance
    probability = 1 - np.exp(-(direct + attend * admitted))
    return np.where(p.status == CURRENT, probability, 0.0)


def year_before(w: World) -> int:
    """The day a year before the end date (29 February becomes 28 February): the risk model's test date."""
    end = dt.date(1970, 1, 1) + dt.timedelta(days=int(w.window.end))
    return day_number(end.replace(year=end.year - 1, day=28 if (end.month, end.day) == (2, 29) else end.day))


def registered_on(w: World, on: int) -> np.ndarray:
    """Whether each person was registered and alive on day ``on``, as the registrations and deaths written say: a
    registration's end date is its last day (a leaver is registered on the day they leave), and nobody is alive on
    the day they die."""
    p = w.people
    return (p.start <= on) & np.where(p.status == DIED, p.ref > on, p.ref >= on)


def _expected(w: World, name: str, on: int, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Expected events of a stream from day ``on`` + 1 to ``last`` (inclusive) for each person at risk from ``first``:
    their annual rate where :func:`placewise.sources.synth.events.draw` takes it, over the stream's calendar."""
    p, win = w.people, w.window
    stream = w.cfg.activity[name]
    a = np.clip(np.maximum(np.maximum(p.start, win.start), first) - win.start, 0, None)
    mid = win.start + (a + np.maximum(np.clip(p.ref + 1 - win.start, 0, None), a)) // 2
    cum = cumulative_intensity(stream, w)
    lo = np.clip(np.maximum(on + 1, first) - win.start, 0, win.end + 1 - win.start)
    hi = np.clip(np.minimum(last, win.end) + 1 - win.start, lo, win.end + 1 - win.start)
    return person_rate(stream, w, np.arange(len(p)), mid) * (cum[hi] - cum[lo]) / DAYS_PER_YEAR


def admission_probability_after(w: World, on: int) -> np.ndarray:
    """Chance of an emergency admission in the 12 months after day ``on`` (to the end of the window), for people
    registered that day, on the days they stay registered: direct admissions, A&E attendances that admit,
    emergency readmissions after elective care and children's asthma attacks, each stream's rate and calendar as
    drawn. Readmissions after an emergency admission add no first admission and are left out; the chance an
    attendance admits is taken at the year's middle, winter by share."""
    p, a, ad = w.people, w.cfg.ae, w.cfg.admissions
    never = np.full(len(p), np.iinfo(np.int64).min)
    chance = ((1 - WINTER_SHARE) * admission_chance(w, np.arange(len(p)), np.full(len(p), on + 182), 0.0)
              + WINTER_SHARE * admission_chance(w, np.arange(len(p)), np.full(len(p), on + 182), 1.0))
    admitted = (1 - a.department_type_shares[2] / sum(a.department_type_shares)) * chance
    nineteen = p.birth + int(19 * DAYS_PER_YEAR)
    asthma = _expected(w, "children_asthma_attacks", on, p.diagnosed["asthma"],
                       np.minimum(np.minimum(p.ref, nineteen), p.resolved["asthma"] - 1))
    expected = (_expected(w, "direct_emergency_admissions", on, never, p.ref)
                + _expected(w, "ae_attendances", on, never, p.ref) * admitted
                + _expected(w, "elective_admissions", on, never, p.ref) * ad.readmission_30d["after_elective"] + asthma)
    return np.where(registered_on(w, on), 1 - np.exp(-expected), 0.0)


def emergency_admission_after(w: World, spells: pa.Table, block: slice, on: int) -> np.ndarray:
    """For each person of a block, whether a spell written for them is an emergency admission in the 12 months
    after day ``on`` (to the end of the window)."""
    d = spells["admission_date"].cast(pa.int32()).to_numpy()
    hit = pc.equal(spells["admission_method"], "emergency").to_numpy(zero_copy_only=False) & (d > on)
    return pc.is_in(w.nhs[block], value_set=spells["nhs_number"].filter(pa.array(hit))).to_numpy(zero_copy_only=False)


def person_state(w: World, treatments: dict[str, np.ndarray]) -> pa.Table:
    """The truth table: one row per person ever registered, in NHS number order."""
    p = w.people
    columns: dict[str, pa.Array | np.ndarray] = {
        "nhs_number": w.nhs,
        "status": np.array(["registered", "died", "left"])[p.status],
        "age": np.floor(p.age_at(p.ref)).astype(np.int64),
    }
    for c in CONDITIONS:
        columns[f"has_{c}"] = _has(w, c)
        columns[f"diagnosed_{c}"] = p.diagnosed[c] <= p.ref
        if c in RESOLVED:
            columns[f"resolved_{c}"] = p.resolved[c] <= p.ref
    columns["cha2ds2_vasc"] = cha2ds2_vasc(w)
    columns.update(treatments)  # with emergency_admission_year_before, from the spells written
    columns["admission_probability_12m"] = np.round(admission_probability(w), 6)
    before = year_before(w)
    columns["registered_year_before"] = registered_on(w, before)
    columns["admission_probability_12m_year_before"] = np.round(admission_probability_after(w, before), 6)
    test_date = dt.date(1970, 1, 1) + dt.timedelta(days=before)
    return pa.table(columns).replace_schema_metadata({"year_before": test_date.isoformat()})
