"""Disclosure control: the rule, primary and secondary suppression, and attempted recovery by subtraction."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.optimize import linprog

from placewise.measure import load_catalogue
from placewise.profile import ProfileError, load_profile
from placewise.publish import disclosure
from placewise.publish.disclosure import (
    MILP_NODES,
    _confirm,
    _pieces,
    DisclosureRule,
    ReaderDecisions,
    decide,
    decide_for_reader,
    decision_bytes,
    decision_from_bytes,
    determined,
    digest,
    disclose,
    equations,
    load_rule,
    primary,
    publishable,
    round_counts,
    suppress_table,
    with_totals,
)

RULE = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "place", "pcn", "practice", "site", "g"])
PERIOD = {"indicator_id": "x", "period_start": "2024-03-01", "period_end": "2024-03-31"}
NO_RELATIONS = pd.DataFrame(columns=["parent_type", "parent_code", "child_type", "child_code"])


def _row(geo: str, code: str, n: float, breakdown: str = "none", group: str = "All", den: float = 1000.0,
         **extra: object) -> dict:
    """One measurement row of indicator ``x`` in March 2024."""
    return {**PERIOD, "geography_type": geo, "geography_code": code, "breakdown": breakdown,
            "breakdown_group": group, "numerator": float(n), "denominator": den, "value": n / den * 100,
            "lower": 0.0, "upper": 100.0, **extra}


def _relations(pairs: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """Nested geographies from (parent type, parent code, child type, child code)."""
    return pd.DataFrame(pairs, columns=["parent_type", "parent_code", "child_type", "child_code"])


def test_counts_from_1_to_7_are_hidden_and_zero_and_8_are_not():
    frame = pd.DataFrame([_row("place", str(n), n) for n in (0, 1, 7, 8, 100)])
    assert primary(frame, RULE, {"x": "proportion"}).tolist() == [False, True, True, False, False]


def test_a_small_denominator_hides_the_cell_whatever_its_numerator():
    # 0 of 5 people: no small numerator, but a percentage of five people is disclosive.
    frame = pd.DataFrame([_row("place", "a", 0, den=5.0), _row("place", "b", 0, den=8.0)])
    assert primary(frame, RULE, {"x": "proportion"}).tolist() == [True, False]
    # A ratio's denominator is an expected count (a model output), not people.
    assert primary(frame, RULE, {"x": "ratio"}).tolist() == [False, False]


def test_counts_are_rounded_to_the_nearest_5():
    assert round_counts(np.array([0, 2, 3, 8, 12, 13, 17, 18, np.nan]), 5).tolist()[:8] == [
        0, 0, 5, 10, 10, 15, 15, 20]
    assert np.isnan(round_counts(np.array([np.nan]), 5)[0])


def test_one_small_place_hides_the_next_smallest_so_the_ics_total_gives_neither():
    # The shape: ICS 41 = 16 + 9 + 13 + 3. Bedford's 3 is small; without a second hidden
    # Place, 41 - 16 - 9 - 13 gives it back. The smallest other Place (9) is hidden with it.
    places = {"luton": 16, "bedford_small": 3, "mk": 13, "cbeds": 9}
    frame = pd.DataFrame([_row("place", k, v) for k, v in places.items()] + [_row("ics", "QHG", 41)])
    rel = _relations([("ics", "QHG", "place", k) for k in places])
    cells = decide(frame, RULE, {"x": "proportion"}, rel).cells
    hidden = dict(zip(cells.geography_code, cells.suppressed, strict=True))
    assert hidden == {"luton": False, "bedford_small": True, "mk": False, "cbeds": True, "QHG": False}
    assert cells.set_index("geography_code").reason.to_dict() == {
        "luton": "", "bedford_small": "small count", "mk": "", "cbeds": "secondary", "QHG": ""}


def test_a_place_lead_cannot_work_out_another_place_from_their_own_hidden_place_and_the_ics_total():
    # The published decision hides Bedford's 3 and Central Bedfordshire's 9 beside the ICS's 41. Bedford's
    # lead knows their own 3, so 41 - 16 - 13 - 3 gives Central Bedfordshire's 9 back: a third Place must go.
    places = {"luton": 16, "bedford_small": 3, "mk": 13, "cbeds": 9}
    frame = pd.DataFrame([_row("place", k, v) for k, v in places.items()] + [_row("ics", "QHG", 41)])
    rel = _relations([("ics", "QHG", "place", k) for k in places])
    published = decide(frame, RULE, {"x": "proportion"}, rel)
    known = (frame.geography_code == "bedford_small").to_numpy()
    eq = equations(frame, rel)[:, np.flatnonzero(~known)]
    leaked = determined(eq, published.cells.suppressed.to_numpy()[~known])
    assert leaked.tolist() == [False, False, True, False], "the published decision alone leaks to the lead"
    reader = decide_for_reader(frame, published, {"x": "proportion"}, rel, known).cells
    assert reader.suppressed.tolist() == [False, False, True, True, False]
    assert reader.reason.tolist() == ["", "", "secondary", "secondary", ""]
    assert not determined(eq, reader.suppressed.to_numpy()[~known]).any()
    # Everyone else's decision is unchanged, and a reader who knows nothing gets the published one.
    assert published.cells.suppressed.tolist() == [False, True, False, True, False]
    nobody = decide_for_reader(frame, published, {"x": "proportion"}, rel, np.zeros(len(frame), dtype=bool))
    assert nobody.cells.equals(published.cells)


def test_a_bridge_between_two_closed_patterns_is_found_and_protected():
    # Equations: a + b = T1, c + d = T2, a + c = T3, b + e = T4, d + f = T5, e + f = T6 over six
    # hidden cells. Every equation holds two hidden cells, yet summing them with signs pins cells:
    # (a+b) - (a+c) + (c+d) - (b+e) - (d+f) + (e+f) = 0 gives nothing, but here we build a chain
    # where one cell is fixed: rows {a,b}, {a,b,c}: c = T2 - T1.
    frame = pd.DataFrame([_row("g", "a", 3), _row("g", "b", 40), _row("g", "c", 50), _row("g", "t1", 43),
                          _row("g", "t2", 93)])
    rel = _relations([("g", "t1", "g", "a"), ("g", "t1", "g", "b"),
                      ("g", "t2", "g", "a"), ("g", "t2", "g", "b"), ("g", "t2", "g", "c")])
    eq = equations(frame, rel)
    hidden = np.array([True, True, True, False, False])
    # a and b appear together in both totals; c = t2 - t1 is pinned though each total has 2+ hidden.
    assert determined(eq, hidden).tolist() == [False, False, True, False, False]
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    assert not determined(eq, cells.suppressed.to_numpy()).any()


def test_each_kind_of_part_is_its_own_total():
    # The ICS is the sum of its Places and, separately, of its sites. Taken as one equation (ICS =
    # Places + sites), hiding a site beside Bedford's 3 looked enough, yet 100 - 97 gives the 3 back.
    frame = pd.DataFrame([_row("ics", "I", 100), _row("place", "P1", 3), _row("place", "P2", 97),
                          _row("site", "S1", 50), _row("site", "S2", 50)])
    rel = _relations([("ics", "I", "place", "P1"), ("ics", "I", "place", "P2"),
                      ("ics", "I", "site", "S1"), ("ics", "I", "site", "S2")])
    eq = equations(frame, rel)
    assert eq.shape[0] == 2
    assert determined(eq, np.array([False, True, False, True, False]))[1]
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    assert cells.suppressed.tolist() == [False, True, True, False, False]


def test_the_ics_total_is_not_a_complement_where_a_lower_cell_will_do():
    # Most of the ICS's admissions are at hospitals outside it: its sites hold 4, 0 and 0 of its 100.
    # The small site needs a partner in the ICS-by-site total; the only other non-zero cell there is
    # the ICS total itself (chosen before, the cheapest count), so a zero site is hidden instead.
    frame = pd.DataFrame([_row("ics", "I", 100), _row("place", "P1", 60), _row("place", "P2", 40),
                          _row("site", "S1", 4), _row("site", "S2", 0), _row("site", "S3", 0)])
    rel = _relations([("ics", "I", "place", "P1"), ("ics", "I", "place", "P2"),
                      *(("ics", "I", "site", s) for s in ("S1", "S2", "S3"))])
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    assert cells.suppressed.tolist() == [False, False, False, True, True, False]
    assert cells.reason.tolist()[:4] == ["", "", "", "small count"]
    # The reader knows S1 + S2 = 4 and neither is negative: S1 is anywhere from 0 to 4.
    assert not determined(equations(frame, rel), cells.suppressed.to_numpy()).any()


def test_a_small_group_of_the_ics_is_protected_by_groups_not_by_the_ics_total():
    # Ethnic groups do not cover everyone (not stated), so the ICS total is not their sum. Mixed: 3
    # at the ICS, all in P1; Other: 0 everywhere. The old choice hid the ICS and P1 totals (the
    # cheapest non-zero cells); now the zero groups are hidden and both totals published.
    frame = pd.DataFrame([_row("ics", "I", 100), _row("place", "P1", 60), _row("place", "P2", 40),
                          _row("ics", "I", 3, "ethnic_group", "Mixed"), _row("ics", "I", 0, "ethnic_group", "Other"),
                          _row("place", "P1", 3, "ethnic_group", "Mixed"), _row("place", "P1", 0, "ethnic_group", "Other"),
                          _row("place", "P2", 0, "ethnic_group", "Mixed"), _row("place", "P2", 0, "ethnic_group", "Other")])
    rel = _relations([("ics", "I", "place", "P1"), ("ics", "I", "place", "P2")])
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    assert not cells.suppressed[cells.breakdown == "none"].any()
    assert cells.suppressed.tolist()[3:] == [True, True, True, True, False, False]
    assert not determined(equations(frame, rel), cells.suppressed.to_numpy()).any()


def test_complements_are_taken_below_a_total_before_the_total():
    # P1's female 3 needs a partner in P1 (female + male = P1) and in the ICS's females (P1 + P2).
    # P1's male (597) is a part, P1's total (600) a total: the part is hidden even though the counts
    # are close, and so is P2's female rather than the ICS's.
    frame = pd.DataFrame([_row("ics", "I", 1000), _row("place", "P1", 600), _row("place", "P2", 400),
                          _row("ics", "I", 300, "sex", "female"), _row("ics", "I", 700, "sex", "male"),
                          _row("place", "P1", 3, "sex", "female"), _row("place", "P1", 597, "sex", "male"),
                          _row("place", "P2", 297, "sex", "female"), _row("place", "P2", 103, "sex", "male")])
    rel = _relations([("ics", "I", "place", "P1"), ("ics", "I", "place", "P2")])
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    assert cells.suppressed.tolist() == [False, False, False, False, False, True, True, True, True]
    assert not determined(equations(frame, rel), cells.suppressed.to_numpy()).any()


def test_the_gap_of_a_mean_is_hidden_with_its_quintile():
    rows = [_row("ics", "QHG", 200, "none", den=200.0)]
    rows += [_row("ics", "QHG", n, "imd_quintile", q, den=float(n)) for q, n in zip("12345", (3, 40, 50, 50, 57),
                                                                                     strict=True)]
    rows += [_row("ics", "QHG", np.nan, "imd_quintile_gap", "5 minus 1", den=np.nan)]
    cells = decide(pd.DataFrame(rows), RULE, {"x": "mean"}, NO_RELATIONS).cells
    gap = cells[cells.breakdown == "imd_quintile_gap"].iloc[0]
    assert gap.suppressed and gap.reason == "derived"
    assert cells[cells.breakdown_group == "1"].suppressed.all()


def test_publishable_empties_hidden_cells_rounds_counts_and_leaves_exempt_figures():
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["place"], exempt={"pub": "NHS England statistics"})
    frame = pd.DataFrame([
        _row("place", "a", 3),
        _row("place", "b", 13, den=1002.0),
        {**_row("place", "c", 12), "indicator_id": "n", "value": 12.0, "denominator": np.nan},
        {**_row("place", "d", 3, den=9.0), "indicator_id": "pub"},
    ])
    measures = {"x": "proportion", "n": "count", "pub": "proportion"}
    out = publishable(frame, decide(frame, rule, measures, NO_RELATIONS), measures)
    a, b, c, d = (out.iloc[i] for i in range(4))
    assert a.suppressed and all(np.isnan(a[k]) for k in ("numerator", "denominator", "value", "lower", "upper"))
    assert (b.numerator, b.denominator, b.value) == (15.0, 1000.0, frame.value[1])
    assert (c.numerator, c.value) == (10.0, 10.0) and np.isnan(c.lower) and np.isnan(c.upper)
    assert not d.suppressed and (d.numerator, d.denominator) == (3.0, 9.0)


def test_a_geography_the_rule_does_not_publish_is_hidden_whole():
    # PCNs are not in the rule's geographies: every PCN figure is hidden, large or small, so a
    # publisher cannot show one without extending the rule (and so the decision) to PCNs.
    frame = pd.DataFrame([_row("ics", "I", 500), _row("pcn", "N1", 200), _row("pcn", "N2", 300)])
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics"])
    measures = {"x": "proportion"}
    cells = decide(frame, rule, measures, _relations([("ics", "I", "pcn", "N1"), ("ics", "I", "pcn", "N2")])).cells
    assert cells.suppressed.tolist() == [False, True, True]
    assert cells.reason.tolist() == ["", "not published", "not published"]
    out = publishable(frame, decide(frame, rule, measures, NO_RELATIONS), measures)
    assert out.value.isna().tolist() == [False, True, True]


def test_the_statement_quotes_the_rule_it_is_made_from():
    text = DisclosureRule(suppress_up_to=9, round_to=10, geographies=["ics"]).statement()
    assert "Counts from 1 to 9 are not published" in text and "rounded to the nearest 10" in text


def test_the_bundled_rule_is_1_to_7_rounded_to_5_with_the_nhs_england_returns_exempt():
    profile = load_profile()
    rule = load_rule(profile)
    assert (rule.suppress_up_to, rule.round_to) == (7, 5)
    # Exactly the indicators read from NHS England's published returns are exempt.
    returned = {i.id for i in load_catalogue(profile).indicators
                if getattr(i.numerator, "kind", "") in ("aggregate", "returned")}
    assert set(rule.exempt) == returned and {"ae_4hr_type1_published", "rtt_18wk"} <= returned


def _profile_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "profile"
    shutil.copytree(load_profile().folder, folder)
    (folder / "disclosure.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_bad_rule_names_the_file_and_field(tmp_path: Path):
    profile = load_profile(_profile_with(tmp_path, "suppress_up_to: 0\nround_to: 5\ngeographies: [ics]\n"))
    with pytest.raises(ProfileError, match=r"disclosure\.yaml: suppress_up_to: Input should be greater"):
        load_rule(profile)
    profile = load_profile(_profile_with(tmp_path / "b", "suppress_up_to: 7\nround_to: 5\ngeographies: [ics]\nexempt: {nope: x}\n"))
    with pytest.raises(ProfileError, match=r"disclosure\.yaml: exempt: unknown indicator\(s\) nope"):
        load_rule(profile)


# ----------------------------------------------------------------- attempted recovery, by linear programming

Node = tuple[str, str]
Families = list[tuple[Node, list[Node]]]


@st.composite
def hierarchies(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, Families]:
    """A random ICS: Places of PCNs of practices, a breakdown of 2-4 groups, many small counts, and
    hospital sites whose counts do not add up to the ICS (most of its people are treated elsewhere).

    Returns the measurements, the nested geographies for the module (as ``geography_relations`` makes
    them: the ICS is also the parent of every PCN and practice, a Place of its practices), and
    (independently) each total with one kind of its parts, for the checker.
    """
    groups = [f"g{i}" for i in range(draw(st.integers(2, 4)))]
    small = st.one_of(st.integers(0, 9), st.integers(0, 60))
    children: dict[Node, list[Node]] = {("ics", "I"): []}
    leaf: dict[Node, list[int]] = {}
    under: dict[Node, list[Node]] = {("ics", "I"): []}
    for p in range(draw(st.integers(1, 3))):
        place = ("place", f"P{p}")
        children[("ics", "I")].append(place)
        children[place], under[place] = [], []
        for n in range(draw(st.integers(1, 3))):
            pcn = ("pcn", f"N{p}{n}")
            children[place].append(pcn)
            children[pcn] = []
            for k in range(draw(st.integers(1, 3))):
                practice = ("practice", f"R{p}{n}{k}")
                children[pcn].append(practice)
                under[place].append(practice)
                leaf[practice] = [draw(small) for _ in groups]

    def total(node: Node) -> np.ndarray:
        return np.array(leaf[node]) if node in leaf else sum(total(c) for c in children[node])

    ics = total(("ics", "I"))
    sites = {("site", f"S{k}"): [min(draw(small), int(n) // 3) for n in ics] for k in range(draw(st.sampled_from([0, 2, 3])))}
    rows = []
    for node, by_group in [*((n, total(n)) for n in [*children, *leaf]), *sites.items()]:
        rows.append(_row(*node, int(np.sum(by_group))))
        rows += [_row(*node, int(n), "group", g) for g, n in zip(groups, by_group, strict=True)]
    pcns = [n for n in children if n[0] == "pcn"]
    families = [*children.items(), (("ics", "I"), pcns), (("ics", "I"), list(leaf)),
                *((place, practices) for place, practices in under.items() if place[0] == "place")]
    families += [(("ics", "I"), list(sites))] if sites else []
    rel = _relations(sorted({(*parent, *child) for parent, kids in families for child in kids}))
    return pd.DataFrame(rows), rel, families


def _ranges(frame: pd.DataFrame, hidden: np.ndarray, families) -> list[tuple[float, float, float]]:
    """(true count, least, greatest) that the published figures allow for each hidden cell.

    The reader knows every published count exactly (a value and its interval give it back), that
    counts are not negative, that each total is the sum of its groups and, group by group, of each
    kind of its parts (``families``: a total and one kind of its parts), except that sites add up to
    at most the ICS (they treat its people only in part). Each hidden cell is minimised and maximised
    by linear programming.
    """
    key = {(r.geography_type, r.geography_code, r.breakdown_group): i for i, r in enumerate(frame.itertuples())}
    groups = sorted(set(frame.breakdown_group) - {"All"})
    lines = [([(key[(*parent, g)], -1.0)] + [(key[(*c, g)], 1.0) for c in kids], kids[0][0] == "site")
             for parent, kids in families for g in ["All", *groups]]
    nodes = {(t, c) for t, c, _ in key} if groups else set()
    lines += [([(key[(*node, "All")], -1.0)] + [(key[(*node, g)], 1.0) for g in groups], False) for node in nodes]
    counts = frame.numerator.to_numpy()
    cols = np.flatnonzero(hidden)
    where = {c: j for j, c in enumerate(cols)}
    a = np.zeros((len(lines), cols.size))
    b = np.zeros(len(lines))
    for i, (line, _) in enumerate(lines):
        for cell, coef in line:
            if cell in where:
                a[i, where[cell]] += coef
            else:
                b[i] -= coef * counts[cell]
    at_most = np.array([loose for _, loose in lines], dtype=bool)
    bounds = {"A_eq": a[~at_most], "b_eq": b[~at_most], "A_ub": a[at_most], "b_ub": b[at_most]} if at_most.any() \
        else {"A_eq": a, "b_eq": b}
    out = []
    for j, cell in enumerate(cols):
        goal = np.zeros(cols.size)
        goal[j] = 1.0
        low = linprog(goal, **bounds, bounds=(0, None), method="highs")
        high = linprog(-goal, **bounds, bounds=(0, None), method="highs")
        assert low.status == 0 and high.status in (0, 3)   # 3: unbounded, nothing caps the hidden cell
        out.append((counts[cell], low.fun, -high.fun if high.status == 0 else np.inf))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies())
def test_no_hidden_count_is_pinned_by_the_published_figures(h):
    frame, rel, families = h
    cells = decide(frame, RULE, {"x": "count"}, rel).cells
    hidden = cells.suppressed.to_numpy()
    counts = frame.numerator.to_numpy()
    assert hidden[(counts >= 1) & (counts <= 7)].all()
    # The ICS total is hidden only where it is a small count itself, or the same cells as its one Place.
    top = ((frame.geography_type == "ics") & (frame.breakdown == "none")).to_numpy()
    assert cells.reason[top].isin(["", "small count"]).all() or (frame.geography_type == "place").sum() == 1 + len(
        set(frame.breakdown_group) - {"All"})
    for true, low, high in _ranges(frame, hidden, families):
        assert low - 1e-6 <= true <= high + 1e-6
        # A hidden zero may be known to be zero where a published total of zero says so, nothing more.
        assert high - low > 0.5 or true == 0, f"a hidden count of {true} is pinned to {low}"


def test_the_checker_recovers_counts_when_only_primary_suppression_is_applied():
    # Without secondary suppression a practice's small count comes back from its PCN's total.
    children = {("ics", "I"): [("place", "P0")], ("place", "P0"): [("pcn", "N0")],
                ("pcn", "N0"): [("practice", "R0"), ("practice", "R1")]}
    rows = []
    for node, n in [(("ics", "I"), 53), (("place", "P0"), 53), (("pcn", "N0"), 53), (("practice", "R0"), 3),
                    (("practice", "R1"), 50)]:
        rows.append(_row(*node, n))
    frame = pd.DataFrame(rows)
    recovered = _ranges(frame, np.array([False, False, False, True, False]), children.items())
    assert recovered == [(3.0, pytest.approx(3.0), pytest.approx(3.0))]
    # With the decision the PCN total, and so the Place and ICS, are protected in turn.
    cells = decide(frame, RULE, {"x": "count"},
                   _relations([(*p, *c) for p, kids in children.items() for c in kids])).cells
    assert all(high - low > 0.5 for _, low, high in _ranges(frame, cells.suppressed.to_numpy(), children.items()))


def _exactly_determined(eq, hidden: np.ndarray) -> np.ndarray:
    """Hidden cells in the row space of the hidden cells' equations, by exact rank (the slow, sure way)."""
    a = eq[:, hidden].toarray()
    rank = np.linalg.matrix_rank(a)
    pinned = [np.linalg.matrix_rank(np.vstack([a, np.eye(a.shape[1])[j]])) == rank for j in range(a.shape[1])]
    out = np.zeros(hidden.size, dtype=bool)
    out[np.flatnonzero(hidden)] = pinned
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies(), st.randoms(use_true_random=False))
def test_the_null_space_check_agrees_with_exact_rank_on_random_patterns(h, rnd):
    frame, rel, _ = h
    eq = equations(frame, rel)
    hidden = np.array([rnd.random() < 0.4 for _ in range(len(frame))])
    exact = _exactly_determined(eq, hidden)
    assert determined(eq, hidden).tolist() == exact.tolist()
    # Checking only the pieces that hold a changed cell gives the same answer for the cells it checks.
    changed = hidden & np.array([rnd.random() < 0.3 for _ in range(len(frame))])
    partial = determined(eq, hidden, changed)
    assert partial[changed].tolist() == exact[changed].tolist() and not (partial & ~exact).any()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchies(), st.randoms(use_true_random=False))
