"""One synthetic delivery ingested into DuckDB, PostgreSQL and Spark: the same canonical tables, the whole catalogue
gives the same measurements, and the population health tables (segments, frailty, risk features at two dates,
worklists and their stored runs' planted-case check) are the same (counts exactly, values and intervals within 1e-9).

The default lane runs scale 0.003 (about 3,300 people, two years, with the generator's planted worklist cases, the
same at any scale, so every list's rule has people on both sides of it); scale 0.05 is run and timed by
``benchmarks/bench_engines.py`` (docs/benchmarks.md), too slow for CI on Spark's local mode. Each engine's
warehouse is loaded once per module and shared by its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from placewise.analyse.planted import cases_with_person_id, planted_recall
from placewise.analyse.risk import at_date, dataset
from placewise.analyse.verify import verify
from placewise.canonical import PERSON_KEY, TABLES
from placewise.derive.people import PID
from placewise.derive.segments import ITEMS_TABLE, PEOPLE_TABLE, latest_month_end, phm_tables
from placewise.derive.worklists import RISK_TABLE, ROWS_TABLE, RUNS_TABLE, build_lists, content_hash, run
from placewise.ingest.load import IngestResult, ingest
from placewise.measure import load_catalogue
from placewise.profile import load_profile
from placewise.profile.worklists import load_worklists
from placewise.sources.synth.generate import generate
from placewise.warehouse import connect
from placewise.warehouse.derived import replace_table
from placewise.warehouse.engines import engine_for

pytestmark = pytest.mark.slow
KEY = b"engine agreement test key, not a secret"
SCALE = 0.003


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic BLMK with two years of history."""
    out = tmp_path_factory.mktemp("agreement") / "files"
    generate(load_profile(), scale=SCALE, seed=5, out=out, years=2)
    return out


@pytest.fixture(scope="module")
def reference(delivery: Path) -> str:
    """The delivery ingested into DuckDB, the reference engine."""
    url = str(delivery.parent / "reference.duckdb")
    ingest(delivery, url, KEY)
    return url


@dataclass(frozen=True)
class Loaded:
    """The delivery ingested into another engine, twice: the URL and each ingest's outcome."""

    engine: str
    url: str
    first: IngestResult
    again: IngestResult


@pytest.fixture(scope="module", params=[pytest.param("postgres", marks=pytest.mark.postgres),
                                        pytest.param("spark", marks=pytest.mark.spark)])
def other(request: pytest.FixtureRequest, delivery: Path) -> Loaded:
    """The delivery ingested (twice) into PostgreSQL or Spark, once for the module's tests."""
    url = request.getfixturevalue(f"module_{request.param}_url")
    return Loaded(request.param, url, ingest(delivery, url, KEY), ingest(delivery, url, KEY))


def _sorted(con, name: str) -> pa.Table:  # type: ignore[no-untyped-def]
    """A table's rows sorted on every column (engines return rows in any order)."""
    t = con.table(name).to_pyarrow()
    return t.sort_by([(c, "ascending") for c in t.column_names])


def test_ingest_writes_the_same_canonical_tables(reference: str, other: Loaded) -> None:
    """Ingest writes identical canonical tables; a second ingest of the same files adds nothing."""
    assert other.first.batch_id is not None and other.first.rows_quarantined == 0
    assert other.again.nothing_new  # no duplicate rows
    ref, con = connect(reference), connect(other.url)
    try:
        for t in TABLES:
            a, b = _sorted(ref, t.name), _sorted(con, t.name)
            assert a.num_rows == b.num_rows, t.name
            assert a.cast(b.schema).equals(b), t.name
    finally:
        ref.disconnect()
        con.disconnect()


def test_every_indicator_gives_the_same_measurements(reference: str, other: Loaded) -> None:
    """Every indicator of the catalogue gives identical measurements."""
    ref, con = connect(reference), connect(other.url)
    try:
        catalogue = load_catalogue(load_profile())
        result = verify([("duckdb", ref), (other.engine, con)], catalogue, [i.id for i in catalogue.indicators])
        assert result.rows["duckdb"] > 10_000
        assert result.differences == []
    finally:
        ref.disconnect()
        con.disconnect()


def _same(a: pa.Table, b: pa.Table, what: str) -> None:
    """The same rows in any order: whole numbers, text and dates exactly, floating-point within 1e-9 relative."""
    assert a.column_names == b.column_names, what
    assert a.num_rows == b.num_rows, what
    b = b.cast(a.schema)
    key = [c for c in a.column_names if not pa.types.is_floating(a.schema.field(c).type)]
    a, b = (t.sort_by([(c, "ascending") for c in key]) for t in (a, b))
    for c in a.column_names:
        if c in key:
            assert a[c].equals(b[c]), f"{what}: {c}"
        else:
            np.testing.assert_allclose(a[c].to_numpy(zero_copy_only=False), b[c].to_numpy(zero_copy_only=False),
                                       rtol=1e-9, atol=0, equal_nan=True, err_msg=f"{what}: {c}")


