"""Ibis's merging of nested projections with each node's complexity scored once while an expression is compiled
(:mod:`placewise.warehouse.engines.rewrites`): the same scores, so the same SQL; and the merging left out for an
engine's compiling alone."""

from __future__ import annotations

import threading
from collections.abc import Callable

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pytest

from placewise.warehouse.engines import engine_for, rewrites

INDICATORS = ["af_anticoagulated", "hypertension_treated_to_target", "emergency_admissions_dsr"]
"""Among the catalogue's dearest queries to compile: registers, cohorts, events, an age-standardised rate."""


@pytest.fixture(scope="module")
def queries(catalogue_queries: Callable[..., tuple[ibis.BaseBackend, dict[str, ir.Table]]]
            ) -> tuple[ibis.BaseBackend, dict[str, ir.Table]]:
    """Each indicator's finest cells for one period, as ``placewise explain`` builds them, over an empty warehouse."""
    return catalogue_queries(INDICATORS)


def test_the_programs_scoring_is_installed() -> None:
    """Ibis's merging of projections looks the scoring up by name in its module: ours is there."""
    import ibis.backends.sql.rewrites as ibis_rewrites

    assert ibis_rewrites.complexity is rewrites.complexity
    assert rewrites.IBIS_COMPLEXITY is not rewrites.complexity


def test_every_node_scores_as_ibis_scores_it(queries: tuple[ibis.BaseBackend, dict[str, ir.Table]]) -> None:
    """Every relation of the queries and every value it selects scores as Ibis's own walk scores it, with the scores
    kept across the nodes."""
    _, built = queries
    for expr in built.values():
        relations = list(expr.op().find(ops.Relation))
        nodes = [*relations, *(v for r in relations for v in r.values.values())]
        assert any(isinstance(n, ops.Field) for n in nodes) and len(relations) > 20
        with rewrites.scores_kept():
            ours = [rewrites.complexity(n) for n in nodes]
        assert ours == [rewrites.IBIS_COMPLEXITY(n) for n in nodes]
        assert max(ours) > 100


def test_an_impure_function_scores_as_the_most_complex() -> None:
    """As in Ibis, a random number makes its expression maximally complex (never merged into another projection)."""
    t = ibis.table({"a": "int64"}, name="t")
    node = (t.a + ibis.random()).op()
    with rewrites.scores_kept():
        assert rewrites.complexity(node) == rewrites.IBIS_COMPLEXITY(node) > 2**62


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_the_sql_is_ibis_own(queries: tuple[ibis.BaseBackend, dict[str, ir.Table]], dialect: str,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each query compiles to the same SQL as with Ibis's own scoring (outside :func:`rewrites.scores_kept`), through
    the engine's compile for DuckDB (as Ibis compiles it with its option set as the engine merges projections), and
    for PostgreSQL's dialect."""
    con, built = queries
    engine = engine_for(con)
    for expr in built.values():
        ibis_own = ibis.to_sql(expr, dialect=dialect)
        if dialect == "duckdb":
            ours = engine.compile(expr)
            with monkeypatch.context() as m:
                m.setattr(ibis.options.sql, "fuse_selects", engine.fuses_selects)
                assert ours == con.compile(expr)
        with rewrites.scores_kept():
            assert ibis.to_sql(expr, dialect=dialect) == ibis_own


def test_the_programs_lowering_is_installed() -> None:
    """Ibis's compilers look the lowering up by name in their module: ours is there, and leaves the option alone."""
    import ibis.backends.sql.compilers.base as ibis_compilers

    assert ibis_compilers.sqlize is rewrites.sqlize
    assert rewrites.IBIS_SQLIZE is not rewrites.sqlize
    assert ibis.options.sql.fuse_selects


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_projections_unmerged_in_the_block_alone(queries: tuple[ibis.BaseBackend, dict[str, ir.Table]],
                                                 dialect: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In :func:`rewrites.selects_fused` a query compiles as with Ibis's option set the same way, other SQL from the
    merged; Ibis's option is left as it was, and another thread compiling meanwhile merges as the option says."""
    _, built = queries
    expr = built["hypertension_treated_to_target"]
    merged = ibis.to_sql(expr, dialect=dialect)
    with monkeypatch.context() as m:
        m.setattr(ibis.options.sql, "fuse_selects", False)
        unmerged = ibis.to_sql(expr, dialect=dialect)
    assert unmerged != merged and unmerged.count("SELECT") > merged.count("SELECT")
    other: list[str] = []
    with rewrites.selects_fused(False):
        assert ibis.options.sql.fuse_selects
        beside = threading.Thread(target=lambda: other.append(ibis.to_sql(expr, dialect=dialect)))
        beside.start()
        beside.join()
        assert ibis.to_sql(expr, dialect=dialect) == unmerged
        with rewrites.selects_fused(True):
            assert ibis.to_sql(expr, dialect=dialect) == merged
        assert ibis.to_sql(expr, dialect=dialect) == unmerged
    assert other == [merged]
    assert ibis.to_sql(expr, dialect=dialect) == merged