def test_the_exact_check_clears_every_cell_the_probe_wrongly_calls_determined(h, rnd):
    """The probe errs only one way (a free cell near zero by chance); the exact check on a piece takes back every
    such cell: told that every hidden cell is determined, it keeps exactly the rank test's."""
    frame, rel, _ = h
    eq = equations(frame, rel)
    hidden = np.array([rnd.random() < 0.4 for _ in range(len(frame))])
    sub = eq[:, hidden].tocsr()
    sub = sub[np.diff(sub.indptr) > 0]
    eq_comp, cell_comp = _pieces(sub)
    confirmed = _confirm(sub, np.ones(sub.shape[1], dtype=bool), eq_comp, cell_comp)
    assert confirmed.tolist() == _exactly_determined(eq, hidden)[hidden].tolist()


def test_a_table_published_on_its_own_gets_the_same_rule():
    # Population by age band (rows) and sex (columns) with totals; 3 people aged 90+ of each sex.
    table = with_totals([[120, 130], [80, 90], [3, 3]])
    hidden = suppress_table(table, RULE)
    assert hidden[2, 0] and hidden[2, 1]
    # The 90+ total (6) is small too, so it is hidden, and its column partner keeps it from subtraction.
    assert hidden[2, 2]
    assert not determined(_grid_equations(table.shape), hidden.ravel()).any()


