"""Ibis's nodes made with their arguments matched by position (:mod:`placewise.warehouse.engines.construction`): the
same nodes as Ibis's own binding makes, and the same errors."""

from __future__ import annotations

import re
from collections.abc import Callable

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import pytest
from ibis.common.annotations import SignatureValidationError
from ibis.common.grounds import Annotable, Concrete

from placewise.warehouse.engines import construction

INDICATORS = ["af_anticoagulated", "hypertension_treated_to_target", "emergency_admissions_dsr", "gp_dna_rate"]
"""Registers, cohorts, events, an age-standardised rate, and a count of events by status."""


def test_the_programs_construction_is_installed() -> None:
    """Every Ibis node is made through :func:`construction.created` once the engines are imported."""
    assert Annotable.__create__.__func__ is construction.created  # type: ignore[attr-defined]


def test_the_queries_are_those_ibis_makes(monkeypatch: pytest.MonkeyPatch,
                                         catalogue_queries: Callable[..., tuple[ibis.BaseBackend, dict[str, ibis.Table]]]) -> None:
    """The catalogue's queries built with Ibis's own binding and with ours compile to the same SQL, in DuckDB's and
    PostgreSQL's dialects (the small tables of constants named alike: Ibis names each at random as it is made)."""
    _, ours = catalogue_queries(INDICATORS, grouped=True)
    taken = [c for c, plan in construction._plans.items() if plan is not None]
    assert len(taken) > 30 and ops.Field in taken and ops.Aggregate in taken
    with monkeypatch.context() as m:
        m.setattr(Annotable, "__create__", classmethod(construction.IBIS_CREATE))
        _, theirs = catalogue_queries(INDICATORS, grouped=True)
        assert Annotable.__create__.__func__ is construction.IBIS_CREATE  # type: ignore[attr-defined]
        sql = {(i, d): ibis.to_sql(e, dialect=d) for i, e in theirs.items() for d in ("duckdb", "postgres")}
    for i in INDICATORS:
        assert len(list(ours[i].op().find(ops.Node))) > 200
        for d in ("duckdb", "postgres"):
            assert _named(ibis.to_sql(ours[i], dialect=d)) == _named(sql[i, d])


def _named(sql: str) -> str:
    """The SQL with each small table of constants (which Ibis names at random as it is made) named by its place."""
    names: dict[str, str] = {}
    return re.sub(r"ibis_\w+_memtable_\w+", lambda m: names.setdefault(m.group(0), f"constants_{len(names)}"), sql)


class Pair(Concrete):
    """A node of two arguments, the second with a default."""

    a: int
    b: float = 0.5


def _made(make: object) -> tuple[object, str]:
    """What a call returns, or the type and words of the error it raises."""
    try:
        return make(), ""  # type: ignore[operator]
    except Exception as e:  # the error is what is compared
        return type(e), str(e)


CALLS = {
    "by position": lambda: Pair(1, 2.0),
    "by name": lambda: Pair(b=2.0, a=1),
    "the default": lambda: Pair(1),
    "an int for a float": lambda: Pair(1, 2),
    "missing": lambda: Pair(),
    "unknown name": lambda: Pair(1, c=3),
    "by position and by name": lambda: Pair(1, a=2),
    "too many": lambda: Pair(1, 2.0, 3),
    "refused": lambda: Pair("x"),
    "a literal": lambda: ops.Literal(3, dt.int16),
    "a literal refused": lambda: ops.Literal(3, "not a type"),
    "a field of no relation": lambda: ops.Field(None, "a"),
}
"""Calls made both ways: plain ones, and every kind that :func:`construction.created` leaves to Ibis."""


@pytest.mark.parametrize("call", CALLS)
def test_a_node_or_its_error_is_ibis_own(call: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each call makes the same node, or raises the same error in the same words, as with Ibis's own binding."""
    ours = _made(CALLS[call])
    with monkeypatch.context() as m:
        m.setattr(Annotable, "__create__", classmethod(construction.IBIS_CREATE))
        theirs = _made(CALLS[call])
    assert ours == theirs
    if call in ("by position", "by name"):
        assert ours[0] == Pair(1, 2.0) and isinstance(ours[0].b, float)  # type: ignore[union-attr]
    if call == "the default":
        assert ours[0].b == 0.5  # type: ignore[union-attr]
    if call in ("missing", "unknown name", "by position and by name", "too many", "refused", "an int for a float"):
        assert ours[0] is SignatureValidationError and "Pair" in ours[1]
