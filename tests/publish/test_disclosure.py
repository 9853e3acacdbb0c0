"""Disclosure control: primary and secondary suppression on designed tables."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from placewise.publish.disclosure import DisclosureRule, determined_cells, primary_mask, suppress_table, with_totals

RULE = DisclosureRule(threshold=10, suppress_zero=False)


def _recoverable(counts: np.ndarray, mask: np.ndarray) -> list[tuple[int, int, float]]:
    """Hidden cells recoverable by subtraction, worked out independently of the module.

    Each row (and, for a table of more than one row, each column) says: the inner cells add up
    to the total. Repeatedly, any line with exactly one unknown left gives it by subtraction,
    and the recovered value counts as known for the other lines.
    """
    known = ~mask.copy()
    value = np.where(known, counts, np.nan)
    found = []
    changed = True
    while changed:
        changed = False
        for axis in (0, 1) if counts.shape[0] > 1 else (0,):
            lines = value if axis == 0 else value.T
            knowns = known if axis == 0 else known.T
            for i in range(lines.shape[0]):
                unknown = np.flatnonzero(~knowns[i])
                if unknown.size != 1:
                    continue
                j = unknown[0]
                inner = lines[i, :-1]
                total = j == lines.shape[1] - 1
                v = np.nansum(inner) if total else lines[i, -1] - np.nansum(np.delete(inner, j))
                r, c = (i, j) if axis == 0 else (j, i)
                value[r, c], known[r, c] = v, True
                found.append((r, c, v))
                changed = True
    return found


def test_primary_suppression_hides_counts_below_threshold_but_not_zero():
    counts = np.array([0, 1, 9, 10, 11, np.nan])
    assert primary_mask(counts, RULE).tolist() == [False, True, True, False, False, False]
    with_zero = DisclosureRule(threshold=10, suppress_zero=True)
    assert primary_mask(counts, with_zero).tolist() == [True, True, True, False, False, False]


def test_one_small_cell_forces_secondary_suppression_in_its_row_and_column():
    # Inner 3x3 table; only (0, 0) = 3 is small. Without secondary suppression, row 0's total
    # minus 40 and 50 gives it back.
    table = with_totals([[3, 40, 50], [20, 30, 60], [25, 35, 45]])
    mask = suppress_table(table, RULE)
    assert mask[0, 0]
    # Row 0's smallest other cell is 40 (0, 1); column 0's smallest other cell is 20 (1, 0);
    # then row 1 and column 1 each hold one hidden cell, and the smallest completing cell is
    # (1, 1) = 30. The four hidden cells form a rectangle, which no subtraction can open.
    expected = np.zeros_like(mask)
    expected[[0, 0, 1, 1], [0, 1, 0, 1]] = True
    assert (mask == expected).all()
    assert _recoverable(table, mask) == []
    assert not determined_cells(mask).any()


def test_without_secondary_suppression_the_small_cell_is_recoverable():
    # The same table with only primary suppression: the checker gets 3 back by subtraction,
    # which shows the checker works and that secondary suppression is needed.
    table = with_totals([[3, 40, 50], [20, 30, 60], [25, 35, 45]])
    primary = primary_mask(table, RULE)
    assert (0, 0, 3.0) in _recoverable(table, primary)
    assert determined_cells(primary)[0, 0]


def test_one_row_table_hides_the_next_smallest_category():
    # Five IMD quintiles and their total; quintile 4 has 6 events.
    counts = np.array([[120, 80, 45, 6, 30, 281]])
    mask = suppress_table(counts, RULE)
    assert mask.tolist() == [[False, False, False, True, True, False]]
    assert _recoverable(counts, mask) == []


def test_a_small_total_is_hidden_with_its_cells():
    # Row 1 totals 8: the total is small itself, and so is each cell in it.
    table = with_totals([[50, 60], [5, 3]])
    mask = suppress_table(table, RULE)
    assert mask[1, 0] and mask[1, 1] and mask[1, 2]
    assert _recoverable(table, mask) == []
    assert not determined_cells(mask).any()


def test_a_bridge_between_two_hidden_rectangles_is_protected():
    # Two closed rectangles joined by one hidden cell: every row and column has two or more
    # hidden cells, yet the joining cell is fixed by the equations. The audit must hide more.
    inner = np.arange(25, dtype=float).reshape(5, 5) + 20
    table = with_totals(inner)
    primary = np.zeros(table.shape, dtype=bool)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        primary[r, c] = True
    assert determined_cells(primary)[1, 2]
    mask = suppress_table(table, RULE, primary=primary)
    assert (mask & primary).sum() == primary.sum()
    assert not determined_cells(mask).any()


@pytest.mark.parametrize("seed", range(20))
def test_random_tables_leave_nothing_recoverable(seed):
    rng = np.random.default_rng(seed)
    inner = rng.integers(0, 40, size=(rng.integers(2, 6), rng.integers(2, 6)))
    table = with_totals(inner)
    mask = suppress_table(table, RULE)
    assert primary_mask(table, RULE)[mask == False].sum() == 0  # noqa: E712 every small cell is hidden
    assert _recoverable(table, mask) == []
    assert not determined_cells(mask).any()
    # Every hidden cell shares its row and its column with at least one other hidden cell.
    for r, c in itertools.product(range(table.shape[0]), range(table.shape[1])):
        if mask[r, c]:
            assert mask[r].sum() >= 2 and mask[:, c].sum() >= 2


def test_cells_with_no_figure_count_as_unknown():
    # Luton's quintile 5 is small; the ICS has no quintile figures (NaN), so the quintile columns
    # cannot be subtracted and only Luton's row needs a secondary cell.
    nan = np.nan
    table = np.array([
        [300, 260, 200, 120, 3, 883],      # Luton by quintile, and its total
        [nan, nan, nan, nan, nan, 779],    # Bedford: total only
        [nan, nan, nan, nan, nan, 1662],   # ICS: total only (the last row)
    ])
    mask = suppress_table(table, RULE)
    assert np.argwhere(mask).tolist() == [[0, 3], [0, 4]]
    # With the ICS quintile figures published, each hidden cell's column would give it away, so
    # the audit hides more until nothing is determined.
    full = table.copy()
    full[2, :5] = [310, 270, 210, 125, 8]
    full[1, :5] = full[2, :5] - full[0, :5]
    mask = suppress_table(full, RULE)
    assert mask[0, 4] and mask[1, 4]  # Bedford's quintile 5 (5) is small as well
    assert not determined_cells(mask).any()
    assert _recoverable(full, mask) == []