def _grid_equations(shape: tuple[int, int]):
    """Row and column sums of a table with totals, written out cell by cell (independently of the module)."""
    from scipy import sparse

    n_rows, n_cols = shape
    entries = []
    for r in range(n_rows):
        entries += [(r, r * n_cols + c, -1.0 if c == n_cols - 1 else 1.0) for c in range(n_cols)]
    for c in range(n_cols):
        entries += [(n_rows + c, r * n_cols + c, -1.0 if r == n_rows - 1 else 1.0) for r in range(n_rows)]
    rows, cols, vals = zip(*entries, strict=True)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(n_rows + n_cols, n_rows * n_cols))


def test_a_geography_published_for_the_whole_population_only_has_its_breakdowns_hidden():
    rule = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["ics", "practice"],
                          whole_population_only=["practice"])
    frame = pd.DataFrame([_row("ics", "I", 500), _row("practice", "R1", 200), _row("practice", "R2", 300),
                          _row("practice", "R1", 120, "sex", "female"), _row("practice", "R1", 80, "sex", "male")])
    cells = decide(frame, rule, {"x": "proportion"}, _relations([("ics", "I", "practice", "R1"),
                                                                 ("ics", "I", "practice", "R2")])).cells
    assert cells.suppressed.tolist() == [False, False, False, True, True]
    assert cells.reason.tolist()[3:] == ["not published", "not published"]
    assert "Figures for GP practices are published for the whole population only" in rule.statement()


