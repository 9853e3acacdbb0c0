"""Disclosure control: the one rule every published figure passes, decided once per warehouse.

The rule (``disclosure.yaml`` in the profile, :class:`DisclosureRule`):

1. primary suppression: a cell whose count is from 1 to ``suppress_up_to`` is hidden, and so is a
   cell whose denominator (people or events counted) is that small;
2. secondary suppression: every total is an equation (the Places add up to the ICS, the practices
   to their PCN and Place, the groups of a breakdown to the whole population, the sites to their
   provider; each kind of part in an equation of its own; a grouping of Places that holds another, the
   difference of the two). Where a hidden cell is alone in an equation, the least costly set of further
   cells that leaves no hidden cell alone in any equation is hidden (an integer programme per batch of
   pieces of the table), and a hidden cell that the equations still pin down (checked
   exactly, by the null space of the hidden cells' equations, and for zeros by counts not being
   negative) hides its cheapest visible neighbour, until no hidden count is determined. The cheapest
   cell is a part before a total (lowest level first, then the smallest count, zeros last in their
   level); the ICS whole-population total is a complement only where nothing else will do;
3. derived figures: a hidden cell's value and interval are hidden with it, and so is every figure
   worked out from it (the quintile gap of a mean);
4. rounding: every published count is rounded to the nearest ``round_to`` (a count indicator's value
   is a count, so it is rounded too and has no interval).

:func:`decide` makes the decision once over a whole table of measurements (every indicator, period,
geography and breakdown), and :func:`publishable` applies it, so every output made from one
warehouse (each report, its headlines, matrices and charts, downloads and the API) reads the same
flags. Indicators that are already public statistics may be declared ``exempt``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import scipy
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, sparse
from scipy.sparse import csgraph
from scipy.linalg import null_space
from scipy.sparse.linalg import splu

from placewise.measure.catalogue import CROSS_BREAKDOWNS, CROSS_SEPARATOR

SUPPRESSED_TEXT = "*"
"""What a published table shows in place of a suppressed figure."""

CELL_KEYS = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code", "breakdown",
             "breakdown_group"]
"""One cell of a published table: the measurements table's key."""

DERIVED_BREAKDOWNS = {"imd_quintile_gap": ("imd_quintile", ("1", "5"))}
"""Breakdowns worked out from other cells: the mean's quintile gap from quintiles 1 and 5."""

COUNT_IS_DENOMINATOR = ("mean", "median")
"""Measures whose count is the number of units (the denominator); the numerator is a sum of values."""

DENOMINATOR_IS_COUNT = ("proportion", "crude_rate", "dsr", "mean", "median")
"""Measures whose denominator counts people or events (a ratio's is an expected count, a model output)."""

GEOGRAPHY_NAMES = {"pcn": "primary care networks", "practice": "GP practices"}
"""How the rule's statement names a geography type (others by their type)."""

PRIMARY, SECONDARY, DERIVED, UNPUBLISHED = "small count", "secondary", "derived", "not published"
"""Why a cell is hidden."""


class DisclosureRule(BaseModel):
    """The disclosure rule of a profile: what is hidden, how counts are rounded, what is exempt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suppress_up_to: int = Field(ge=1, description="counts from 1 to this are not published")
    round_to: int = Field(ge=1, description="published counts are rounded to the nearest multiple of this")
    geographies: list[str] = Field(
        min_length=1, description="geography types published from the warehouse; every other one is hidden")
    whole_population_only: list[str] = Field(
        default=[], description="geography types published for the whole population only, without breakdowns")
    exempt: dict[str, str] = Field(
        default={}, description="indicator id -> the public statistics it already is (published as they are)")

    def published_count(self, count: float) -> float | None:
        """A count as the rule publishes it on its own: rounded, or None where it is missing or from 1 to
        :attr:`suppress_up_to` (0 is published). For a count that is not a cell of a decision, such as the ICS's
        spells behind the bed-day funnel's m and s (:func:`placewise.publish.inputs.event_spreads`)."""
        if not np.isfinite(count) or 1 <= count <= self.suppress_up_to:
            return None
        return float(round_counts(np.array([count]), self.round_to)[0])

    def statement(self) -> str:
        """The rule in words, as every publication quotes it."""
        exempt = "" if not self.exempt else (
            " Figures that are already public statistics are published as they are: "
            + "; ".join(dict.fromkeys(self.exempt.values())) + ".")
        whole = "" if not self.whole_population_only else (
            f" Figures for {', '.join(GEOGRAPHY_NAMES.get(g, g) for g in self.whole_population_only)} are published "
            "for the whole population only, not by age, sex, ethnic group or deprivation.")
        return (f"Counts from 1 to {self.suppress_up_to} are not published, nor are figures resting on so few "
                f"people or events; they are shown as {SUPPRESSED_TEXT}, together with every value and interval "
                "worked out from them. Where a hidden count could be worked out by subtraction from a total (an "
                "area from the areas it is part of, a group from the others of a breakdown), a further figure is "
                "hidden too (secondary suppression), decided once for every report and download made from the "
                f"same data, so that no hidden count can be recovered by combining them. Published counts are "
                f"rounded to the nearest {self.round_to}. SPC means and limits are worked out from published "
                f"points only.{whole}{exempt}")


def load_rule(profile) -> DisclosureRule:
    """The profile's rule (``disclosure.yaml``); an exemption naming an unknown indicator is an error."""
    from placewise.measure import load_catalogue
    from placewise.profile import ProfileError

    rule = profile.section("disclosure", DisclosureRule)
    unknown = sorted(set(rule.exempt) - {i.id for i in load_catalogue(profile).indicators})
    if unknown:
        raise ProfileError(f"{profile.folder / 'disclosure.yaml'}: exempt: unknown indicator(s) {', '.join(unknown)}")
    return rule


@dataclass(frozen=True)
class Decision:
    """The disclosure decision for every cell of a table, and the rule that made it."""

    rule: DisclosureRule
    cells: pd.DataFrame
    """:data:`CELL_KEYS` plus ``suppressed`` (bool) and ``reason`` (empty, or why it is hidden)."""
    digest: str = ""
    """What the decision was made from (:func:`digest`), where :func:`disclose` worked it out."""


REASONS = ("", PRIMARY, SECONDARY, DERIVED, UNPUBLISHED)
"""Every reason a cell can carry, in the order a kept decision codes them (:func:`decision_bytes`)."""

METHOD = hashlib.sha256(Path(__file__).read_bytes() + scipy.__version__.encode()).hexdigest()
"""The method's own part of every :func:`digest`: this module's code and the solver's version, so a decision kept
by an earlier method is never read as this one's."""


class KeptDecisions(Protocol):
    """Where decisions are kept between runs, by the digest of what each was made from (the web store)."""

    def kept_decision(self, digest: str) -> bytes | None:
        """The decision kept under ``digest`` (:func:`decision_bytes`), if any."""

    def keep_decision(self, digest: str, cells: bytes) -> None:
        """Keep a decision under ``digest``, whole or not at all."""


