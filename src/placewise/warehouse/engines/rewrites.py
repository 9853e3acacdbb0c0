"""Ibis's merging of nested projections made cheaper to compile, its SQL unchanged; or left out for an engine.

When Ibis lowers an expression to SQL it merges each ``SELECT`` over a ``SELECT`` into one where that is no more
complex (``ibis.backends.sql.rewrites.merge_select_select``), scoring both forms with ``complexity``: a walk over
every node beneath, the whole relation below included, done afresh for each merge tried. An indicator's query tries
a few dozen merges over the same subtrees, so the walks cost about a sixth of compiling the catalogue (1.0 of 6.4 s
of CPU time at any scale). :func:`complexity` gives the same scores, each node's scored once while one expression
is compiled (:func:`scores_kept`) and the scores of its children reused; outside that block it is Ibis's own.

Merging at all is Ibis's global option ``ibis.options.sql.fuse_selects``, read each time an expression is lowered.
An engine whose planner merges nested ``SELECT``s itself gets the same plan from the SQL unmerged, and compiling it
costs less (the merges and their scores are most of Ibis's rewriting): :func:`selects_fused` sets it for one
thread's compiling while a block runs, leaving the option, and every other thread's compiling, as they are.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ibis.backends.sql.rewrites as ibis_rewrites
import ibis.expr.operations as ops
from ibis.common.graph import Node

IBIS_COMPLEXITY = ibis_rewrites.complexity
"""Ibis's own scoring (a walk of the whole subtree each time it is called)."""

IBIS_SQLIZE = ibis_rewrites.sqlize
"""Ibis's lowering of an expression to SQL's relations, which its compilers call."""

_kept = threading.local()
"""This thread's scores while it compiles an expression (:func:`scores_kept`), else none; and whether its compiling
merges nested projections (:func:`selects_fused`), else Ibis's option decides."""


def complexity(node: Node) -> int:
    """Ibis's score of a node: 1 for a column of a relation (``Field``), the largest for an impure function, else 1
    plus the scores of its children (each as often as it is a child). Scores already worked out while this
    expression is compiled are reused."""
    scores: dict[Node, int] | None = getattr(_kept, "scores", None)
    if scores is None:
        return IBIS_COMPLEXITY(node)
    stack = [node]
    while stack:  # depth first, without recursion: a query's graph can be deeper than Python's stack allows
        n = stack[-1]
        if n in scores:
            stack.pop()
        elif isinstance(n, ops.Field):
            scores[stack.pop()] = 1
        elif isinstance(n, ops.Impure):
            scores[stack.pop()] = sys.maxsize
        elif todo := [c for c in n.__children__ if c not in scores]:
            stack.extend(todo)
        else:
            scores[stack.pop()] = 1 + sum(scores[c] for c in n.__children__)
    return scores[node]


@contextmanager
def scores_kept() -> Iterator[None]:
    """Keep complexity scores on this thread for the block (one expression's compiling), dropped after it."""
    outer = getattr(_kept, "scores", None)
    _kept.scores = outer if outer is not None else {}
    try:
        yield
    finally:
        _kept.scores = outer


@contextmanager
def selects_fused(fused: bool) -> Iterator[None]:
    """Whether this thread's compiling merges nested projections while the block runs (:func:`sqlize`)."""
    outer = getattr(_kept, "fused", None)
    _kept.fused = fused
    try:
        yield
    finally:
        _kept.fused = outer


def sqlize(node: Node, params: Any, rewrites: Any = (), post_rewrites: Any = (), fuse_selects: bool = True) -> Any:
    """Ibis's lowering (:data:`IBIS_SQLIZE`), nested projections merged or not as this thread's block says
    (:func:`selects_fused`); outside such a block as Ibis's option says (the ``fuse_selects`` its compiler passes)."""
    fused = getattr(_kept, "fused", None)
    return IBIS_SQLIZE(node, params, rewrites, post_rewrites, fuse_selects if fused is None else fused)


def install() -> None:
    """Have Ibis's merging of projections score nodes with :func:`complexity`, and its compilers lower with
    :func:`sqlize` (once; their modules look the names up each time). The compilers' base module is imported here,
    after :func:`placewise.warehouse.engines.compilers_on_demand`, so that no dialect's compiler comes with it."""
    import ibis.backends.sql.compilers.base as ibis_compilers

    ibis_rewrites.complexity = complexity
    ibis_compilers.sqlize = sqlize