def test_a_cross_breakdown_cell_cannot_be_worked_out_from_either_single_breakdown():
    # Women 60 = quintile 1 (3) + quintile 2 (57); men 50 = 20 + 30; quintile 1 23 = 3 + 20; quintile 2 87.
    # Hiding female|1 alone would be undone by female - female|2 (or quintile 1 - male|1); so a complement
    # in each of its totals is hidden too, and nothing hidden is pinned by the published figures.
    cross = {("female", "1"): 3, ("female", "2"): 57, ("male", "1"): 20, ("male", "2"): 30}
    rows = [_row("ics", "QHG", 110)]
    rows += [_row("ics", "QHG", n, "sex", g) for g, n in (("female", 60), ("male", 50))]
    rows += [_row("ics", "QHG", n, "imd_quintile", q) for q, n in (("1", 23), ("2", 87))]
    rows += [_row("ics", "QHG", n, "sex_by_imd_quintile", f"{g}|{q}") for (g, q), n in cross.items()]
    frame = pd.DataFrame(rows)
    cells = decide(frame, RULE, {"x": "proportion"}, NO_RELATIONS).cells
    hidden = cells.suppressed.to_numpy()
    assert cells.set_index("breakdown_group").suppressed["female|1"]
    assert hidden.sum() >= 4  # female|1 with complements in sex, quintile and whole-population totals
    assert not determined(equations(frame, NO_RELATIONS), hidden).any()
    # The margins of the cross cells are equations of the matrix: female|1 + female|2 - female = 0.
    eq = equations(frame, NO_RELATIONS).toarray()
    col = {g: i for i, g in enumerate(frame.breakdown_group)}
    assert any(r[col["female|1"]] == 1 and r[col["female|2"]] == 1 and r[col["female"]] == -1 and abs(r).sum() == 3
               for r in eq)


