"""Hypothesis strategies for indicator definitions, drawn as the YAML a user would write and loaded by the catalogue.

Only combinations the catalogue model accepts are drawn; :func:`catalogues` parses them with
:func:`placewise.measure.catalogue.parse_catalogue`, so a definition it rejects fails the test loudly.
Codelists, registers and returns are the ones the hand-made scenario (``scenario.py``) and :func:`records` give
records for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import yaml
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers
from measure_builder import Warehouse
from scenario import code, scenario

from placewise.measure import Catalogue
from placewise.measure.catalogue import parse_catalogue

EVENT_CODELISTS = ["hypertension", "asthma", "dementia", "depression", "systolic_bp"]
MEDICATION_CODELISTS = ["saba_relievers"]
REGISTERS = ["hypertension", "asthma", "dementia", "depression", "atrial_fibrillation", "diabetes"]
GEOGRAPHIES = ["ics", "place", "pcn", "practice", "care_alliance", "legacy_ccg"]
HOSPITAL = ["provider", "site"]
BREAKDOWNS = ["imd_quintile", "ethnic_group", "sex", "age_band"]
RETURNS = {"ae_4hr_type1": "numerator", "rtt_waiting_list": "value"}
"""Returned measures :func:`records` gives, and the column each is read from (a share, or a figure alone)."""


@contextmanager
def seed_alone() -> Iterator[None]:
    """Hypothesis's draws in the block made from the seed and the strategies alone (and Hypothesis's version, pinned).

    Now and then Hypothesis draws a number it found in the source of the modules imported so far (its "local
    constants": those of installed packages and test modules apart, so Placewise's), gathered again whenever
    ``sys.modules`` grows and kept for each kind of draw. So a seeded test drew other definitions depending on what the
    tests before it had imported, and after any edit to a number in Placewise's source: in a whole run of tests/measure
    the DuckDB and Spark sweep drew no directly standardised rate at all (fourteen when run alone) and failed. In the
    block that pool is empty; Hypothesis's own constants are still drawn from."""
    gathered = providers._get_local_constants
    providers._get_local_constants = providers.Constants
    providers.CONSTANTS_CACHE.cache.clear()  # the permitted constants kept for each kind of draw, local ones among them
    try:
        yield
    finally:
        providers._get_local_constants = gathered
        providers.CONSTANTS_CACHE.cache.clear()


def records() -> Warehouse:
    """The scenario with records for the building blocks its own people do not reach: CHA2DS2-VASc's registers (an
    AF register of every score from 1 to 6), an objective test near (and one far from) a first asthma record, falls
    admissions by primary and by secondary ICD-10 code, and returned figures by provider."""
    w = scenario()
    af, hf, dm, stroke, chd = (code(c) for c in ("atrial_fibrillation", "heart_failure", "diabetes", "stroke_tia",
                                                 "chd"))
    people = {"a1": ((1990, 1), "male", []), "a2": ((1950, 1), "female", [hf]), "a3": ((1945, 6), "male", [dm, chd]),
              "a4": ((1955, 3), "female", [stroke]), "a5": ((1940, 1), "female", [hf, dm, stroke]),
              "a6": ((1959, 4), "male", [chd, dm])}
    for p, (born, sex, conditions) in people.items():
        w.person(p, born=born, sex=sex, practice="P2")
        for c in [af, *conditions]:
            w.event(p, date(2018, 5, 1), c)
    w.event("p1", date(2021, 1, 1), af)                    # on the hypertension register too: score 2 at 73
    spirometry = code("spirometry")
    w.event("p12", date(2023, 8, 20), spirometry)          # 2.7 months after the first asthma record
    w.event("p13", date(2023, 1, 10), spirometry)          # 3.7 months before it
    injury, falls = code("icd10_injury"), code("icd10_falls")
    w.spell("p2", date(2024, 2, 10), date(2024, 2, 14), diagnosis=injury, secondary=(falls,))
    w.spell("a5", date(2023, 11, 2), date(2023, 11, 9), diagnosis=injury, provider="RD8", site="RD816")
    w.spell("a3", date(2024, 3, 12), date(2024, 3, 13), diagnosis=falls, secondary=(code("icd10_copd"), falls))
    for month, org, waiting in ((1, "RC9", 4100), (2, "RC9", 4180), (3, "RD8", 2750)):
        w.add("aggregate_returns", period=date(2024, month, 1), org_code=org, measure="rtt_waiting_list",
              numerator=None, denominator=None, value=float(waiting))
    w.aggregate(date(2023, 11, 1), "RC9", "ae_4hr_type1", 70, 95)
    w.attendance("a2", datetime(2024, 2, 3, 14), 300)
    return w


windows = st.one_of(st.sampled_from(["ever", "period", "financial_year_to_date"]),
                    st.integers(1, 24).map(lambda n: f"last_{n}_months"))


@st.composite
def age_ranges(draw: st.DrawFn) -> dict[str, int]:
    """An age range with either end possibly open, lower end at most the upper."""
    low, high = sorted(draw(st.lists(st.integers(0, 100), min_size=2, max_size=2)))
    return {k: v for k, v in (("min", low), ("max", high)) if draw(st.booleans())}


has_code = st.one_of(
    st.fixed_dictionaries({"type": st.just("has_code"), "codelist": st.lists(st.sampled_from(EVENT_CODELISTS),
                                                                             min_size=1, max_size=2, unique=True),
                           "window": windows, "at_least": st.integers(1, 3)}),
    st.fixed_dictionaries({"type": st.just("has_code"), "codelist": st.just(MEDICATION_CODELISTS),
                           "table": st.just("medications"), "window": windows, "at_least": st.integers(1, 6)}),
)
latest_value = st.fixed_dictionaries({
    "type": st.just("latest_value"), "codelist": st.sampled_from([["systolic_bp"], ["diastolic_bp"]]),
    "window": windows, "comparison": st.sampled_from(["lt", "le", "gt", "ge"]),
    "threshold": st.sampled_from([70, 80, 85, 120, 130, 135, 140, 145, 150]),
})
blood_pressure = st.fixed_dictionaries({
    "type": st.just("blood_pressure"), "window": windows,
    "systolic_at_most": st.sampled_from([120, 130, 135, 140, 145, 150]),
    "diastolic_at_most": st.sampled_from([70, 80, 85, 90]),
})
near_first_record = st.fixed_dictionaries({
    "type": st.just("near_first_record"), "codelist": st.just(["spirometry"]),
    "first": st.sampled_from([["asthma"], ["asthma", "depression"]]),
    "months_before": st.integers(0, 6), "months_after": st.integers(0, 6),
})
cha2ds2_vasc = st.fixed_dictionaries({"type": st.just("cha2ds2_vasc"), "at_least": st.integers(0, 7)})
first_record = st.fixed_dictionaries({
    "type": st.just("first_record"), "codelist": st.sampled_from([["hypertension"], ["asthma"], ["asthma", "depression"]]),
    "on_or_after": st.dates(date(2019, 1, 1), date(2024, 6, 1)).map(date.isoformat),
})
simple_criteria = st.one_of(
    near_first_record, cha2ds2_vasc, has_code, latest_value, blood_pressure, first_record,
    st.fixed_dictionaries({"type": st.just("on_register"), "name": st.sampled_from(REGISTERS)}),
    age_ranges().map(lambda a: {"type": "age", **a}),
)
criteria = st.one_of(
    simple_criteria,
    simple_criteria.map(lambda c: {"type": "not", "criterion": c}),
    st.tuples(st.sampled_from(["all_of", "any_of"]), st.lists(simple_criteria, min_size=1, max_size=3)).map(
        lambda t: {"type": t[0], "criteria": t[1]}),
)


@st.composite
def persons(draw: st.DrawFn, with_criteria: bool = True) -> dict[str, Any]:
    """The registered population, perhaps narrowed by age, sex and criteria over the coded record."""
    out: dict[str, Any] = {"kind": "persons", "age": draw(age_ranges())}
    sex = draw(st.sampled_from([[], ["female"], ["male"], ["female", "male"]]))
    chosen = draw(st.lists(criteria, max_size=2)) if with_criteria else []
    return out | ({"sex": sex} if sex else {}) | ({"criteria": chosen} if chosen else {})


@st.composite
def events(draw: st.DrawFn, valued: bool = False, hospital: bool = False) -> dict[str, Any]:
    """Rows of an event table in the period, filtered, counted as events or persons (or valued, for a mean)."""
    table = draw(st.sampled_from(["inpatient_spells", "ae_attendances"] if valued or hospital else [
        "clinical_events", "medications", "inpatient_spells", "ae_attendances", "mental_health_contacts"]))
    out: dict[str, Any] = {"kind": "events", "table": table, "age": draw(age_ranges())}
    if table in ("clinical_events", "medications"):
        out["codelist"] = MEDICATION_CODELISTS if table == "medications" else draw(
            st.lists(st.sampled_from(EVENT_CODELISTS), min_size=1, max_size=2, unique=True))
        out |= draw(st.sampled_from([{}, {"first_ever": True}, {"new_after_days": 30}, {"new_after_days": 90}]))
    elif table == "inpatient_spells":
        out["where"] = {"admission_method": draw(st.sampled_from([["emergency"], ["elective"],
                                                                  ["emergency", "elective"]]))}
        out["date"] = draw(st.sampled_from(["admission_date", "discharge_date"]))
        out |= draw(st.sampled_from([{}, {"codelist": ["icd10_injury"]}, {"secondary_codelist": ["icd10_falls"]},
                                     {"codelist": ["icd10_injury"], "secondary_codelist": ["icd10_falls"]}]))
    elif table == "ae_attendances":
        out["where"] = {"department_type": draw(st.sampled_from([[1], [3], [1, 3]]))}
    if valued:
        out["value"] = draw(st.sampled_from([{"age_at_event": True}] + (
            [{"days_between": ["admission_date", "discharge_date"]}] if table == "inpatient_spells" else [])))
    else:
        out["count"] = draw(st.sampled_from(["events", "persons"]))
    return out


@st.composite
def hospital_proportions(draw: st.DrawFn) -> dict[str, Any]:
    """Attendances or spells, and those of them within a time or followed by an emergency admission."""
    den = draw(events(hospital=True)) | {"count": "events"}
    if den["table"] == "ae_attendances":
        extra = {"duration": {"start": "arrival", "end": "departure", "unit": "minutes",
                              "at_most": draw(st.sampled_from([60, 240, 241]))}}
    else:
        extra = draw(st.sampled_from([
            {"duration": {"start": "admission_date", "end": "discharge_date", "unit": "days", "at_least": 2}},
            {"followed_by": {"where": {"admission_method": ["emergency"]}, "within_days": 30}}]))
    return {"per": 100, "denominator": den, "numerator": {"kind": "subset", **extra}}


@st.composite
def expected(draw: st.DrawFn) -> dict[str, Any]:
    """Expected cases: age bands upwards from an age, each with a prevalence by sex; the last band open."""
    start = draw(st.integers(0, 70))
    widths = draw(st.lists(st.integers(1, 20), min_size=1, max_size=4))
    rate = st.floats(0, 40, allow_nan=False).map(lambda r: round(r, 2))
    rates, low = [], start
    for i, width in enumerate(widths):
        band = {"age_min": low, "female": draw(rate), "male": draw(rate)}
        rates.append(band if i == len(widths) - 1 else band | {"age_max": low + width - 1})
        low += width
    return {"kind": "expected", "source": "generated", "rates": rates}


@st.composite
def ratios(draw: st.DrawFn) -> dict[str, Any]:
    """Observed persons over expected cases (as a diagnosis rate), or events over events of the same table."""
    if draw(st.booleans()):
        return {"per": 100, "numerator": draw(persons()), "denominator": draw(expected())}
    num = draw(events()) | {"count": "events"}
    den = num | {"age": draw(age_ranges())}
    return {"numerator": num, "denominator": den}


@st.composite
def returned(draw: st.DrawFn) -> dict[str, Any]:
    """A figure read from aggregate returns: a share (numerator over denominator) or a value alone."""
    measure = draw(st.sampled_from(sorted(RETURNS)))
    if RETURNS[measure] == "value":
        return {"numerator": {"kind": "aggregate", "measure": measure, "column": "value"}}
    return {"per": 100, "numerator": {"kind": "aggregate", "measure": measure, "column": "numerator"},
            "denominator": {"kind": "aggregate", "measure": measure, "column": "denominator"}}


@st.composite
def indicators(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    """One indicator: a proportion of persons or of hospital events, a crude or directly standardised rate per
    population, a count, a mean or median, a ratio, or a returned figure; reported by hospital too where both sides
    are hospital events."""
    shape = draw(st.sampled_from(["proportion", "crude_rate", "dsr", "count", "mean", "median", "ratio", "returned"]))
    parts: dict[str, Any]
    if shape == "returned":
        return _returned_indicator(ident, draw(returned()), draw)
    if shape == "ratio":
        parts = draw(ratios())
    elif shape == "proportion":
        parts = draw(st.one_of(hospital_proportions(), st.fixed_dictionaries({
            "per": st.just(100), "denominator": persons(),
            "numerator": st.lists(criteria, min_size=1, max_size=2).map(lambda c: {"kind": "subset", "criteria": c})})))
    elif shape in ("crude_rate", "dsr"):
        parts = {"per": 1000, "denominator": draw(persons(with_criteria=False)),
                 "numerator": draw(st.one_of(events(), persons()))}
    elif shape == "count":
        parts = {"numerator": draw(st.one_of(events(), persons()))}
    else:
        parts = {"numerator": draw(events(valued=True))}
    hospital = all(p.get("kind") in ("subset", None) or (p.get("table") in ("ae_attendances", "inpatient_spells")
                                                          and p.get("count") != "persons")
                   for p in (parts["numerator"], parts.get("denominator", {})))
    extra = draw(st.lists(st.sampled_from(BREAKDOWNS[:3] if shape == "dsr" else BREAKDOWNS), max_size=3, unique=True))
    if "sex" in extra and "imd_quintile" in extra and draw(st.booleans()):
        extra.append("sex_by_imd_quintile")
    return _described(ident, shape, parts, draw) | {
        "geographies": ["ics", *draw(st.lists(st.sampled_from(GEOGRAPHIES[1:] + HOSPITAL * hospital), max_size=3,
                                              unique=True))],
        "breakdowns": ["none", *extra],
    }


def _described(ident: str, shape: str, parts: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """The indicator's parts with the fields every definition carries, and a drawn frequency."""
    return described(ident, shape, parts, draw(st.sampled_from(["monthly", "quarterly", "annual",
                                                                "rolling_12_months"])))


def described(ident: str, shape: str, parts: dict[str, Any], frequency: str) -> dict[str, Any]:
    """The indicator's parts with the fields every definition carries."""
    return {
        "id": ident, "title": f"Generated {shape}", "definition": "A generated definition.", "domain": "Generated",
        "measure": shape, **parts, "polarity": "neutral", "standard_source": "generated",
        "specification": "generated", "version": "1", "frequency": frequency,
    }


def _returned_indicator(ident: str, parts: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    """A returned figure, by the ICS and perhaps by provider (returns have no breakdowns)."""
    return _described(ident, "returned", parts, draw) | {
        "geographies": ["ics", *draw(st.sampled_from([[], ["provider"]]))]}


@st.composite
def catalogues(draw: st.DrawFn, profile: Catalogue, max_size: int = 3) -> Catalogue:
    """A catalogue of one to ``max_size`` generated indicators, loaded through the catalogue's own file parser
    against the profile's groupings and registers."""
    n = draw(st.integers(1, max_size))
    raw = {"age_bands": profile.age_bands, "indicators": [draw(indicators(f"g{i}")) for i in range(n)]}
    return parsed(raw, profile)


def parsed(raw: dict[str, Any], profile: Catalogue) -> Catalogue:
    """A catalogue written as YAML, loaded through the catalogue's own file parser against the profile's groupings
    and registers."""
    with TemporaryDirectory(prefix="placewise-gendefs-") as folder:
        path = Path(folder) / "indicators.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return parse_catalogue(path, profile.groupings, profile.ics_code, profile.registers)