def digest(frame: pd.DataFrame, rule: DisclosureRule, measures: dict[str, str], relations: pd.DataFrame) -> str:
    """One digest of everything a decision is made from: the cells in their order with their counts, the rule, the
    indicators' measures, the nested geographies and the method (:data:`METHOD`). Equal digests, equal decisions;
    a change to the measurements, the profile, the practices or the code gives another."""
    h = hashlib.sha256(METHOD.encode())
    h.update(pd.util.hash_pandas_object(frame[[*CELL_KEYS, "numerator", "denominator"]], index=False).to_numpy())
    h.update(rule.model_dump_json().encode())
    h.update(json.dumps(sorted(measures.items())).encode())
    h.update(relations.sort_values(list(relations.columns)).to_csv(index=False).encode())
    return h.hexdigest()


def reader_digest(decision: Decision, known: np.ndarray) -> str:
    """The digest of a reader's decision (:class:`ReaderDecisions`): the published decision's and the cells known."""
    return hashlib.sha256(decision.digest.encode() + np.packbits(np.asarray(known, dtype=bool)).tobytes()).hexdigest()


def decision_bytes(decision: Decision) -> bytes:
    """A decision as it is kept: each cell's flag and reason code, in the table's order (NumPy arrays, no pickle)."""
    codes = pd.Categorical(decision.cells.reason, categories=REASONS).codes
    if (codes < 0).any():
        raise ValueError("disclosure: a cell's reason is not one of REASONS; the decision cannot be kept")
    out = io.BytesIO()
    np.savez_compressed(out, suppressed=decision.cells.suppressed.to_numpy(dtype=bool), reason=codes.astype(np.int8))
    return out.getvalue()


def decision_from_bytes(frame: pd.DataFrame, rule: DisclosureRule, cells: bytes, key: str) -> Decision:
    """The decision kept for ``frame`` (:func:`decision_bytes`) under the digest ``key``."""
    with np.load(io.BytesIO(cells), allow_pickle=False) as kept:
        suppressed, reason = kept["suppressed"], kept["reason"]
    if len(suppressed) != len(frame):
        raise ValueError("disclosure: the kept decision belongs to a different table")
    out = frame[CELL_KEYS].reset_index(drop=True)
    out["suppressed"] = suppressed
    out["reason"] = np.asarray(REASONS, dtype=object)[reason]
    return Decision(rule, out, key)


def kept_or_made(kept: KeptDecisions | None, key: str, frame: pd.DataFrame, rule: DisclosureRule,
                 make: Callable[[], Decision]) -> Decision:
    """The decision kept under the digest ``key``, or else the one ``make`` makes, then kept."""
    found = kept.kept_decision(key) if kept is not None else None
    if found is not None:
        return decision_from_bytes(frame, rule, found, key)
    made = make()
    made = Decision(made.rule, made.cells, key)
    if kept is not None:
        kept.keep_decision(key, decision_bytes(made))
    return made


def round_counts(counts: np.ndarray, base: int) -> np.ndarray:
    """Counts rounded to the nearest multiple of ``base`` (halves up); NaN stays NaN."""
    return np.floor(np.asarray(counts, dtype=float) / base + 0.5) * base


def cell_counts(frame: pd.DataFrame, measures: dict[str, str]) -> np.ndarray:
    """The count behind each row: units for a mean or median, otherwise the numerator."""
    by_units = frame.indicator_id.map(lambda i: measures.get(i) in COUNT_IS_DENOMINATOR).to_numpy(dtype=bool)
    return np.where(by_units, frame.denominator.to_numpy(dtype=float), frame.numerator.to_numpy(dtype=float))


def primary(frame: pd.DataFrame, rule: DisclosureRule, measures: dict[str, str]) -> np.ndarray:
    """Cells hidden in their own right: a count, or a denominator of people or events, from 1 to the limit."""
    def small(x: np.ndarray) -> np.ndarray:
        return (x >= 1) & (x <= rule.suppress_up_to)

    den_counts = frame.indicator_id.map(lambda i: measures.get(i) in DENOMINATOR_IS_COUNT).to_numpy(dtype=bool)
    return small(cell_counts(frame, measures)) | (den_counts & small(frame.denominator.to_numpy(dtype=float)))


def equations(cells: pd.DataFrame, relations: pd.DataFrame) -> sparse.csr_matrix:
    """The additive structure of the cells as a sparse matrix: one row per total, +1 on its parts, -1 on it.

    ``cells`` holds :data:`CELL_KEYS` (one row per cell, in order); ``relations`` holds ``parent_type``,
    ``parent_code``, ``child_type``, ``child_code``: geographies nested in others. Three kinds of total:
    a breakdown's groups add up to the geography's whole population (breakdown ``none``), nested
    geographies of each type add up to their parent, group by group (the Places to the ICS, and the
    practices to it again in an equation of their own), and a breakdown by two attributes adds up to each
    single breakdown (:func:`_cross_margins`). Parts need not add up exactly (people with no
    recorded deprivation, events at a provider outside the profile): the difference is taken as known,
    which can only protect more.
    """
    c = cells[CELL_KEYS].copy()
    c["cell"] = np.arange(len(c))
    problem = ["indicator_id", "period_start", "period_end"]
    place = [*problem, "geography_type", "geography_code"]
    parts = c[c.breakdown != "none"]
    whole = c[c.breakdown == "none"][[*place, "cell"]]
    by_breakdown = parts.merge(whole, on=place, suffixes=("", "_total"))
    by_breakdown["row"] = by_breakdown.groupby([*place, "breakdown"], sort=False).ngroup()
    rel = relations.rename(columns={"child_type": "geography_type", "child_code": "geography_code"})
    children = c.merge(rel, on=["geography_type", "geography_code"])
    parents = c.rename(columns={"geography_type": "parent_type", "geography_code": "parent_code"})
    group = [*problem, "breakdown", "breakdown_group", "parent_type", "parent_code"]
    by_geography = children.merge(parents, on=group, suffixes=("", "_total"))
    first = int(by_breakdown.row.max()) + 1 if len(by_breakdown) else 0
    # One equation per kind of part: the ICS is the sum of its Places, and separately of its practices.
    by_geography["row"] = first + by_geography.groupby([*group, "geography_type"], sort=False).ngroup()
    first = int(by_geography.row.max()) + 1 if len(by_geography) else first
    implied = _implied(relations).rename(columns={"child_type": "geography_type", "child_code": "geography_code"})
    by_implied = c.merge(implied, on=["geography_type", "geography_code"]).merge(parents, on=group,
                                                                                 suffixes=("", "_total"))
    by_implied["row"] = first + by_implied.groupby([*group, "pair"], sort=False).ngroup()
    first = int(by_implied.row.max()) + 1 if len(by_implied) else first
    by_margin = _cross_margins(c, place, first)
    both = pd.concat([by_breakdown[["row", "cell", "cell_total"]], by_geography[["row", "cell", "cell_total"]],
                      by_implied[["row", "cell", "cell_total"]], by_margin[["row", "cell", "cell_total"]]])
    totals = both.drop_duplicates("row")
    rows = np.concatenate([both.row.to_numpy(), totals.row.to_numpy()])
    cols = np.concatenate([both.cell.to_numpy(), totals.cell_total.to_numpy()])
    vals = np.concatenate([np.ones(len(both)), -np.ones(len(totals))])
    n_eq = int(rows.max()) + 1 if rows.size else 0
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n_eq, len(c)))