BLMK_LIKE = [("ics", "I", "place", p) for p in "ABCD"] + [("g", "CA", "place", p) for p in "ABC"] + \
    [("g", "CCG", "place", p) for p in "AB"]
"""Groupings of Places as BLMK's: a care alliance of three Places holding a legacy CCG of two."""


def test_groupings_of_places_carry_the_equations_they_imply():
    # CA - CCG = C, and I - CA = D: the difference of nested groupings is an equation of its own.
    frame = pd.DataFrame([_row("ics", "I", 100), *(_row("place", p, n) for p, n in zip("ABCD", (10, 30, 20, 40))),
                          _row("g", "CA", 60), _row("g", "CCG", 40)])
    eq = equations(frame, _relations(BLMK_LIKE)).toarray()
    rows = {tuple(r) for r in eq}
    # cells: I, A, B, C, D, CA, CCG
    assert (0, 0, 0, 1, 0, -1, 1) in rows and (-1, 0, 0, 0, 1, 1, 0) in rows
    values = np.array([100, 10, 30, 20, 40, 60, 40])
    assert not (eq @ values).any()  # every equation holds


def test_complements_are_the_least_set_that_leaves_no_hidden_cell_alone():
    # A's 3 sits in the ICS, the care alliance and the legacy CCG. Hiding B alone covers all three at once; the
    # cheapest other Place in each total one by one (C in the ICS and care alliance, then B in the CCG) hid two.
    frame = pd.DataFrame([_row("ics", "I", 93), *(_row("place", p, n) for p, n in zip("ABCD", (3, 30, 20, 40))),
                          _row("g", "CA", 53), _row("g", "CCG", 33)])
    cells = decide(frame, RULE, {"x": "count"}, _relations(BLMK_LIKE)).cells
    assert cells.suppressed.tolist() == [False, True, True, False, False, False, False]
    assert not determined(equations(frame, _relations(BLMK_LIKE)), cells.suppressed.to_numpy()).any()


