"""Derive tests run on every engine: DuckDB in memory and the PostgreSQL server the run starts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import ibis
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))   # the hand-made warehouse builder


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def connect(request: pytest.FixtureRequest) -> Callable[[], ibis.BaseBackend]:
    """A function returning an empty connection on the engine under test."""
    if request.param == "duckdb":
        return ibis.duckdb.connect
    url = request.getfixturevalue("postgres_url")
    return lambda: ibis.connect(url)
