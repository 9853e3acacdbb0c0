"""Planted worklist cases: a fixed small set of people whose records sit just inside or just outside the
published rule each case-finding list follows, with the membership that rule gives them.

The same cases are planted at one practice in each Place (so four copies in BLMK, whatever the scale), each copy
coded with the next of the generator's own codes for the concept (diagnoses, blood pressure and HbA1c codes,
anticoagulant and reliever products, care plans, fall codes and falls admissions), so a codelist missing one of
them loses a planted case. Planted people are registered throughout the history, have only the records written
here (no drawn activity) and are not in ``truth/person_state.parquet``; their expected membership is
``truth/worklist_cases.parquet`` (see :func:`worklist_cases`). The thresholds below are the published rules, stated
here from their sources, not read from Placewise's profile or codelists.

Windows: "in the N months to the reference date" is the N whole calendar months ending on the reference date, the
last month end of the delivery (QOF's convention for a month-end achievement date: 12 months to 31 March starts
on 1 April). Ages are whole years on the reference date, each person born on the 15th of a month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from placewise.canonical import table
from placewise.sources.synth.events import World, dates, ids
from placewise.sources.synth.hospital_codes import (
    FALL_EXTERNAL_CAUSE_ICD10, FALL_INJURY_PRIMARY_ICD10)
from placewise.sources.synth.population import ETHNIC_CODES, day, spare_nhs_numbers
from placewise.sources.synth.vocabulary import (
    CARE_PLAN, DIAGNOSIS, DIASTOLIC_OF, FRAILTY_PROBLEMS, HBA1C, LD_HEALTH_CHECK, MEDICINES, OUTSIDE_CONDITION,
    SMI_HEALTH_CHECK, SYSTOLIC)

HBA1C_ABOVE = 58
"""NICE NG28 1.6 / QOF DM006: an HbA1c of 58 mmol/mol (7.5%) or less is the target; above it alerts."""
HBA1C_RISE = 11
"""A rise of 11 mmol/mol (1 percentage point, DCCT) from the reading before is a rising HbA1c."""
HBA1C_MONTHS = 15
"""QOF DM indicators look back 15 months for an HbA1c (NICE NG28 1.6.1: every 3 to 6 months until stable)."""
CLINIC_BP = (140, 90)
"""NICE NG136 1.2.3: clinic blood pressure of 140/90 mmHg or more (either) calls for ambulatory monitoring."""
TARGET_UNDER_80, TARGET_FROM_80 = (140, 90), (150, 90)
"""NICE NG136 1.4.20, QOF HYP008/HYP009: targets at or below 140/90 mmHg under 80, 150/90 mmHg from 80."""
ANTICOAGULANT_MONTHS = 6
"""QOF AF008: an anticoagulant issued in the preceding 6 months; NICE NG196 1.6.3: offer one at CHA2DS2-VASc 2+."""
LD_MIN_AGE = 14
"""NHS England learning disability annual health check: everyone on the register aged 14 and over."""
RELIEVER_ISSUES = 6
"""BLMK's reliever over-use flag (after the National Review of Asthma Deaths, RCP 2014): 6 or more in 12 months."""
SEVERE_FRAILTY_PROBLEMS = 20
"""Problems of later life coded for a severely frail person: eFI (Clegg et al. 2016) severe is above 0.36, 13 of
36 deficits; 20 keeps them severe if a few of the generator's codes are not deficits."""
MILD_FRAILTY_PROBLEMS = 4
HIGH_RISK_ADMISSIONS: dict[str, float] = {"N179": 1.0, "J189": 1.0, "R074": 1.0, "N390": 1.0, "A419": 1.0}
"""Primary diagnoses of the high-risk cases' eight emergency spells: acute kidney injury, pneumonia, chest pain,
urinary infection, sepsis. Not a heart failure, COPD or asthma code: the cases are a fixed number whatever the scale
(eight spells a quarter over the last 18 months), so condition-coded spells would add a fixed amount to the heart
failure admissions and bed days (at scale 0.05, 112 of the 304 bed days of January to March 2026, 37%; at 1.0, 3%).
The risk model counts emergency admissions and bed days whatever their diagnosis, so the cases stay high-risk."""