def _least_set_table() -> pd.DataFrame:
    """A's 3 in the ICS, a care alliance and a legacy CCG: the least complement (B) and the greedy one (C, then B)
    differ."""
    return pd.DataFrame([_row("ics", "I", 93), *(_row("place", p, n) for p, n in zip("ABCD", (3, 30, 20, 40))),
                         _row("g", "CA", 53), _row("g", "CCG", 33)])


def test_the_solver_stops_at_a_count_of_nodes_not_seconds_so_a_busy_machine_decides_the_same(monkeypatch):
    # HiGHS's limit was 10 s of wall-clock time per programme: on a loaded machine a batch could run out of time and
    # take the greedy choice. Now it is a count of branch-and-bound nodes; reached or not, the answer is fixed.
    frame, relations = _least_set_table(), _relations(BLMK_LIKE)
    solved: list[tuple[dict, int]] = []
    milp = optimize.milp

    def spy(*args, **kwargs):
        options = dict(kwargs["options"])  # as given: SciPy takes the options out of the dictionary
        result = milp(*args, **kwargs)
        solved.append((options, result.status))
        return result

    monkeypatch.setattr(optimize, "milp", spy)
    proved = decide(frame, RULE, {"x": "count"}, relations).cells.suppressed.tolist()
    assert solved == [({"node_limit": MILP_NODES, "disp": False}, 0)]  # no time limit; proved optimal
    assert proved == [False, True, True, False, False, False, False]
    solved.clear()
    monkeypatch.setattr(disclosure, "MILP_NODES", 0)  # the limit reached before any solution: the greedy choice
    limited = [decide(frame, RULE, {"x": "count"}, relations).cells.suppressed.tolist() for _ in range(3)]
    assert [status != 0 for _, status in solved].count(True) >= 3  # the limit was reached in every decision
    assert limited[0] == limited[1] == limited[2] != proved  # the greedy choice, the same every time
    assert limited[0][0] is False  # the ICS total still kept
    assert not determined(equations(frame, relations), np.array(limited[0])).any()