def _by_person(people: pa.Table, items: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The PHM tables with the person's pseudonym in place of their number, which is fixed per computation."""
    who = people.select([PID, PERSON_KEY, "reference_date"])
    items = items.join(who, [PID, "reference_date"])
    return people.drop_columns([PID]), items.drop_columns([PID])


def _risk_scores(con: ibis.BaseBackend) -> pa.Table:
    """Stored risk scores made from the stored PHM table: the top band is everyone with an emergency admission."""
    t = con.table(PEOPLE_TABLE).select(PERSON_KEY, "practice_code", "reference_date", "emergency_admissions")
    t = t.to_pyarrow().sort_by(PERSON_KEY)
    n = t["emergency_admissions"]
    return pa.table({PERSON_KEY: t[PERSON_KEY], "practice_code": t["practice_code"],
                     "reference_date": t["reference_date"], "risk": pc.divide(pc.cast(n, pa.float64()), 10.0),
                     "high_risk": pc.greater(n, 0), "model_version": pa.array(["admissions"] * t.num_rows)})


@dataclass(frozen=True)
class Phm:
    """The population health tables one engine made from the delivery."""

    people: pa.Table
    items: pa.Table
    features: pa.Table
    lists: dict[str, str]


def _phm(url: str, scores: pa.Table | None) -> Phm:
    """Build everything on one warehouse: the PHM tables at two dates in one pass (a year apart, ending at the
    data's last month end), stored at the last date as ``placewise phm`` stores them; the risk features there; each
    worklist's rows (their content hash) over ``scores`` (if none, those of :func:`_risk_scores` on this warehouse).

    The PHM tables are computed once: on Spark's local mode each computation is some hundreds of jobs."""
    con = connect(url)
    try:
        profile = load_profile()
        on = latest_month_end(con)
        with phm_tables(con, profile, [on.replace(year=on.year - 1), on]) as made:
            people, items = (t.to_pyarrow() for t in made)
        replace_table(con, ITEMS_TABLE, at_date(items, on))
        replace_table(con, PEOPLE_TABLE, at_date(people, on))
        features = dataset(con, profile, [on], with_outcome=True)
        replace_table(con, RISK_TABLE, _risk_scores(con) if scores is None else scores)
        lists = {i: content_hash(rows) for i, rows in build_lists(con, load_worklists(profile)).items()}
        return Phm(*_by_person(people, items), features, lists)
    finally:
        con.disconnect()


@pytest.fixture(scope="module")
def reference_phm(reference: str) -> tuple[Phm, pa.Table]:
    """The population health tables on DuckDB, and the risk scores stored there for the worklists."""
    phm = _phm(reference, None)
    con = connect(reference)
    scores = con.table(RISK_TABLE).to_pyarrow()
    con.disconnect()
    return phm, scores


def test_population_health_tables_are_the_same(reference_phm: tuple[Phm, pa.Table], other: Loaded) -> None:
    """Segments, frailty, multimorbidity, registers and activity at two dates in one pass, the risk model's features
    from the stored tables and every worklist's rows (by content hash) are the same as on DuckDB."""
    ref, scores = reference_phm
    got = _phm(other.url, scores)
    assert len(set(ref.people["reference_date"].to_pylist())) == 2 and ref.people.num_rows > 1000
    assert len(set(ref.people["segment"].to_pylist())) > 3 and pc.sum(ref.features["efi"]).as_py() > 0
    _same(ref.people, got.people, "phm_tables people")
    _same(ref.items, got.items, "phm_tables items")
    _same(ref.features, got.features, "risk features")
    assert got.lists == ref.lists and len(ref.lists) == len(load_worklists(load_profile()).worklists)


def test_stored_worklist_runs_and_planted_cases_are_the_same(delivery: Path, reference: str,
                                                              reference_phm: tuple[Phm, pa.Table], other: Loaded) -> None:
    """Every list's run stored over the PHM tables and scores :func:`_phm` stores gives the planted-case check
    DuckDB's gives, with planted positives found; the runs are tables of the Placewise warehouse, read again by the
    next connection, whose re-run stores nothing new."""
    _phm(other.url, reference_phm[1])
    cases = cases_with_person_id(delivery / "truth" / "worklist_cases.parquet", KEY)
    lists = load_worklists(load_profile())
    recalls = []
    for url in (reference, other.url):
        con = connect(url)
        try:
            stored = run(con, lists)
            recalls.append([replace(r, run_id=None) for r in planted_recall(con, cases)])  # run ids are times
        finally:
            con.disconnect()
    con = connect(other.url)
    try:
        again = run(con, lists)
        assert {RUNS_TABLE, ROWS_TABLE} <= engine_for(con).table_names()
        assert not any(r.new for r in again.values()) and again == {i: replace(r, new=False) for i, r in stored.items()}
        assert con.table(RUNS_TABLE).count().to_pyarrow().as_py() == len(lists.worklists)
        assert con.table(ROWS_TABLE).count().to_pyarrow().as_py() == sum(r.rows for r in stored.values()) > 0
    finally:
        con.disconnect()
    assert recalls[0] == recalls[1] and sum(r.found for r in recalls[0]) > 0
