"""One warehouse per test on every engine: the behaviour suite runs each test over all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest
from ibis.backends import BaseBackend

from placewise.measure.catalogue import load_catalogue
from placewise.measure.compile import by_breakdown, cells, indicator_units
from placewise.measure.trial import context, ensure_tables, period_of
from placewise.profile import load_profile
from placewise.warehouse import connect
from placewise.warehouse.engines import Engine, engine_for


@pytest.fixture(params=[
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    pytest.param("spark", id="spark", marks=pytest.mark.spark),
])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a new, empty warehouse on the engine the test is run for."""
    if request.param != "duckdb":
        return request.getfixturevalue(f"{request.param}_url")
    return str(tmp_path / "wh.duckdb")


@pytest.fixture
def con(url: str) -> Iterator[BaseBackend]:
    """The warehouse, open."""
    backend = connect(url)
    yield backend
    backend.disconnect()


@pytest.fixture
def engine(con: BaseBackend) -> Engine:
    """The engine behind the open warehouse."""
    return engine_for(con)


def _catalogue_queries(indicators: list[str], grouped: bool = False) -> tuple[BaseBackend, dict[str, ir.Table]]:
    """An empty in-memory DuckDB warehouse, and over it each indicator's finest cells for one period (summed by
    breakdown group where ``grouped``), as ``placewise explain`` builds them."""
    catalogue = load_catalogue(load_profile())
    con = ibis.duckdb.connect()
    ensure_tables(con)
    built = {}
    for i in indicators:
        ind = catalogue.indicator(i)
        ps = [period_of(ind, date(2024, 3, 31))]
        ctx = context(con, catalogue, ind, ps)
        finest = cells(ctx, ind, indicator_units(ctx, ind, ps))
        built[i] = by_breakdown(ctx, ind, finest) if grouped else finest
    return con, built


@pytest.fixture(scope="session")
def catalogue_queries() -> Callable[..., tuple[BaseBackend, dict[str, ir.Table]]]:
    """Builds the catalogue's queries for the compiling tests (:func:`_catalogue_queries`)."""
    return _catalogue_queries