LEFT_OUT: dict[str, str] = {
    # codes of the generator's vocabulary the planted cases do not use, and why
    "81531005": "type 2 diabetes in obese: outside QOF's diabetes cluster DM_COD (the 2022 and 2025-06-27 "
                "releases), so by the published rule a person coded only this way is not on the register",
    "1003671000000109": "haemoglobin A1c level, not IFCC-standardised: outside IFCCHBAM_COD, the cluster QOF's "
                        "HbA1c indicators read",
    "734163000": "care plan, the generic record artefact: the frailty list's stated caveat is that it does not read "
                 "it, so a person with only this plan is listed by design",
}
"""Codes left out of the planted cases because the published rule itself does not read them: a planted case's
expected membership follows the published rule, and these would make it depend on the code drawn. (Planting
first left out two more: the O/E systolic reading 163030003, which the engine's systolic list then lacked and now
reads, and the autism code the generator's learning disability vocabulary held in error, now replaced.)"""


def usable(codes: dict[str, float]) -> dict[str, float]:
    """A concept's codes without those :data:`LEFT_OUT`."""
    return {c: w for c, w in codes.items() if c not in LEFT_OUT}


@dataclass
class Person:
    """One planted person's records: coded events, issues and emergency spells as (day, code, value) lists."""

    events: list[tuple[int, str, float | None, str | None]] = field(default_factory=list)
    meds: list[tuple[int, str]] = field(default_factory=list)
    spells: list[tuple[int, str, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Dates:
    """The reference date and the window edges every case is planted around (day numbers)."""

    ref: int
    start: int

    def first(self, months: int) -> int:
        """First day of the ``months`` whole months to the reference date."""
        d = dt.date(1970, 1, 1) + dt.timedelta(days=self.ref + 1)
        m = d.year * 12 + d.month - 1 - months
        return day(dt.date(m // 12, m % 12 + 1, 1))

    def born(self, age: int, later_months: int = 0) -> int:
        """Birthday (the 15th) of someone aged ``age`` on the reference date who turned it in the reference month,
        or ``later_months`` months later (so not yet that age)."""
        r = dt.date(1970, 1, 1) + dt.timedelta(days=self.ref)
        m = (r.year - age) * 12 + r.month - 1 + later_months
        return day(dt.date(m // 12, m % 12 + 1, 15))


@dataclass(frozen=True)
class Case:
    """A planted person: who they are, the records the copy ``k`` gets, and the lists they must or must not be on."""

    name: str
    age: int
    female: bool
    records: Callable[[Person, Dates, int], None]
    expect: dict[str, tuple[bool, str]]
    later_months: int = 0


def nth(codes: dict[str, float], k: int) -> str:
    """The ``k``-th of a concept's usable codes (cycling): each copy of a case is coded another way."""
    keys = list(usable(codes))
    return keys[k % len(keys)]


def _dx(p: Person, d: Dates, k: int, *conditions: str) -> None:
    """Diagnoses recorded early in the history."""
    for c in conditions:
        p.events.append((d.start + 30, nth(DIAGNOSIS[c], k), None, None))


def _bp(p: Person, on: int, k: int, sys: float, dia: float) -> None:
    """A blood pressure reading: a systolic and its own diastolic code on one day."""
    s = nth(SYSTOLIC, k)
    p.events += [(on, s, sys, "mmHg"), (on, DIASTOLIC_OF[s], dia, "mmHg")]


def _hba1c(p: Person, on: int, k: int, v: float) -> None:
    """An HbA1c result in mmol/mol."""
    p.events.append((on, nth(HBA1C, k), v, "mmol/mol"))


def _problems(p: Person, on: int, n: int) -> None:
    """``n`` problems of later life other than falls (the kind of deficit the eFI counts)."""
    names = [x for x in FRAILTY_PROBLEMS if x != "falls"][:n]
    p.events += [(on, nth(FRAILTY_PROBLEMS[x][1], 0), None, None) for x in names]


def _fall(p: Person, on: int, k: int) -> None:
    """A fall coded in primary care."""
    p.events.append((on, nth(FRAILTY_PROBLEMS["falls"][1], k), None, None))


def _anticoagulant(p: Person, on: int, k: int) -> None:
    """An anticoagulant issue: a DOAC or warfarin product."""
    products = {**MEDICINES["doac"].products, **MEDICINES["vitamin_k_antagonist"].products}
    p.meds.append((on, nth(products, k)))


def _relievers(p: Person, days: list[int], k: int) -> None:
    """Salbutamol reliever issues on the given days."""
    p.meds += [(x, nth(MEDICINES["saba"].products, k)) for x in days]


def _cases() -> list[Case]:
    """Every planted case (see the module docstring for the rules and windows)."""
    dm, uh, ht = "diabetes_alerts", "undiagnosed_hypertension", "hypertension_not_to_target"
    af, ld, smi, rel, fr, hr = ("af_not_anticoagulated", "ld_health_check_due", "smi_health_check_due",
                                "reliever_overuse", "severe_frailty_fall", "high_risk_gap")
    out: list[Case] = []

    def case(name: str, age: int, female: bool, records: Callable[[Person, Dates, int], None],
             expect: dict[str, tuple[bool, str]], later_months: int = 0) -> None:
        out.append(Case(name, age, female, records, expect, later_months))

    def diabetic(*hba1c: tuple[Callable[[Dates], int], float]) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _dx(p, d, k, "type2_diabetes")
            for when, v in hba1c:
                _hba1c(p, when(d), k, v)
        return rec

    mid = lambda d: d.ref - 60                                                       # noqa: E731
    earlier = lambda d: d.ref - 200                                                  # noqa: E731
    case("dm_hba1c_59", 62, False, diabetic((earlier, 57), (mid, HBA1C_ABOVE + 1)), {dm: (True, "latest HbA1c 59 > 58")})
    case("dm_hba1c_58", 62, True, diabetic((earlier, 55), (mid, HBA1C_ABOVE)), {dm: (False, "latest HbA1c 58, rise 3")})
    case("dm_rise_11", 55, True, diabetic((earlier, 40), (mid, 40 + HBA1C_RISE)), {dm: (True, "HbA1c rose 11: 40 to 51")})
    case("dm_rise_10", 55, False, diabetic((earlier, 40), (mid, 40 + HBA1C_RISE - 1)), {dm: (False, "HbA1c rose 10: 40 to 50")})
    case("dm_none_in_window", 70, False, diabetic((lambda d: d.first(HBA1C_MONTHS) - 1, 50)),
         {dm: (True, "last HbA1c the day before the 15 months")})
    case("dm_first_day", 70, True, diabetic((lambda d: d.first(HBA1C_MONTHS), 50)),
         {dm: (False, "HbA1c 50 on the first day of the 15 months")})
    case("dm_fallen_to_target", 66, False, diabetic((earlier, 75), (mid, 52)),
         {dm: (False, "HbA1c 75 then 52: the latest counts")})

    def not_diabetic(p: Person, d: Dates, k: int) -> None:
        p.events.append((d.start + 30, nth(OUTSIDE_CONDITION["type2_diabetes"][1], k), None, None))
        _hba1c(p, mid(d), k, 45)
        _hba1c(p, d.ref - 20, k, 80)
    case("no_diabetes_hba1c_80", 60, True, not_diabetic, {dm: (False, "prediabetes, no diabetes diagnosis")})

    def bp_only(*readings: tuple[Callable[[Dates], int], float, float]) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            for when, s, di in readings:
                _bp(p, when(d), k, s, di)
        return rec
    case("uh_140_80", 50, False, bp_only((mid, CLINIC_BP[0], 80)), {uh: (True, "140/80: systolic at 140")})
    case("uh_130_90", 50, True, bp_only((mid, 130, CLINIC_BP[1])), {uh: (True, "130/90: diastolic at 90")})
    case("uh_139_89", 50, False, bp_only((mid, CLINIC_BP[0] - 1, CLINIC_BP[1] - 1)), {uh: (False, "139/89: below both")})
    case("uh_raised_before_window", 52, True, bp_only((lambda d: d.first(12) - 1, 160, 100)),
         {uh: (False, "160/100 the day before the 12 months")})
    case("uh_raised_first_day", 52, False, bp_only((lambda d: d.first(12), 160, 100)),
         {uh: (True, "160/100 on the first day of the 12 months")})
    case("uh_latest_normal", 58, False, bp_only((earlier, 160, 100), (mid, 128, 78)),
         {uh: (False, "160/100 then 128/78: the latest counts")})
    case("uh_same_day_lower", 58, True, bp_only((mid, 156, 96), (mid, 134, 84)),
         {uh: (False, "156/96 and 134/84 on one day: the lower counts")})

    def hypertensive(*readings: tuple[Callable[[Dates], int], float, float]) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _dx(p, d, k, "hypertension")
            bp_only(*readings)(p, d, k)
        return rec
    case("ht_under_80_141_80", 65, False, hypertensive((mid, TARGET_UNDER_80[0] + 1, 80)),
         {ht: (True, "141/80 under 80"), uh: (False, "diagnosed hypertension")})
    case("ht_under_80_140_90", 65, True, hypertensive((mid, *TARGET_UNDER_80)), {ht: (False, "140/90 under 80: at target")})
    case("ht_under_80_130_91", 65, True, hypertensive((mid, 130, TARGET_UNDER_80[1] + 1)), {ht: (True, "130/91 under 80")})
    case("ht_79_145_80", 80, False, hypertensive((mid, 145, 80)),
         {ht: (True, "145/80 at 79, 80 next month: the under-80 target")}, later_months=1)
    case("ht_80_145_80", 80, True, hypertensive((mid, 145, 80)),
         {ht: (False, "145/80 at 80 this month: the 150/90 target")})
    case("ht_80_151_80", 84, False, hypertensive((mid, TARGET_FROM_80[0] + 1, 80)), {ht: (True, "151/80 at 84")})
    case("ht_80_150_90", 84, True, hypertensive((mid, *TARGET_FROM_80)), {ht: (False, "150/90 at 84: at target")})
    case("ht_latest_to_target", 70, False, hypertensive((earlier, 170, 100), (mid, 132, 80)),
         {ht: (False, "170/100 then 132/80: the latest counts")})
    case("ht_latest_high", 70, True, hypertensive((earlier, 130, 80), (mid, 152, 94)),
         {ht: (True, "130/80 then 152/94: the latest counts")})

    def atrial(*extra: str, anticoagulant: Callable[[Dates], int] | None = None) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _dx(p, d, k, "atrial_fibrillation", *extra)
            if anticoagulant is not None:
                _anticoagulant(p, anticoagulant(d), k)
        return rec
    case("af_male_70_score_1", 70, False, atrial(), {af: (False, "CHA2DS2-VASc 1: age 65-74")})
    case("af_female_70_score_2", 70, True, atrial(), {af: (True, "CHA2DS2-VASc 2: age 65-74, female")})
    case("af_male_70_hypertension", 70, False, atrial("hypertension"), {af: (True, "CHA2DS2-VASc 2: age, hypertension")})
    case("af_male_60_heart_failure", 60, False, atrial("heart_failure"), {af: (False, "CHA2DS2-VASc 1: heart failure")})
    case("af_male_60_stroke", 60, False, atrial("stroke_tia"), {af: (True, "CHA2DS2-VASc 2: stroke or TIA")})
    case("af_male_75", 75, False, atrial(), {af: (True, "CHA2DS2-VASc 2: 75 this month")})
    case("af_male_74", 75, False, atrial(), {af: (False, "CHA2DS2-VASc 1: 75 next month")}, later_months=1)
    case("af_male_65_hypertension", 65, False, atrial("hypertension"),
         {af: (True, "CHA2DS2-VASc 2: 65 this month, hypertension")})
    case("af_male_64_hypertension", 65, False, atrial("hypertension"),
         {af: (False, "CHA2DS2-VASc 1: hypertension, 65 next month")}, later_months=1)
    case("af_issued_first_day", 78, True, atrial(anticoagulant=lambda d: d.first(ANTICOAGULANT_MONTHS)),
         {af: (False, "anticoagulant on the first day of the 6 months")})
    case("af_issued_day_before", 78, True, atrial(anticoagulant=lambda d: d.first(ANTICOAGULANT_MONTHS) - 1),
         {af: (True, "last anticoagulant the day before the 6 months")})

    def disability(check: Callable[[Dates], int] | None, condition: str = "learning_disability",
                   code: str = LD_HEALTH_CHECK) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            p.events.append((d.start + 30, nth(DIAGNOSIS[condition], k), None, None))
            if check is not None:
                p.events.append((check(d), code, None, None))
        return rec
    case("ld_never_checked", 30, False, disability(None), {ld: (True, "no check recorded")})
    case("ld_checked_first_day", 30, True, disability(lambda d: d.first(12)), {ld: (False, "check on the first day")})
    case("ld_checked_day_before", 30, False, disability(lambda d: d.first(12) - 1),
         {ld: (True, "check the day before the 12 months")})
    case("ld_aged_14", LD_MIN_AGE, True, disability(None), {ld: (True, "aged 14 this month, no check")})
    case("ld_aged_13", LD_MIN_AGE, False, disability(None), {ld: (False, "turns 14 next month")}, later_months=1)
    case("smi_never_checked", 45, True, disability(None, "smi", SMI_HEALTH_CHECK), {smi: (True, "no check recorded")})
    case("smi_checked_first_day", 45, False, disability(lambda d: d.first(12), "smi", SMI_HEALTH_CHECK),
         {smi: (False, "check on the first day")})
    case("smi_checked_day_before", 45, True, disability(lambda d: d.first(12) - 1, "smi", SMI_HEALTH_CHECK),
         {smi: (True, "check the day before the 12 months")})

    def asthmatic(inside: int, first_day: bool = False, day_before: bool = False) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _dx(p, d, k, "asthma")
            _relievers(p, [d.ref - 30 * (i + 1) for i in range(inside)], k)
            _relievers(p, ([d.first(12)] if first_day else []) + ([d.first(12) - 1] if day_before else []), k)
        return rec
    case("asthma_6_issues", 35, True, asthmatic(RELIEVER_ISSUES), {rel: (True, "6 issues in 12 months")})
    case("asthma_5_issues", 35, False, asthmatic(RELIEVER_ISSUES - 1), {rel: (False, "5 issues in 12 months")})
    case("asthma_6th_on_first_day", 40, False, asthmatic(RELIEVER_ISSUES - 1, first_day=True),
         {rel: (True, "the 6th issue on the first day")})
    case("asthma_6th_day_before", 40, True, asthmatic(RELIEVER_ISSUES - 1, day_before=True),
         {rel: (False, "the 6th issue the day before the 12 months")})

    def frail(problems: int, fall: Callable[[Dates], int] | None = None, admitted: Callable[[Dates], int] | None = None,
              plan: Callable[[Dates], int] | None = None) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _problems(p, d.ref - 400, problems)
            if fall is not None:
                _fall(p, fall(d), k)
            if admitted is not None:
                p.spells.append((admitted(d), nth(FALL_INJURY_PRIMARY_ICD10, k), nth(FALL_EXTERNAL_CAUSE_ICD10, k)))
            if plan is not None:
                p.events.append((plan(d), nth(CARE_PLAN, k), None, None))
        return rec
    sev = SEVERE_FRAILTY_PROBLEMS
    case("frail_fall", 86, True, frail(sev, fall=mid), {fr: (True, "severe frailty, fall coded in 12 months")})
    case("frail_fall_first_day", 86, False, frail(sev, fall=lambda d: d.first(12)),
         {fr: (True, "fall on the first day of the 12 months")})
    case("frail_fall_day_before", 86, True, frail(sev, fall=lambda d: d.first(12) - 1),
         {fr: (False, "fall the day before the 12 months")})
    case("frail_falls_admission", 88, True, frail(sev, admitted=mid),
         {fr: (True, "admitted with an injury, a W00-W19 fall as secondary diagnosis")})
    case("frail_fall_plan_first_day", 87, False, frail(sev, fall=mid, plan=lambda d: d.first(12)),
         {fr: (False, "care plan on the first day of the 12 months")})
    case("frail_fall_plan_day_before", 87, True, frail(sev, fall=mid, plan=lambda d: d.first(12) - 1),
         {fr: (True, "care plan the day before the 12 months")})
    case("mildly_frail_fall", 80, False, frail(MILD_FRAILTY_PROBLEMS, fall=mid), {fr: (False, "not severely frail")})

    def high_risk(gap: bool) -> Callable[[Person, Dates, int], None]:
        def rec(p: Person, d: Dates, k: int) -> None:
            _dx(p, d, k, "heart_failure", "copd", "ckd", *(["type2_diabetes"] if gap else []))
            _problems(p, d.ref - 500, 10)
            p.spells += [(d.ref - 50 - 75 * i, nth(HIGH_RISK_ADMISSIONS, k + i), None) for i in range(8)]
            if gap:
                _hba1c(p, mid(d), k, 78)
        return rec
    case("high_risk_with_gap", 88, False, high_risk(True),
         {hr: (True, "emergency admissions, HbA1c 78: in if scored in the top 5%"), dm: (True, "HbA1c 78")})
    case("high_risk_no_gap", 88, True, high_risk(False), {hr: (False, "on no other list")})
    return out


CASES = _cases()


@dataclass(frozen=True)
class Planted:
    """The planted people as canonical rows, their practice and registration start, and expected list membership."""

    tables: dict[str, pa.Table]
    practice: np.ndarray
    start: np.ndarray
    truth: pa.Table


def reference_day(w: World) -> int:
    """The reference date worklists are built at: the last month end on or before the end of the history."""
    nxt = dt.date(1970, 1, 1) + dt.timedelta(days=w.window.end + 1)
    return w.window.end if nxt.day == 1 else day(dt.date(nxt.year, nxt.month, 1)) - 1


def plant(w: World) -> Planted:
    """Every case at the first practice of each Place: people, registrations, records and the truth table."""
    d = Dates(reference_day(w), w.window.start)
    practices = [int(np.flatnonzero(w.prac.place == k)[0]) for k in range(len(w.place_codes))]
    n = len(CASES) * len(practices)
    nhs = spare_nhs_numbers(w.people.nhs, n)
    cols: dict[str, list] = {k: [] for k in ("nhs", "born", "female", "ethnic", "lsoa", "practice")}
    people: list[Person] = []
    truth: dict[str, list] = {k: [] for k in ("nhs_number", "list_id", "expected", "case", "reason", "practice_code")}
    for k, prac in enumerate(practices):
        lsoas = np.flatnonzero(w.prac.home_of_lsoa == prac)
        lsoa = int(lsoas[0]) if len(lsoas) else int(np.flatnonzero(w.geo.place == w.prac.place[prac])[0])
        for j, c in enumerate(CASES):
            who = nhs[k * len(CASES) + j]
            p = Person()
            c.records(p, d, k)
            people.append(p)
            for key, v in (("nhs", who), ("born", d.born(c.age, c.later_months)), ("female", c.female),
                           ("ethnic", (j + k) % len(ETHNIC_CODES)), ("lsoa", lsoa), ("practice", prac)):
                cols[key].append(v)
            for list_id, (expected, reason) in c.expect.items():
                for key, v in (("nhs_number", who), ("list_id", list_id), ("expected", expected), ("case", c.name),
                               ("reason", reason), ("practice_code", w.prac.code[prac])):
                    truth[key].append(v)
    arrays = {k: np.array(v) for k, v in cols.items()}
    return Planted(_tables(w, arrays, people), arrays["practice"], _start(w, arrays["born"]), pa.table(truth))


def _start(w: World, born: np.ndarray) -> np.ndarray:
    """Registration start: the first day of the history, or birth."""
    return np.maximum(w.window.start, born)


def _tables(w: World, cols: dict[str, np.ndarray], people: list[Person]) -> dict[str, pa.Table]:
    """The planted people's rows of each canonical table they appear in."""
    born = cols["born"].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    start = _start(w, cols["born"])
    ev = [(who, *e) for who, p in zip(cols["nhs"], people) for e in p.events]
    md = [(who, *m) for who, p in zip(cols["nhs"], people) for m in p.meds]
    sp = [(who, *s) for who, p in zip(cols["nhs"], people) for s in p.spells]
    quantity = {c: m.quantity for m in MEDICINES.values() for c in m.products}
    place = w.prac.place[cols["practice"]]
    places = {who: pl for who, pl in zip(cols["nhs"], place)}
    acute = [w.cfg.providers_by_place[w.place_codes[places[s[0]]]].acute[0] for s in sp]
    spell_id = ids("IPP", 1, len(sp))
    out = {
        "people": pa.table({
            "nhs_number": cols["nhs"], "birth_year": born // 12 + 1970, "birth_month": born % 12 + 1,
            "sex": np.where(cols["female"], "female", "male"), "ethnicity": np.array(ETHNIC_CODES)[cols["ethnic"]],
            "lsoa_code": w.geo.lsoa_code[cols["lsoa"]], "date_of_death": pa.nulls(len(born), pa.date32())}),
        "registrations": pa.table({
            "nhs_number": cols["nhs"], "practice_code": w.prac.code[cols["practice"]], "start_date": dates(start),
            "end_date": pa.nulls(len(start), pa.date32())}),
        "clinical_events": pa.table({
            "event_id": ids("EVP", 1, len(ev)), "nhs_number": [e[0] for e in ev],
            "event_date": dates(np.array([e[1] for e in ev])), "snomed_code": [e[2] for e in ev],
            "value": pa.array([e[3] for e in ev], pa.float64()), "unit": pa.array([e[4] for e in ev], pa.string())}),
        "medications": pa.table({
            "issue_id": ids("MDP", 1, len(md)), "nhs_number": [m[0] for m in md],
            "issue_date": dates(np.array([m[1] for m in md])), "dmd_code": [m[2] for m in md],
            "quantity": pa.array([quantity[m[2]] for m in md], pa.float64())}),
        "inpatient_spells": _spells(sp, spell_id, acute),
        "inpatient_diagnoses": pa.table({
            "spell_id": spell_id.filter(pa.array([s[3] is not None for s in sp])),
            "position": pa.array([2] * sum(s[3] is not None for s in sp), pa.int64()),
            "icd10_code": [s[3] for s in sp if s[3] is not None]}),
    }
    return {name: t.select(table(name).source_schema().names).cast(table(name).source_schema())
            for name, t in out.items()}


def _spells(sp: list[tuple], spell_id: pa.Array, acute: list[tuple[str, str, float]]) -> pa.Table:
    """Emergency spells (direct admissions, a week long, home again) of the planted people."""
    n = len(sp)
    adm = np.array([s[1] for s in sp], dtype=np.int64)
    return pa.table({
        "spell_id": spell_id, "nhs_number": [s[0] for s in sp], "provider_code": [a[0] for a in acute],
        "site_code": [a[1] for a in acute], "admission_method": ["emergency"] * n,
        "admission_method_code": ["21"] * n, "admission_source": ["19"] * n, "admission_date": dates(adm),
        "discharge_date": dates(adm + 7), "discharge_method": ["1"] * n, "discharge_destination": ["19"] * n,
        "primary_diagnosis": [s[2] for s in sp], "treatment_function": ["300"] * n})