def _implied(relations: pd.DataFrame) -> pd.DataFrame:
    """Equations the totals over Places imply, each of its own (``pair``): where one total's Places hold another's
    (the ICS holds a care alliance of three Places, which holds a legacy CCG of two; two groupings of the same one
    Place), the larger minus the smaller is the sum of the Places between them. They add nothing to what the totals
    pin, but a hidden cell alone in one is seen at once (a legacy CCG hidden beside its published care alliance
    and the third Place), not only through the null space. Rows as ``relations`` (the larger total the parent,
    the smaller one and the Places between its parts), with ``pair``."""
    places = relations[relations.child_type == "place"]
    sets = places.groupby(["parent_type", "parent_code"]).child_code.agg(frozenset).to_dict()
    rows: list[tuple[int, str, str, str, str]] = []
    for (t1, c1), s1 in sets.items():
        for (t2, c2), s2 in sets.items():
            if s2 < s1 or (s2 == s1 and (t1, c1) < (t2, c2)):
                pair = rows[-1][0] + 1 if rows else 0
                rows += [(pair, t1, c1, "place", p) for p in sorted(s1 - s2)] + [(pair, t1, c1, t2, c2)]
    return pd.DataFrame(rows, columns=["pair", "parent_type", "parent_code", "child_type", "child_code"])


def _cross_margins(c: pd.DataFrame, place: list[str], first: int) -> pd.DataFrame:
    """The third kind of total: the cells of a breakdown by two attributes (``female|1``) add up, over either
    attribute, to the single breakdown's cell (``female`` by sex, ``1`` by IMD quintile). Row ids from ``first``."""
    cross = c[c.breakdown.isin(list(CROSS_BREAKDOWNS))]
    if cross.empty:
        return pd.DataFrame(columns=["row", "cell", "cell_total"])
    groups = cross.breakdown_group.str.split(CROSS_SEPARATOR, n=1, expand=True)
    sides = [cross.assign(margin=cross.breakdown.map(lambda b, k=k: CROSS_BREAKDOWNS[b][k]), margin_group=groups[k],
                          side=k) for k in (0, 1)]
    parts = pd.concat(sides, ignore_index=True)
    totals = c.rename(columns={"breakdown": "margin", "breakdown_group": "margin_group"})
    out = parts.merge(totals[[*place, "margin", "margin_group", "cell"]], on=[*place, "margin", "margin_group"],
                      suffixes=("", "_total"))
    out["row"] = first + out.groupby([*place, "breakdown", "side", "margin_group"], sort=False).ngroup()
    return out


def heights(eq: sparse.csr_matrix) -> np.ndarray:
    """How many levels of parts lie below each cell: 0 for a cell that is no total, else one more than its
    tallest part (a practice 0, its PCN 1, its Place 2, the ICS 3). Complements are taken low first."""
    coo = eq.tocoo()
    part, whole = coo.data > 0, coo.data < 0
    total_of = np.full(eq.shape[0], -1)
    total_of[coo.row[whole]] = coo.col[whole]
    has_total = total_of >= 0
    height = np.zeros(eq.shape[1])
    for _ in range(MAX_HEIGHT):
        tallest = np.full(eq.shape[0], -1.0)
        np.maximum.at(tallest, coo.row[part], height[coo.col[part]])
        taller = height.copy()
        np.maximum.at(taller, total_of[has_total], tallest[has_total] + 1)
        if np.array_equal(taller, height):
            break
        height = taller
    return height


def _cost(counts: np.ndarray, height: np.ndarray, protect: np.ndarray) -> np.ndarray:
    """Cost of hiding each cell as a complement: lower levels first (a total only where no part will do),
    within a level the smallest count, then zeros (a hidden zero protects less); ``protect`` cells last."""
    within = np.where(counts > 0, counts, np.where(counts == 0, ZERO_COST, np.inf))
    return within + LEVEL_COST * np.where(protect, PROTECTED_LEVEL, np.minimum(height, PROTECTED_LEVEL - 1))


ZERO_COST, LEVEL_COST, PROTECTED_LEVEL, MAX_HEIGHT = 1e11, 1e12, 100, 64
"""Costs in tiers: a count (below ``ZERO_COST``) within a level of :func:`heights`, then a zero, then the
next level up (``LEVEL_COST`` per level); protected cells (the ICS total) at ``PROTECTED_LEVEL``: a
complement only where nothing else can protect a hidden count. Heights are looked for ``MAX_HEIGHT`` deep."""


def _level(cost: np.ndarray) -> np.ndarray:
    """The tier of each cost (see :func:`_cost`)."""
    return np.floor(cost / LEVEL_COST)


