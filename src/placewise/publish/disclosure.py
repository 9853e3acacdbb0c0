"""Disclosure control: small-count suppression with secondary suppression.

A published table of counts is treated as a grid whose last row and last column are the
totals. Every row and every column, totals included, is one equation (the cells add up to
the total), so a cell is safe only if no combination of those equations pins it down. The
rules:

1. primary: a count from 1 to ``threshold - 1`` (and 0 too, if ``suppress_zero``) is hidden;
2. secondary: any row or column with exactly one hidden entry hides its smallest other entry
   (the cheapest cell that blocks the subtraction), repeated until no line has exactly one;
3. audit: a hidden cell that the equations still determine (a "bridge" between two closed
   patterns) has its smallest visible neighbour in the same row hidden too, until none is.

The threshold comes from the profile (``report.yaml``), never from code.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

SUPPRESSED_TEXT = "*"
"""What a published table shows in place of a suppressed figure."""


class DisclosureRule(BaseModel):
    """Thresholds for small-count suppression, read from the profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: int = Field(ge=1, description="Counts below this (and above zero) are suppressed")
    suppress_zero: bool = Field(description="Whether zero counts are suppressed as well")


def primary_mask(counts: np.ndarray, rule: DisclosureRule) -> np.ndarray:
    """Cells whose own count is too small to publish (NaN counts are treated as unknown, not small)."""
    counts = np.asarray(counts, dtype=float)
    small = (counts > 0) & (counts < rule.threshold)
    if rule.suppress_zero:
        small |= counts == 0
    return small


def _complete_lines(counts: np.ndarray, mask: np.ndarray) -> bool:
    """Hide the smallest other entry of every row whose only unknown is one hidden entry; True if any changed.

    A cell with no count (NaN: not published at all) is an unknown too, so a row holding one already
    has two unknowns and needs nothing more.
    """
    lonely = ((mask | np.isnan(counts)).sum(axis=1) == 1) & mask.any(axis=1)
    if not lonely.any():
        return False
    candidates = np.where(mask | np.isnan(counts), np.inf, counts)[lonely]
    cols = np.argmin(candidates, axis=1)
    usable = np.isfinite(candidates[np.arange(cols.size), cols])
    rows = np.flatnonzero(lonely)[usable]
    mask[rows, cols[usable]] = True
    return bool(usable.any())


def determined_cells(mask: np.ndarray) -> np.ndarray:
    """Hidden cells that the row and column equations of the table pin down exactly.

    The unknowns are the hidden cells; each row and each column gives one linear equation
    (inner cells minus total equals the visible remainder). A hidden cell is determined when
    every solution of the homogeneous system leaves it at zero, i.e. its coordinate is zero in
    every null-space vector.
    """
    n_rows, n_cols = mask.shape
    hidden = np.flatnonzero(mask.ravel())
    if hidden.size == 0:
        return np.zeros_like(mask, dtype=bool)
    r, c = np.divmod(hidden, n_cols)
    eq = np.zeros((n_rows + n_cols, hidden.size))
    eq[r, np.arange(hidden.size)] = np.where(c == n_cols - 1, -1.0, 1.0)
    eq[n_rows + c, np.arange(hidden.size)] = np.where(r == n_rows - 1, -1.0, 1.0)
    _, s, vt = np.linalg.svd(eq)
    rank = int((s > 1e-9 * max(1.0, s.max(initial=0.0))).sum())
    null = vt[rank:]
    pinned = np.all(np.abs(null) < 1e-9, axis=0) if null.size else np.ones(hidden.size, dtype=bool)
    out = np.zeros(mask.size, dtype=bool)
    out[hidden[pinned]] = True
    return out.reshape(mask.shape)


def suppress_table(counts: np.ndarray, rule: DisclosureRule, primary: np.ndarray | None = None) -> np.ndarray:
    """The suppression mask of a table of counts whose last row and last column are totals.

    ``primary`` adds cells already flagged upstream (for example by the measure stage). A
    one-row table (categories and their total) works the same way. NaN marks a cell with no
    figure at all: it is never published, so it counts as unknown but is never chosen to hide.
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    mask = primary_mask(counts, rule)
    if primary is not None:
        mask |= np.atleast_2d(np.asarray(primary, dtype=bool))
    single_row = counts.shape[0] == 1
    while True:
        changed = _complete_lines(counts, mask)
        if not single_row:
            changed |= _complete_lines(counts.T, mask.T)
        if changed:
            continue
        pinned = determined_cells(mask | np.isnan(counts)) & mask if not single_row else np.zeros_like(mask)
        if not pinned.any():
            return mask
        _hide_neighbour(counts, mask, pinned)


def _hide_neighbour(counts: np.ndarray, mask: np.ndarray, pinned: np.ndarray) -> None:
    """Hide the smallest visible cell in the row of the first pinned cell (else in its column)."""
    r, c = (int(i) for i in np.argwhere(pinned)[0])
    row = np.where(mask[r] | np.isnan(counts[r]), np.inf, counts[r])
    if np.isfinite(row.min()):
        mask[r, int(np.argmin(row))] = True
        return
    col = np.where(mask[:, c] | np.isnan(counts[:, c]), np.inf, counts[:, c])
    if np.isfinite(col.min()):
        mask[int(np.argmin(col)), c] = True
        return
    raise ValueError(f"cannot protect cell (row {r}, column {c}): every other cell of its row and column is hidden")


def with_totals(inner: np.ndarray) -> np.ndarray:
    """A table of counts with a total column and a total row appended."""
    inner = np.atleast_2d(np.asarray(inner, dtype=float))
    rows = np.column_stack([inner, inner.sum(axis=1)])
    return np.vstack([rows, rows.sum(axis=0)])
