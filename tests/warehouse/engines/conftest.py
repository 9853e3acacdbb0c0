"""One warehouse per test on every engine: the behaviour suite runs each test over all of them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ibis.backends import BaseBackend

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