def _cheapest(pairs_row: np.ndarray, pairs_cell: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """For each distinct row id, the candidate cell of least cost (ties: the lower cell index); finite only."""
    if pairs_row.size == 0:
        return np.array([], dtype=int)
    order = np.lexsort((pairs_cell, cost[pairs_cell], pairs_row))
    _, first = np.unique(pairs_row[order], return_index=True)
    best = pairs_cell[order][first]
    return best[np.isfinite(cost[best])]


def _complete_equations(eq: sparse.csr_matrix, hidden: np.ndarray, cost: np.ndarray) -> bool:
    """Hide the cheapest other cell of every equation with exactly one hidden cell; True if any was hidden."""
    lonely = np.flatnonzero(abs(eq) @ hidden.astype(float) == 1)
    if lonely.size == 0:
        return False
    sub = eq[lonely].tocoo()
    keep = ~hidden[sub.col]
    chosen = _cheapest(sub.row[keep], sub.col[keep], cost)
    hidden[chosen] = True
    return chosen.size > 0


def _close_equations(eq: sparse.csr_matrix, hidden: np.ndarray, cost: np.ndarray) -> bool:
    """Hide, in every piece of the table that holds an equation with exactly one hidden cell, the least costly set
    of further cells that leaves no equation with exactly one hidden cell; True if any was hidden.

    An integer programme per batch of pieces (:func:`_least_complements`, HiGHS through SciPy): one binary per
    cell, the hidden ones fixed; for every equation and every cell in it, the other cells hidden are at least that
    cell (a hidden cell never alone in a total). Pieces above :data:`MILP_CELLS` cells take the greedy choice instead
    (:func:`_complete_equations`), and so does a batch for which the solver finds no solution within
    :data:`MILP_NODES` nodes; a batch not proved optimal by then takes the best solution found. The solver's limit
    is a count of nodes, not seconds, so the decision does not depend on how busy the machine is.
    Equations with fewer than two cells that could be hidden cannot be closed and are left to the null-space check.
    """
    a = abs(eq).tocsr()
    hid = hidden.astype(float)
    lonely = (a @ hid) == 1
    if not lonely.any():
        return False
    closable = (a @ (hidden | np.isfinite(cost)).astype(float)) >= 2
    if not (lonely & closable).any():
        return False
    rows = np.flatnonzero(closable)
    eq_comp, cell_comp = _pieces(a[rows])
    wanted = np.unique(eq_comp[lonely[rows]])
    size = np.bincount(cell_comp, minlength=int(cell_comp.max()) + 1)
    small, large = wanted[size[wanted] <= MILP_CELLS], wanted[size[wanted] > MILP_CELLS]
    before = hidden.copy()
    greedy = [rows[np.isin(eq_comp, large) & lonely[rows]]]
    for batch in _batches(small, size):
        cells = np.flatnonzero(np.isin(cell_comp, batch))
        block = rows[np.isin(eq_comp, batch)]
        chosen = _least_complements(a[block][:, cells], hidden[cells], cost[cells])
        if chosen is None:
            greedy.append(block[lonely[block]])
        else:
            hidden[cells[chosen]] = True
    fallback = np.concatenate(greedy)
    if fallback.size:
        _complete_equations(eq[fallback], hidden, cost)
    return bool((hidden != before).any())


def _batches(pieces: np.ndarray, size: np.ndarray) -> list[np.ndarray]:
    """The pieces in batches of up to :data:`MILP_BATCH` cells (one integer programme each)."""
    ends = np.cumsum(size[pieces])
    batch = ends // MILP_BATCH
    return [pieces[batch == b] for b in np.unique(batch)]


def _least_complements(block: sparse.csr_matrix, hidden: np.ndarray, cost: np.ndarray) -> np.ndarray | None:
    """The cells of a block to hide (the hidden ones included) at least weight so that no equation of the block has
    exactly one hidden cell (:func:`_close_equations`); None where the solver found no solution within its node limit."""
    coo = block.tocoo()
    k = coo.nnz
    pick = sparse.csr_matrix((np.ones(k), (np.arange(k), coo.row)), shape=(k, block.shape[0]))
    own = sparse.csr_matrix((np.full(k, 2.0), (np.arange(k), coo.col)), shape=(k, block.shape[1]))
    constraint = optimize.LinearConstraint(pick @ block - own, lb=0, ub=np.inf)
    usable = np.isfinite(cost)
    bounds = optimize.Bounds(hidden.astype(float), np.where(hidden | usable, 1.0, 0.0))
    ties = MILP_TIE * np.arange(block.shape[1]) / block.shape[1]  # equal cells: the lower index, as the greedy choice
    result = optimize.milp(_weight(cost) + ties, constraints=constraint, integrality=np.ones(block.shape[1]), bounds=bounds,
                           options={"node_limit": MILP_NODES, "disp": False})
    if result.x is None:
        return None
    return result.x > 0.5


def _weight(cost: np.ndarray) -> np.ndarray:
    """What hiding each cell costs in the integer programme: ``MILP_LEVEL`` times more for each level of
    :func:`heights` (a protected cell at the top tier), a little more for a larger count and more for a zero (a
    hidden zero gives less cover), as :func:`_cost` ranks them."""
    level = _level(np.where(np.isfinite(cost), cost, 0.0))
    within = np.where(np.isfinite(cost), cost - level * LEVEL_COST, 0.0)
    zero = within >= ZERO_COST
    count = np.where(zero, 0.0, within)
    tier = np.minimum(level, MILP_TOP)
    return MILP_LEVEL ** tier * (1.0 + 0.5 * zero + 0.25 * count / (count + 1000.0))


MILP_CELLS, MILP_BATCH, MILP_NODES, MILP_LEVEL, MILP_TOP, MILP_TIE = 20_000, 2_000, 1_000, 4.0, 10, 1e-6
"""The largest piece (cells) given to the integer programme, the cells per programme, the solver's limit per
programme (branch-and-bound nodes: a count of work, the same on a busy machine as on a quiet one, where a limit in
seconds is not), how much more a cell one level up costs, the top tier (protected cells), and the weight that
breaks ties between equal cells."""


def determined(eq: sparse.csr_matrix, hidden: np.ndarray, changed: np.ndarray | None = None) -> np.ndarray:
    """Hidden cells that the equations pin down exactly, whatever the other hidden cells are.

    The unknowns are the hidden cells; every total gives one linear equation in them. A hidden cell
    is determined when it is zero in every vector of the null space of those equations, so it is
    tested on random vectors projected onto that null space (:func:`_null_vectors`), and checked exactly
    where its piece is small (:func:`_confirm`). The system
    splits into independent pieces (hidden cells linked through shared totals); only pieces holding a
    ``changed`` cell are checked (all, by default), together, in one sparse factorisation.
    """
    out = np.zeros(hidden.size, dtype=bool)
    idx = np.flatnonzero(hidden)
    if idx.size == 0:
        return out
    h = eq[:, idx].tocsr()
    h = h[np.diff(h.indptr) > 0]
    eq_comp, cell_comp = _pieces(h)
    if changed is not None:
        wanted = np.isin(cell_comp, cell_comp[changed[idx]])
        keep = np.isin(eq_comp, cell_comp[changed[idx]])
        h, idx, eq_comp, cell_comp = h[keep][:, wanted], idx[wanted], eq_comp[keep], cell_comp[wanted]
    if h.shape[0] == 0:
        return out
    size = np.abs(_null_vectors(h)).max(axis=1)
    out[idx] = (size <= SURE) | _confirm(h, (size > SURE) & (size <= FREE), eq_comp, cell_comp)
    return out


def _pieces(h: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The independent piece of each equation and each hidden cell (linked through shared totals)."""
    n_eq, n_cells = h.shape
    if n_eq == 0:
        return np.zeros(0, dtype=int), np.arange(n_cells)
    _, label = csgraph.connected_components(sparse.bmat([[None, abs(h)], [abs(h).T, None]], format="csr"),
                                            directed=False)
    return label[:n_eq], label[n_eq:]


def _confirm(h: sparse.csr_matrix, probed: np.ndarray, eq_comp: np.ndarray, cell_comp: np.ndarray) -> np.ndarray:
    """The ``probed`` cells (near zero in every probe, but not at rounding error), each checked exactly where its
    piece is small enough (up to :data:`EXACT_CELLS` hidden cells): determined when no vector of the piece's null
    space (by a dense SVD) moves it; in a larger piece it stays determined (which can only hide more).

    The probes can only err one way (a free cell's entries all near zero by chance, or because it is nearly
    pinned); a cell at rounding error in every probe (:data:`SURE`) is determined, so only the rare cells between
    are looked at again, piece by piece.
    """
    out = probed.copy()
    sizes = np.bincount(cell_comp)
    pieces = np.unique(cell_comp[probed])
    pieces = pieces[sizes[pieces] <= EXACT_CELLS]
    if pieces.size == 0:
        return out
    cells = np.flatnonzero(np.isin(cell_comp, pieces))
    cells = cells[np.argsort(cell_comp[cells], kind="stable")]
    rows = np.flatnonzero(np.isin(eq_comp, pieces))
    rows = rows[np.argsort(eq_comp[rows], kind="stable")]
    sub = h[rows][:, cells].tocsr()
    cell_at = np.searchsorted(cell_comp[cells], pieces, side="left"), np.searchsorted(cell_comp[cells], pieces, "right")
    row_at = np.searchsorted(eq_comp[rows], pieces, side="left"), np.searchsorted(eq_comp[rows], pieces, "right")
    for c0, c1, r0, r1 in zip(*cell_at, *row_at, strict=True):
        basis = null_space(sub[r0:r1, c0:c1].toarray(), rcond=EXACT_TOLERANCE)
        out[cells[c0:c1]] &= np.abs(basis).max(axis=1, initial=0.0) <= EXACT_TOLERANCE
    return out


PROBE_SEED, PROBES, FREE, RIDGE, REFINE, RESIDUAL = 20_240_401, 2, 1e-6, 1e-10, 3, 1e-9
"""The random vectors' seed (so a decision is reproducible) and how many; an entry above ``FREE`` shows a cell is
free; the ridge added to the normal equations, the refinement steps and the largest residual accepted."""

EXACT_CELLS, EXACT_TOLERANCE, SURE = 400, 1e-9, 1e-12
"""The largest piece (hidden cells) whose probed cells are checked exactly, the tolerance of that check, and the
largest probe entry of a cell taken as determined without it (a determined cell comes out at about 1e-15)."""


def _null_vectors(a: sparse.csr_matrix) -> np.ndarray:
    """:data:`PROBES` random vectors projected onto the null space of ``a`` (one column each), by a sparse
    factorisation of its normal equations.

    ``a a^T + RIDGE I`` is factorised once (the ridge makes it invertible when totals are redundant) and the
    projection ``z <- z - a^T (a a^T + RIDGE I)^-1 a z`` is repeated: each step shrinks what is left outside the
    null space by the ridge over the squared singular value (about 1e-5 or less), so after :data:`REFINE`
    steps a determined cell comes out at rounding error (about 1e-15) and a free one at the scale of the
    random vector (0.1 or more); a residual above :data:`RESIDUAL` is an error rather than a guess.
    A determined cell is zero in every null-space vector; a free cell is near zero in one by chance about once in
    10^5 cells, so a cell is called determined only where it is near zero in every probe (:func:`_confirm`
    then checks it exactly where affordable).
    """
    z = np.random.default_rng(PROBE_SEED).standard_normal((a.shape[1], PROBES))
    gram = (a @ a.T).tocsc() + RIDGE * sparse.identity(a.shape[0], format="csc")
    solve = splu(gram, permc_spec="MMD_AT_PLUS_A").solve
    for _ in range(REFINE):
        z = z - a.T @ solve(np.asarray(a @ z))
    if np.abs(a @ z).max() > RESIDUAL:
        raise ArithmeticError("disclosure: the null-space projection did not converge; cannot certify the table")
    return z


def held_at_zero(eq: sparse.csr_matrix, hidden: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Hidden cells that counts not being negative pin to zero: in a total whose hidden cells all stand on
    one side of it and are all zeros (a published zero total with hidden zero parts, say).

    Such a zero tells a reader nothing the published zero does not, so it is not protected itself; but
    it is known, so the counts it shares totals with are checked as if it were published."""
    h = hidden.astype(float)
    pos, neg = (eq > 0).astype(float), (eq < 0).astype(float)
    one_side = ((pos @ h) == 0) | ((neg @ h) == 0)
    rows = one_side & ((abs(eq) @ (h * (np.asarray(counts, dtype=float) != 0))) == 0) & ((abs(eq) @ h) > 0)
    return hidden & ((abs(eq[rows]).sum(axis=0).A1 > 0) if rows.any() else np.zeros(hidden.size, dtype=bool))


def _protect_pinned(eq: sparse.csr_matrix, hidden: np.ndarray, pinned: np.ndarray, cost: np.ndarray,
                    stubborn: np.ndarray) -> np.ndarray:
    """For each pinned cell, hide the cheapest visible cell sharing a total with it (or, where every such
    cell is hidden already, the cheapest visible cell one total further out, and so on). Where the cheapest
    visible cells at that distance are all zeros, or the cell is ``stubborn`` (pinned round after round),
    every visible cell of that level at that distance is hidden at once (one complement per round took over
    a hundred rounds on the demo's practices); higher levels are left alone. Protected cells are looked at
    only for pinned cells with no other visible cell within reach.

    Returns the pinned cells with no visible cell within reach: every total around them is hidden, so
    no published figure bears on them, and they are pinned only by the parts of totals that nothing
    publishes (people with no recorded deprivation, say), which the check takes as known to be safe.
    """
    idx = np.flatnonzero(pinned)
    left = _reach(eq, hidden, idx, cost, stubborn, PROTECTED_LEVEL)
    left[left] = _reach(eq, hidden, idx[left], cost, stubborn[left], np.inf)
    out = np.zeros_like(pinned)
    out[idx[left]] = True
    return out


def _reach(eq: sparse.csr_matrix, hidden: np.ndarray, idx: np.ndarray, cost: np.ndarray, stubborn: np.ndarray,
           below: float) -> np.ndarray:
    """Hide complements for the cells ``idx`` among visible cells of a level under ``below`` (see
    :func:`_protect_pinned`, in place); returns which of them found none within :data:`MAX_REACH` totals."""
    todo = np.ones(idx.size, dtype=bool)
    if idx.size == 0:
        return todo
    a = abs(eq).tocsr()
    a_t = a.T.tocsr()
    level = _level(cost)
    live = np.arange(idx.size)
    reach = sparse.csr_matrix((np.ones(idx.size), (live, idx)), shape=(idx.size, hidden.size))
    for _ in range(MAX_REACH):
        # Only the cells still without a complement are carried a total further out (each row's reach is its own).
        reach = ((reach @ a_t) @ a).tocsr()
        near = reach.tocoo()
        keep = ~hidden[near.col] & np.isfinite(cost[near.col]) & (level[near.col] < below)
        rows, cols = live[near.row[keep]], near.col[keep]
        chosen_rows = np.unique(rows)
        chosen = _cheapest(rows, cols, cost)
        lowest = np.full(todo.size, np.inf)
        lowest[chosen_rows] = level[chosen]
        only_zeros = np.zeros(todo.size, dtype=bool)
        only_zeros[chosen_rows] = cost[chosen] - level[chosen] * LEVEL_COST >= ZERO_COST
        take_all = (only_zeros | stubborn)[rows] & (level[cols] == lowest[rows])
        hidden[chosen] = True
        hidden[cols[take_all]] = True
        todo[chosen_rows] = False
        if not todo.any():
            break
        still = todo[live]
        reach, live = reach[still], live[still]
    return todo


MAX_REACH, STUBBORN = 8, 4
"""How many totals away from a pinned cell a complement is looked for; after how many rounds pinned a cell
has every visible cell of the lowest level nearest it hidden."""


def suppress(counts: np.ndarray, first: np.ndarray, eq: sparse.csr_matrix,
             protect: np.ndarray | None = None, least: bool = True) -> np.ndarray:
    """Primary plus secondary suppression: hide complements until no hidden count is determined.

    Complements are taken from the lowest level of totals first (:func:`heights`), so a total is hidden
    only where no cell below it will do, and ``protect`` cells (the ICS total) only where nothing else can.
    Totals with one hidden cell are closed by the integer programme (:func:`_close_equations`), or with
    ``least`` False greedily (:func:`_complete_equations`: a Place lead's decision, made per Place before the
    web application serves, where the programme cost four to twelve times the CPU and hid more).
    """
    close = _close_equations if least else _complete_equations
    hidden = np.asarray(first, dtype=bool).copy()
    protect = np.zeros_like(hidden) if protect is None else np.asarray(protect, dtype=bool)
    cost = _cost(np.asarray(counts, dtype=float), heights(eq), protect)
    counts = np.asarray(counts, dtype=float)
    checked = np.zeros_like(hidden)
    held = np.zeros_like(hidden)
    unreachable = np.zeros_like(hidden)
    rounds = np.zeros(hidden.size, dtype=int)
    while True:
        if close(eq, hidden, cost):
            continue
        now_held = held_at_zero(eq, hidden, counts)
        free = hidden & ~now_held
        changed = None if (now_held != held).any() else free & ~checked
        pinned = determined(eq, free, changed=changed) & ~unreachable
        checked, held = free.copy(), now_held
        if not pinned.any():
            return _release(eq, hidden, hidden & protect & ~np.asarray(first, dtype=bool), counts)
        rounds = np.where(pinned, rounds + 1, 0)
        unreachable |= _protect_pinned(eq, hidden, pinned, cost, rounds[pinned] > STUBBORN)


def _release(eq: sparse.csr_matrix, hidden: np.ndarray, spare: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Show again the ``spare`` cells (protected complements) wherever no hidden count is then determined.

    A protected cell hidden early in the search may be needed no longer once the cells around it have
    been hidden; each independent piece of the table gets its protected cells back when that leaves
    nothing pinned in it.
    """
    if not spare.any():
        return hidden
    shown = hidden & ~spare
    held = held_at_zero(eq, shown, counts)
    pinned = determined(eq, shown & ~held)
    if pinned.any():
        n_eq = eq.shape[0]
        a = abs(eq).tocsr()
        _, label = csgraph.connected_components(sparse.bmat([[None, a], [a.T, None]], format="csr"), directed=False)
        cell_label = label[n_eq:]
        shown |= spare & np.isin(cell_label, cell_label[pinned])
    return shown


def decide(frame: pd.DataFrame, rule: DisclosureRule, measures: dict[str, str],
           relations: pd.DataFrame) -> Decision:
    """The disclosure decision over a whole table of measurements (see the module's docstring).

    ``measures`` maps indicator id to measure type; ``relations`` lists nested geographies
    (see :func:`equations`). Exempt indicators are published as they are; geography types the rule
    does not publish are hidden whole, so no publisher can show them without first extending the
    rule (and so the decision) to them.
    """
    frame = frame.reset_index(drop=True)
    derived, exempt, unpublished = _kinds(frame, rule)
    base = frame[~derived & ~exempt & ~unpublished].reset_index(drop=True)
    first = primary(base, rule, measures)
    top = ((base.geography_type == "ics") & (base.breakdown == "none")).to_numpy()
    hidden = suppress(cell_counts(base, measures), first, equations(base, relations), protect=top)
    cells = frame[CELL_KEYS].copy()
    cells["suppressed"] = False
    cells["reason"] = ""
    where = np.flatnonzero(~derived & ~exempt & ~unpublished)
    cells.loc[where[hidden], "suppressed"] = True
    cells.loc[where[first], "reason"] = PRIMARY
    cells.loc[where[hidden & ~first], "reason"] = SECONDARY
    cells.loc[unpublished, "suppressed"] = True
    cells.loc[unpublished, "reason"] = UNPUBLISHED
    _derive(cells, derived & ~exempt & ~unpublished)
    return Decision(rule, cells)


def _kinds(frame: pd.DataFrame, rule: DisclosureRule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which rows are derived breakdowns, exempt indicators, and geographies or breakdowns the rule does not publish."""
    derived = frame.breakdown.isin(list(DERIVED_BREAKDOWNS)).to_numpy()
    exempt = frame.indicator_id.isin(list(rule.exempt)).to_numpy()
    unpublished = ~exempt & (~frame.geography_type.isin(rule.geographies).to_numpy() | (
        frame.geography_type.isin(rule.whole_population_only) & (frame.breakdown != "none")).to_numpy())
    return derived, exempt, unpublished


def decide_for_reader(frame: pd.DataFrame, decision: Decision, measures: dict[str, str], relations: pd.DataFrame,
                      known: np.ndarray) -> Decision:
    """The decision for one reader who also knows the true value of the ``known`` cells (a Place lead, their own
    Place's cells): those are shown, and other cells hidden so that none the published decision hid can be
    worked out from the published figures and the known ones together (:class:`ReaderDecisions`)."""
    return ReaderDecisions(frame, decision, measures, relations).for_known(known)


class ReaderDecisions:
    """Decisions for readers who know some cells' true values, from one published decision. What no reader
    changes (which cells are derived, exempt or unpublished, their counts and the equations) is worked out once,
    so each reader costs only the search for complements (a server decides once per Place).

    The known cells' columns leave the equations (a known value is a constant), the published hidden set
    restricted to the other cells is the start, and :func:`suppress` runs on them as :func:`decide` does (the
    ICS total protected). It only adds to what the published decision hid. ``frame`` is the decision's table; the
    cells are searched in the order of their keys, as :func:`disclose` decides, so ties go the same way whatever
    order its rows are in.
    """

    def __init__(self, frame: pd.DataFrame, decision: Decision, measures: dict[str, str],
                 relations: pd.DataFrame) -> None:
        frame = frame.reset_index(drop=True)
        if len(frame) != len(decision.cells):
            raise ValueError("disclosure: the decision belongs to a different table")
        derived, exempt, unpublished = _kinds(frame, decision.rule)
        self.decision = decision
        in_base = ~derived & ~exempt & ~unpublished
        self._redo = derived & ~exempt & ~unpublished
        self._base = frame[in_base].sort_values(CELL_KEYS, kind="stable").index.to_numpy()  # in the keys' order
        base = frame.take(self._base).reset_index(drop=True)
        self._counts = cell_counts(base, measures)
        self._equations = equations(base, relations).tocsc()
        self._top = ((base.geography_type == "ics") & (base.breakdown == "none")).to_numpy()
        self._was = decision.cells.suppressed.to_numpy(dtype=bool)

    def for_known(self, known: np.ndarray) -> Decision:
        """The decision for a reader who knows the ``known`` cells (one flag per row of the table)."""
        known = np.asarray(known, dtype=bool)
        if known.size != self._was.size:
            raise ValueError("disclosure: the known cells belong to a different table")
        other = ~known[self._base]
        hidden = suppress(self._counts[other], self._was[self._base][other],
                          self._equations[:, np.flatnonzero(other)].tocsr(), protect=self._top[other], least=False)
        cells = self.decision.cells.copy()
        where = self._base[other]
        added = where[hidden & ~self._was[where]]
        cells.loc[added, "suppressed"] = True
        cells.loc[added, "reason"] = SECONDARY
        _derive(cells, self._redo & ~known)
        cells.loc[known, ["suppressed", "reason"]] = [False, ""]
        return Decision(self.decision.rule, cells)


def _derive(cells: pd.DataFrame, derived: np.ndarray) -> None:
    """Hide each derived cell whose sources are hidden or missing (in place)."""
    keys = ["indicator_id", "period_start", "period_end", "geography_type", "geography_code"]
    for name, (source, groups) in DERIVED_BREAKDOWNS.items():
        mine = derived & (cells.breakdown == name).to_numpy()
        if not mine.any():
            continue
        src = cells[(cells.breakdown == source) & cells.breakdown_group.isin(list(groups))]
        shown = src[~src.suppressed].groupby(keys).size().rename("shown").reset_index()
        got = cells.loc[mine, keys].merge(shown, on=keys, how="left").shown.fillna(0).to_numpy()
        idx = np.flatnonzero(mine)[got < len(groups)]
        cells.loc[idx, "suppressed"] = True
        cells.loc[idx, "reason"] = DERIVED


def publishable(frame: pd.DataFrame, decision: Decision, measures: dict[str, str]) -> pd.DataFrame:
    """The measurements as they may be published: hidden cells emptied, counts rounded, ``suppressed`` set.

    ``frame`` must be the table the decision was made on (same rows, same order).
    """
    if len(frame) != len(decision.cells):
        raise ValueError("disclosure: the decision was made on a different table")
    out = frame.reset_index(drop=True).copy()
    hidden = decision.cells.suppressed.to_numpy(dtype=bool)
    out["suppressed"] = hidden
    exempt = out.indicator_id.isin(list(decision.rule.exempt)).to_numpy()
    measure = out.indicator_id.map(measures).to_numpy(dtype=object)
    base = decision.rule.round_to
    rounded = ~exempt
    den_rounded = rounded & np.isin(measure, DENOMINATOR_IS_COUNT)
    out["numerator"] = np.where(rounded, round_counts(out.numerator, base), out.numerator)
    out["numerator"] = np.where(np.isin(measure, COUNT_IS_DENOMINATOR), np.nan, out.numerator)
    out["denominator"] = np.where(den_rounded, round_counts(out.denominator, base), out.denominator)
    count = rounded & (measure == "count")
    out["value"] = np.where(count, round_counts(out.value, base), out.value)
    for c in ("lower", "upper"):
        out[c] = np.where(count, np.nan, out[c])
    for c in ("numerator", "denominator", "value", "lower", "upper"):
        out[c] = out[c].astype(float).where(~hidden)
    return out


def disclose(frame: pd.DataFrame, rule: DisclosureRule, measures: dict[str, str], relations: pd.DataFrame,
             kept: KeptDecisions | None = None) -> tuple[pd.DataFrame, Decision]:
    """The one point every publication passes: decide over the whole table, then apply the decision. With
    ``kept``, the decision made from exactly these inputs (:func:`digest`) is read from it if it was kept, and kept
    once made.

    The decision is made over the cells in the order of their keys, whatever order the rows came in (engines
    return them in their own order, and ties between equal cells go to the earlier one), then put back in the
    rows' order.
    """
    frame = frame.reset_index(drop=True)
    order = frame.sort_values(CELL_KEYS, kind="stable").index.to_numpy()
    in_order = bool((order == np.arange(len(order))).all())  # as read_measurements gives them: no copy to make
    keyed = frame if in_order else frame.take(order).reset_index(drop=True)
    made = kept_or_made(kept, digest(keyed, rule, measures, relations), keyed, rule,
                        lambda: decide(keyed, rule, measures, relations))
    if in_order:
        return publishable(frame, made, measures), made
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    decision = Decision(made.rule, made.cells.take(back).reset_index(drop=True), made.digest)
    return publishable(frame, decision, measures), decision


def geography_relations(profile, practices: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Every geography nested in another, as ``parent_type, parent_code, child_type, child_code`` rows.

    From the practices (``practice_code``, ``pcn_code``, ``la_code``), the profile (the ICS, its Places,
    groupings and providers' sites) and the provider and site codes measured. A PCN is nested in a Place
    only when all its practices are. Every level is also related to the ICS directly, so that a total
    missing for one indicator (no practice figures, say) still links the levels around it.
    """
    ics = profile.ics.code
    pr = practices.dropna(subset=["practice_code"])
    pcn_places = pr.dropna(subset=["pcn_code"]).groupby("pcn_code").la_code.agg(lambda s: set(s))
    nested = [(pl.pop(), pcn) for pcn, pl in pcn_places.items() if len(pl) == 1]
    measured = {t: sorted(frame.geography_code[frame.geography_type == t].unique()) for t in ("provider", "site")}
    pairs = [("ics", ics, "place", p.code) for p in profile.ics.places]
    pairs += [("ics", ics, "pcn", c) for c in sorted(pr.pcn_code.dropna().unique())]
    pairs += [("ics", ics, "practice", c) for c in pr.practice_code]
    pairs += [("place", la, "practice", c) for c, la in zip(pr.practice_code, pr.la_code, strict=True) if la]
    pairs += [("place", la, "pcn", pcn) for la, pcn in nested]
    pairs += [("pcn", pcn, "practice", c) for c, pcn in zip(pr.practice_code, pr.pcn_code, strict=True) if pcn]
    pairs += [(g.kind, g.code, "place", p) for g in profile.ics.groupings for p in g.places]
    pairs += [("provider", p.code, "site", s.code) for p in profile.ics.providers for s in p.sites]
    pairs += [("ics", ics, t, c) for t, codes in measured.items() for c in codes]
    return pd.DataFrame(pairs, columns=["parent_type", "parent_code", "child_type", "child_code"]).drop_duplicates()


TOTAL = "Total"
"""A dimension's value in a margin of a table of counts (:func:`with_margins`): all of its groups together."""


def with_margins(frame: pd.DataFrame, tables: list[list[str]], counts: list[str],
                 nested: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every cell of a family of count tables over one population, each count once, with every margin.

    ``frame`` holds one row per combination of the dimensions (the finest groups, for the whole ICS) and the
    ``counts`` columns (the dimensions' groups as text, none of them :data:`TOTAL`); each of ``tables`` lists the dimensions one published table crosses (a Place by a
    quintile by a frailty band, say). A cell is keyed by every dimension, :data:`TOTAL` in those it adds
    up over, so a count that two tables share (the Places' totals of a table by Place and quintile and of one
    by Place and ethnic group) is one cell. ``nested`` pairs a dimension with one it lies within (a practice
    with its Place, and with its PCN): its groups are not totalled over the outer dimension (the same cells again).
    """
    dims = list(dict.fromkeys(d for t in tables for d in t))
    nested = nested or []
    out = []
    for table in tables:
        for keep in product((True, False), repeat=len(table)):
            by = [d for d, k in zip(table, keep, strict=True) if k]
            if any(inner in by and outer in table and outer not in by for inner, outer in nested):
                continue
            part = frame.groupby(by, dropna=False)[counts].sum().reset_index() if by else \
                frame[counts].sum().to_frame().T
            out.append(part.assign(**{d: TOTAL for d in dims if d not in by}))
    cells = pd.concat(out, ignore_index=True)
    return cells.drop_duplicates(dims).reset_index(drop=True)[[*dims, *counts]]


def margin_equations(cells: pd.DataFrame, dims: list[str]) -> sparse.csr_matrix:
    """The additive structure of :func:`with_margins` cells: for each dimension, its groups add up to its
    :data:`TOTAL`, the other dimensions held (one row per total, +1 on its parts, -1 on it)."""
    c = cells[dims].assign(cell=np.arange(len(cells)), one=0)
    found, first = [], 0
    for d in dims:
        others = [o for o in dims if o != d] or ["one"]
        parts = c[c[d] != TOTAL]
        whole = c[c[d] == TOTAL][[*others, "cell"]]
        eq = parts.merge(whole, on=others, suffixes=("", "_total"))
        eq["row"] = first + eq.groupby(others, sort=False).ngroup()
        first = int(eq.row.max()) + 1 if len(eq) else first
        found.append(eq[["row", "cell", "cell_total"]])
    both = pd.concat(found)
    totals = both.drop_duplicates("row")
    rows = np.concatenate([both.row.to_numpy(), totals.row.to_numpy()])
    cols = np.concatenate([both.cell.to_numpy(), totals.cell_total.to_numpy()])
    vals = np.concatenate([np.ones(len(both)), -np.ones(len(totals))])
    return sparse.csr_matrix((vals, (rows.astype(int), cols.astype(int))), shape=(first, len(cells)))


def suppress_margins(cells: pd.DataFrame, dims: list[str], count: str, rule: DisclosureRule,
                     known: tuple[str, ...] = ()) -> np.ndarray:
    """The hidden cells of a family of count tables made by :func:`with_margins`: one decision over every table
    and every level of it (the ICS and each Place), by the same rule and method as :func:`decide`, the grand
    total protected. Every output that prints one of these counts reads this decision, so no count is hidden
    in one and its complement published in another.

    Cells that are :data:`TOTAL` in every dimension of ``known`` are public anyway (the ICS's referrals by
    specialty, which the expected counts add up to; the ICS's registered people by age and sex, which NHS
    England publishes): they are constants of the equations, never hidden, so their parts are protected
    among themselves."""
    counts = cells[count].to_numpy(dtype=float)
    first = (counts >= 1) & (counts <= rule.suppress_up_to)
    top = (cells[dims] == TOTAL).all(axis=1).to_numpy()
    public = (cells[list(known)] == TOTAL).all(axis=1).to_numpy() if known else np.zeros(len(cells), dtype=bool)
    other = np.flatnonzero(~public)
    hidden = np.zeros(len(cells), dtype=bool)
    eq = margin_equations(cells, dims).tocsc()[:, other].tocsr()
    hidden[other] = suppress(counts[other], first[other], eq, protect=top[other])
    return hidden


NOT_KNOWN = "Not known"
"""How a table names people with no recorded group (no deprivation quintile, say)."""


def decide_family(frame: pd.DataFrame, tables: list[list[str]], counts: list[str], rule: DisclosureRule,
                  nested: list[tuple[str, str]] | None = None, decide: tuple[str, ...] = ("n",),
                  known: tuple[str, ...] = ()) -> pd.DataFrame:
    """A family of counts for the whole ICS (:func:`with_margins`) and the one decision over it for each count in
    ``decide`` (column ``hidden_<count>``, :func:`suppress_margins`, ``known`` margins public anyway), indexed by
    its dimensions (groups as text, none recorded as :data:`NOT_KNOWN`): every output that prints one of its
    counts cuts its table from it."""
    dims = list(dict.fromkeys(d for t in tables for d in t))
    frame = frame.astype({d: object for d in dims})
    frame[dims] = frame[dims].where(frame[dims].notna(), NOT_KNOWN).map(_label)
    cells = with_margins(frame, tables, counts, nested)
    for c in decide:
        cells[f"hidden_{c}"] = suppress_margins(cells, dims, c, rule, known)
    return cells.set_index(dims)


def _label(value: object) -> str:
    """A group as text (a quintile read back as 1.0 is 1)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def with_totals(inner: np.ndarray) -> np.ndarray:
    """A table of counts with a total column and a total row appended."""
    inner = np.atleast_2d(np.asarray(inner, dtype=float))
    rows = np.column_stack([inner, inner.sum(axis=1)])
    return np.vstack([rows, rows.sum(axis=0)])


def suppress_table(table: np.ndarray, rule: DisclosureRule) -> np.ndarray:
    """The hidden cells of one table of counts published on its own, whose last row and column are totals.

    The same rule and method as :func:`decide`, for a figure made outside the measurements table (the
    planning chapter's base-year population by age and sex).
    """
    table = np.atleast_2d(np.asarray(table, dtype=float))
    n_rows, n_cols = table.shape
    cell = np.arange(table.size).reshape(table.shape)
    line_rows = [np.repeat(np.arange(n_rows), n_cols), n_rows + np.tile(np.arange(n_cols), n_rows)]
    signs = [np.where(np.tile(np.arange(n_cols), n_rows) == n_cols - 1, -1.0, 1.0),
             np.where(np.repeat(np.arange(n_rows), n_cols) == n_rows - 1, -1.0, 1.0)]
    eq = sparse.csr_matrix((np.concatenate(signs), (np.concatenate(line_rows), np.tile(cell.ravel(), 2))),
                           shape=(n_rows + n_cols, table.size))
    counts = table.ravel()
    first = (counts >= 1) & (counts <= rule.suppress_up_to)
    return suppress(counts, first, eq).reshape(table.shape)
