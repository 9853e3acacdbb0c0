"""Spec tests: every indicator and register on hand-built patients, results worked from the published rule.

Each YAML file beside this one is one specification: the rule it is worked from, a few patients
(boundary cases included) and the expected numerator and denominator, in total and person by
person. Each runs on DuckDB and on PostgreSQL, through the same compiler as the full computation.
The files are rendered into docs/writing-an-indicator.md (see test_spec_docs.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import ibis
import pytest
import yaml

from placewise.canonical import PERSON_KEY
from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.measure.patients import load_patients, parse_patients
from placewise.measure.trial import period_of, register_trace, trace
from placewise.profile import load_profile

SPECS = sorted(Path(__file__).parent.glob("*.yaml"))
PROFILE = load_profile()
CATALOGUE = load_catalogue(PROFILE)


def spec(path: Path) -> dict:
    """One spec file, parsed."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def con(request: pytest.FixtureRequest) -> ibis.BaseBackend:
    """An empty connection on the engine under test."""
    if request.param == "duckdb":
        return ibis.duckdb.connect()
    return ibis.connect(request.getfixturevalue("postgres_url"))


def totals(con: ibis.BaseBackend, indicator: str, end: date) -> tuple[float, float]:
    """ICS numerator and denominator of the period ending on ``end``, summed over any ESP bands."""
    ind = CATALOGUE.indicator(indicator)
    start, _ = period_of(ind, end)
    counts = compute(con, CATALOGUE, periods_range=ReportingRange(start, end), indicators=[indicator]).to_pandas()
    rows = counts[(counts.period_end == end) & (counts.geography_type == "ics") & (counts.breakdown == "none")]
    return float(rows.numerator.sum()), float(rows.denominator.sum())


def per_person(con: ibis.BaseBackend, indicator: str, end: date) -> dict[str, list[float]]:
    """Each person's [numerator, denominator] contributions, from the person-level trace."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    sides = trace(con, CATALOGUE, indicator, end)
    for side, t in sides.items():
        if PERSON_KEY not in t.column_names:
            continue
        for row in t.to_pylist():
            if row.get("practice_code", "P") is None:
                continue                      # not registered anywhere that day: counted in no geography
            who = out[row[PERSON_KEY]]
            if side == "units":
                den = float(row["denominator"]) if "denominator" in row else 1.0
                who[1] += den
                who[0] += float(row["numerator"]) if den else 0.0
            else:
                value = float(row.get("value", row.get("denominator", 0)) or 0)
                who[0 if side == "numerator" else 1] += value
                if len(sides) == 1:           # a count, mean or median: each unit is one in the denominator
                    who[1] += 1
    return {k: v for k, v in out.items() if v != [0.0, 0.0]}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_spec(path: Path, con: ibis.BaseBackend) -> None:
    s = spec(path)
    pf = parse_patients({k: s[k] for k in ("patients", "aggregate_returns") if k in s}, str(path))
    load_patients(con, pf, PROFILE)
    end = s["period_end"]
    expect = s["expect"]
    if "register" in s:
        t = register_trace(con, CATALOGUE.register(s["register"]), end)
        on = {r[PERSON_KEY] for r in t.to_pylist() if r["on_register"]}
        assert on == set(expect["on_register"])
        return
    assert totals(con, s["indicator"], end) == pytest.approx((expect["numerator"], expect["denominator"]), rel=1e-12)
    if "people" in expect:
        got = per_person(con, s["indicator"], end)
        want = {k: [float(v[0]), float(v[1])] for k, v in expect["people"].items()}
        assert got == want


def test_every_indicator_and_register_has_a_spec() -> None:
    covered = {spec(p).get("indicator") or spec(p).get("register") for p in SPECS}
    indicators = {i.id for i in CATALOGUE.indicators}
    registers = {r.id for r in CATALOGUE.registers.registers}
    assert sorted(indicators - covered) == []
    assert sorted(registers - covered) == []