def test_a_kept_decision_reads_back_cell_for_cell_and_its_digest_follows_every_input():
    frame, relations = _least_set_table(), _relations(BLMK_LIKE)
    key = digest(frame, RULE, {"x": "count"}, relations)
    made = decide(frame, RULE, {"x": "count"}, relations)
    back = decision_from_bytes(frame, RULE, decision_bytes(made), key)
    pd.testing.assert_frame_equal(back.cells, made.cells)
    assert back.digest == key and digest(frame.copy(), RULE, {"x": "count"}, relations.copy()) == key
    one_more = frame.copy()
    one_more.loc[2, "numerator"] += 1
    assert digest(one_more, RULE, {"x": "count"}, relations) != key
    assert digest(frame.iloc[::-1].reset_index(drop=True), RULE, {"x": "count"}, relations) != key
    assert digest(frame, RULE.model_copy(update={"suppress_up_to": 5}), {"x": "count"}, relations) != key
    assert digest(frame, RULE, {"x": "proportion"}, relations) != key
    assert digest(frame, RULE, {"x": "count"}, relations.iloc[1:]) != key
    with pytest.raises(ValueError, match="different table"):
        decision_from_bytes(frame.iloc[1:], RULE, decision_bytes(made), key)


def test_the_decision_does_not_depend_on_the_order_the_engine_returned_the_rows_in():
    # Two Places of 9 tie as the complement for Bedford's 3; the tie goes to the earlier cell by its key, not to
    # whichever row the engine happened to return first (Spark and PostgreSQL give no fixed order).
    places = {"luton": 16, "bedford_small": 3, "mk": 9, "cbeds": 9}
    frame = pd.DataFrame([_row("place", k, v) for k, v in places.items()] + [_row("ics", "QHG", 37)])
    rel = _relations([("ics", "QHG", "place", k) for k in places])
    hidden = {}
    for rows in (frame, frame.iloc[::-1], frame.iloc[[2, 0, 4, 3, 1]]):
        published, decision = disclose(rows, RULE, {"x": "proportion"}, rel)
        assert list(published.geography_code) == list(rows.geography_code)  # the rows' own order is kept
        assert list(decision.cells.geography_code) == list(rows.geography_code)
        hidden[tuple(rows.geography_code)] = dict(zip(decision.cells.geography_code, decision.cells.suppressed,
                                                      strict=True))
    assert list(hidden.values()) == [{"luton": False, "bedford_small": True, "mk": False, "cbeds": True,
                                      "QHG": False}] * 3


def test_a_readers_decision_does_not_depend_on_the_order_of_the_frame():
    # Bedford's 3 is hidden with the first of three tied Places of 9 by key (cbeds). Its Place lead knows cbeds, so
    # a new complement is needed: of the tied dd and mk, the earlier by key (dd), in whatever order the frame is.
    places = {"luton": 16, "bedford_small": 3, "mk": 9, "cbeds": 9, "dd": 9}
    frame = pd.DataFrame([_row("place", k, v) for k, v in places.items()] + [_row("ics", "QHG", 46)])
    rel = _relations([("ics", "QHG", "place", k) for k in places])
    hidden = []
    for rows in (frame, frame.iloc[::-1], frame.iloc[[2, 0, 5, 4, 3, 1]]):
        rows = rows.reset_index(drop=True)
        _, published = disclose(rows, RULE, {"x": "proportion"}, rel)
        reader = ReaderDecisions(rows, published, {"x": "proportion"}, rel).for_known(rows.geography_code == "cbeds")
        hidden.append(dict(zip(reader.cells.geography_code, reader.cells.suppressed, strict=True)))
    assert hidden == [{"luton": False, "bedford_small": True, "mk": False, "cbeds": False, "dd": True,
                       "QHG": False}] * 3
