"""DuckDB, PostgreSQL and Spark give identical counts: on the hand-made scenario, on generated warehouses, and for
generated indicator definitions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
import json
from collections.abc import Iterator
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from definitions import catalogues, described, indicators, parsed, records, seed_alone
from measure_builder import LSOAS, PRACTICES, Warehouse
from scenario import code, scenario

from placewise.measure import Catalogue, ReportingRange, compute, load_catalogue
from placewise.measure.catalogue import Expected
from placewise.profile import load_profile
from placewise.warehouse import connect

RANGE = ReportingRange(date(2024, 1, 1), date(2024, 3, 31))
YEAR = ReportingRange(date(2023, 4, 1), date(2024, 3, 31))  # a whole financial year: every frequency has a period
KINDS = [  # one indicator of every shape: subset of persons and events, rates, DSR, expected, mean, median…
    "hypertension_treated_to_target", "ae_4hr_type1", "emergency_admissions_dsr", "readmissions_30_day",
    "los_emergency_median", "los_emergency_mean", "dementia_diagnosis_rate", "asthma_saba_over_reliance",
    "talking_therapies_access", "obesity_prevalence_adults", "gp_dna_rate", "ae_4hr_type1_published",
    "af_anticoagulated", "ld_health_checks", "gp_appointments_rate", "ae_attendances_rate", "heart_failure_bed_days",
]  # gp_appointments_rate and ae_attendances_rate share sides with gp_dna_rate (GP appointments) and each other (the
# registered population); heart_failure_bed_days sums a value per event (its counts carry events and sum_squares)


def _postgres(url: str) -> ibis.BaseBackend:
    return ibis.connect(url)


def _same(a: pa.Table, b: pa.Table, fractional: frozenset[str] = frozenset({"dementia_diagnosis_rate"})) -> None:
    """Identical rows; sums of fractional expected cases (the ``fractional`` indicators') may differ only in the
    last bits."""
    assert a.num_rows == b.num_rows
    da, db = a.to_pandas(), b.to_pandas()
    exact = (~da.indicator_id.isin(fractional)).to_numpy()
    for col in a.column_names:
        if col in ("numerator", "denominator", "sum_squares", "median"):
            np.testing.assert_allclose(da[col], db[col], rtol=1e-12, equal_nan=True, err_msg=col)
            np.testing.assert_array_equal(da[col][exact], db[col][exact], err_msg=col)
        else:
            assert da[col].fillna(-1).tolist() == db[col].fillna(-1).tolist(), col


@pytest.mark.postgres
def test_scenario_identical_on_duckdb_and_postgres(postgres_url):
    cat = load_catalogue(load_profile())
    w = scenario()
    duck = compute(w.load(ibis.duckdb.connect()), cat, periods_range=RANGE)
    pg = compute(w.load(_postgres(postgres_url)), cat, periods_range=RANGE)
    assert duck.num_rows > 1000
    _same(duck, pg)


person = st.fixed_dictionaries({
    "born": st.tuples(st.integers(1925, 2020), st.integers(1, 12)),
    "sex": st.sampled_from(["female", "male"]),
    "ethnicity": st.sampled_from(["A", "H", "N", "Z"]),
    "lsoa": st.sampled_from(sorted(LSOAS)),
    "practice": st.sampled_from(sorted(PRACTICES)),
    "registered": st.dates(date(2015, 1, 1), date(2024, 3, 31)),
    "stays": st.integers(0, 800),
    "conditions": st.sets(st.sampled_from(["hypertension", "asthma", "dementia"])),
    "bp": st.lists(st.tuples(st.dates(date(2023, 1, 1), date(2024, 3, 31)), st.integers(100, 180),
                             st.integers(60, 110)), max_size=3),
    "saba": st.lists(st.dates(date(2023, 1, 1), date(2024, 3, 31)), max_size=8),
    "spells": st.lists(st.tuples(st.dates(date(2023, 6, 1), date(2024, 3, 31)), st.integers(0, 20),
                                 st.sampled_from(["emergency", "elective"])), max_size=3),
    "ae": st.lists(st.tuples(st.dates(date(2024, 1, 1), date(2024, 3, 31)), st.integers(1, 600),
                             st.sampled_from([1, 3])), max_size=2),
    "gp": st.lists(st.tuples(st.dates(date(2024, 1, 1), date(2024, 3, 31)),
                             st.sampled_from(["attended", "did_not_attend"])), max_size=3),
})


def _generated(people: list[dict]) -> Warehouse:
    """A warehouse from generated people and their records."""
    w = Warehouse()
    for i, p in enumerate(people):
        pid = f"g{i}"
        left = p["registered"] + timedelta(days=p["stays"]) if p["stays"] < 700 else None
        w.person(pid, born=p["born"], sex=p["sex"], ethnicity=p["ethnicity"], lsoa=p["lsoa"],
                 practice=p["practice"], registered=p["registered"], left=left)
        for c in p["conditions"]:
            w.event(pid, date(2014, 1, 1), code(c))
        for on, s, d in p["bp"]:
            w.event(pid, on, code("systolic_bp"), s)
            w.event(pid, on, code("diastolic_bp"), d)
        for on in sorted(set(p["saba"])):
            w.medication(pid, on, code("saba_relievers"))
        for on, days, method in p["spells"]:
            w.spell(pid, on, on + timedelta(days=days), method=method,   # emergencies for heart failure (bed days)
                    diagnosis=code("icd10_heart_failure") if method == "emergency" else "R69")
        for on, minutes, dept in p["ae"]:
            w.attendance(pid, datetime(on.year, on.month, on.day, 8), minutes, dept=dept)
        for on, status in p["gp"]:
            w.gp_appointment(pid, on, status, p["practice"])
    w.aggregate(date(2024, 2, 1), "RC9", "ae_4hr_type1", 7, 9)
    return w


@pytest.mark.postgres
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(person, min_size=1, max_size=40))
def test_generated_warehouses_identical_on_duckdb_and_postgres(postgres_server, people):
    import psycopg

    cat = load_catalogue(load_profile())
    name = f"h{datetime.now().strftime('%H%M%S%f')}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    w = _generated(people)
    duck = compute(w.load(ibis.duckdb.connect()), cat, periods_range=RANGE, indicators=KINDS)
    pg_con = w.load(_postgres(f"{postgres_server}/{name}"))
    pg = compute(pg_con, cat, periods_range=RANGE, indicators=KINDS)
    pg_con.disconnect()
    _same(duck, pg)


@pytest.mark.spark
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(person, min_size=1, max_size=40))
def test_generated_warehouses_identical_on_duckdb_and_spark(spark_url, people):
    """Few examples: each is a few hundred Spark jobs in local mode (the whole lane must stay within CI's time)."""
    cat = load_catalogue(load_profile())
    w = _generated(people)
    duck = compute(w.load(ibis.duckdb.connect()), cat, periods_range=RANGE, indicators=KINDS)
    spark_con = w.load(connect(spark_url))
    try:
        spark = compute(spark_con, cat, periods_range=RANGE, indicators=KINDS)
    finally:
        spark_con.disconnect()
    _same(duck, spark)


BLOCKS = {"cha2ds2_vasc": '"type":"cha2ds2_vasc"', "near_first_record": '"type":"near_first_record"',
          "secondary_codelist": '"secondary_codelist":["icd10_falls"]', "expected": '"kind":"expected"',
          "aggregate": '"kind":"aggregate"'}
"""Building blocks the generated-definition tests require drawn, each by how it shows in a definition's JSON."""
SHAPES = {"proportion", "crude_rate", "dsr", "count", "mean", "median", "ratio", "returned"}
"""The measure types the generated-definition tests require."""


def _blocks(cat: Catalogue) -> set[str]:
    """The :data:`BLOCKS` the catalogue's indicators draw."""
    return {b for i in cat.indicators for b, shown in BLOCKS.items() if shown in i.model_dump_json()}


def _expected_ids(cat: Catalogue) -> frozenset[str]:
    """The indicators whose denominators are sums of fractional expected cases."""
    return frozenset(i.id for i in cat.indicators if isinstance(i.denominator, Expected))


AGREE_SEED = 2
"""Hypothesis's seed for the generated catalogues compared on DuckDB and PostgreSQL: fixed, so that the draws do not
change with the source of the test function (``derandomize`` seeds from it; one edit once lost every median). With
seed 2 the 45 examples (drawn from the seed alone, :func:`definitions.seed_alone`) draw every measure type in
:data:`SHAPES` and every block in :data:`BLOCKS`, and at least a third of their indicators count someone; a change to
the strategies in ``definitions.py`` may need another seed."""


def _generated_definitions_agree(other: ibis.BaseBackend, examples: int) -> tuple[set[str], set[str]]:
    """Generated catalogues (seeded by :data:`AGREE_SEED`) give identical counts on DuckDB and ``other`` over the
    scenario and its extra records (:func:`definitions.records`), and are not trivial: at least a third of the
    generated indicators count someone (no passing by comparing empty tables); the measure types and the
    :data:`BLOCKS` drawn."""
    duck = records().load(ibis.duckdb.connect())
    records().load(other)
    shapes: set[str] = set()
    blocks: set[str] = set()
    counted: list[bool] = []

    @seed(AGREE_SEED)
    @settings(max_examples=examples, deadline=None)
    @given(cat=catalogues(load_catalogue(load_profile())))
    def agree(cat: Catalogue) -> None:
        a = compute(duck, cat, periods_range=YEAR)
        _same(a, compute(other, cat, periods_range=YEAR), _expected_ids(cat))
        some = set(a.filter(pc.greater(a["numerator"], 0))["indicator_id"].to_pylist())
        shapes.update(i.measure for i in cat.indicators)
        blocks.update(_blocks(cat))
        counted.extend(i.id in some for i in cat.indicators)

    with seed_alone():
        agree()
    assert sum(counted) >= len(counted) / 3, f"only {sum(counted)} of {len(counted)} generated indicators count anyone"
    return shapes, blocks


@pytest.mark.postgres
def test_generated_definitions_identical_on_duckdb_and_postgres(postgres_url):
    """Proportions, crude and standardised rates, counts, means, medians, ratios and returned figures drawn from the
    catalogue's building blocks, CHA2DS2-VASc, objective tests near a first record, secondary diagnoses, expected
    cases and aggregate returns among them."""
    pg = _postgres(postgres_url)
    try:
        shapes, blocks = _generated_definitions_agree(pg, examples=45)
    finally:
        pg.disconnect()
    assert shapes == SHAPES
    assert blocks == set(BLOCKS)


NAMED = {"type", "kind", "table", "measure", "frequency", "count", "date", "geographies", "breakdowns", "comparison"}
"""Fields whose values are parts a drawn definition exercises, as well as every field it sets."""


def _parts(node: object, field: str = "") -> Iterator[str]:
    """Every field set anywhere in a drawn definition, and the values of the :data:`NAMED` ones."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _parts(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _parts(v, field)
    elif field in NAMED:
        yield f"{field}:{node}"


def _features(raw: dict[str, Any]) -> set[str]:
    """The measure type, building blocks, criteria, tables, filters, geographies and breakdowns a drawn definition
    exercises."""
    shown = json.dumps(raw, separators=(",", ":"))
    return set(_parts(raw)) | {b for b, text in BLOCKS.items() if text in shown}


COUNTING = [
    ("proportion", {"per": 100, "denominator": {"kind": "persons", "age": {}},
                    "numerator": {"kind": "subset", "criteria": [{"type": "cha2ds2_vasc", "at_least": 3}]}}),
    ("proportion", {"per": 100, "denominator": {"kind": "persons", "age": {}},
                    "numerator": {"kind": "subset", "criteria": [{
                        "type": "near_first_record", "codelist": ["spirometry"], "first": ["asthma"],
                        "months_before": 3, "months_after": 3}]}}),
    ("count", {"numerator": {"kind": "events", "table": "inpatient_spells", "age": {}, "count": "events",
                             "where": {"admission_method": ["emergency", "elective"]}, "date": "admission_date",
                             "secondary_codelist": ["icd10_falls"]}}),
]
"""Blocks that the sweep's draws rarely make count anyone in :func:`definitions.records`, each in a definition that
does: CHA2DS2-VASc of at least 3 (an AF register of every score from 1 to 6), an objective test near a first record
(one test within three months of the first asthma record and one not), secondary diagnoses (falls by secondary code
in two spells)."""


SWEEP_SEED = 0
"""Hypothesis's seed for the draws of the DuckDB and Spark test (:func:`_sweep`), fixed as :data:`AGREE_SEED` is: with
seed 0 the sweep's 80 draws (drawn from the seed alone, :func:`definitions.seed_alone`) choose 16 definitions that draw
every measure type in :data:`SHAPES` and every block in :data:`BLOCKS` (60 draws do so for none of the seeds 0 to
13)."""


def _sweep(duck: ibis.BaseBackend, draws: int) -> tuple[Catalogue, pa.Table]:
    """Few generated definitions that between them exercise every part (:func:`_features`) that any of ``draws``
    seeded draws (:data:`SWEEP_SEED`) counting someone on DuckDB does (greedy: each next the one with most parts not yet
    exercised), so that a block drawn only where it counts no one (CHA2DS2-VASc of at least 7 among children) cannot
    stand for the block; their catalogue, and their counts on DuckDB."""
    drawn: list[dict[str, Any]] = []

    @seed(SWEEP_SEED)
    @settings(max_examples=draws, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=indicators("g"))
    def draw(raw: dict[str, Any]) -> None:
        drawn.append(raw | {"id": f"g{len(drawn)}"})

    with seed_alone():
        draw()
    drawn += [described(f"g{len(drawn) + i}", shape, parts, "monthly") | {"geographies": ["ics", "practice"],
                                                                            "breakdowns": ["none", "sex"]}
              for i, (shape, parts) in enumerate(COUNTING)]
    profile = load_catalogue(load_profile())
    every = compute(duck, parsed({"age_bands": profile.age_bands, "indicators": drawn}, profile), periods_range=YEAR)
    counted = set(every.filter(pc.greater(every["numerator"], 0))["indicator_id"].to_pylist())
    pool = [r for r in drawn if r["id"] in counted]
    chosen: list[dict[str, Any]] = []
    left = set().union(*map(_features, pool))
    while left:
        best = max(pool, key=lambda r: len(_features(r) & left))
        left -= _features(best)
        chosen.append(best)
    ids = pa.array([r["id"] for r in chosen])
    return (parsed({"age_bands": profile.age_bands, "indicators": chosen}, profile),
            every.filter(pc.is_in(every["indicator_id"], ids)))


@pytest.mark.spark
def test_generated_definitions_identical_on_duckdb_and_spark(spark_url):
    """Every measure type and :data:`BLOCKS` entry, and every criterion, table, filter, geography and breakdown the
    sweep draws, in one catalogue of generated definitions that count someone (:func:`_sweep`), computed once on Spark:
    Spark runs each indicator as many jobs in local mode, so one warehouse load and one computation serve them all."""
    cat, duck = _sweep(records().load(ibis.duckdb.connect()), draws=80)
    assert {i.measure for i in cat.indicators} == SHAPES
    assert _blocks(cat) == set(BLOCKS)
    spark = connect(spark_url)
    try:
        _same(duck, compute(records().load(spark), cat, periods_range=YEAR), _expected_ids(cat))
    finally:
        spark.disconnect()
