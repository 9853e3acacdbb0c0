"""Attempted recovery across practices' referral feedback packs: a reader with every practice's pack tries to get a
hidden count back by subtraction.

Each pack prints its practice's referrals by specialty (a value with its expected count and ratio gives the count
back exactly), the expected count even where the count is hidden, and its PCN's ratio. So the reader knows, besides
every published practice count: a PCN's count wherever its ratio is printed (the ratio times the sum of its
practices' expected counts), and the ICS's count for every specialty (indirect standardisation at the ICS rate makes
the expected counts of all practices add up to it). Decided pack by pack, practice P1's 3 referrals came back twice:
23 in its PCN (P2's pack) - 20 (P2's), and 63 in the ICS - 20 - 22 - 18.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from placewise.analyse.variation import STRATA, ReferralCube
from placewise.publish.disclosure import SUPPRESSED_TEXT, DisclosureRule
from placewise.publish.feedback import CONVERSION_COUNTS, feedback_html

RULE = DisclosureRule(suppress_up_to=7, round_to=5, geographies=["practice"])
PRACTICES = ["P1", "P2", "P3", "P4"]
PCN_OF = {"P1": "N1", "P2": "N1", "P3": "N2", "P4": "N2"}
SPECIALTIES = ["100", "110", "120"]
COUNTS = np.array([[40, 3, 30], [35, 20, 25], [50, 22, 28], [45, 18, 33]], dtype=float)  # practice x specialty
ICS = "*ics*"


def _cube() -> ReferralCube:
    """One month, every practice's 100 people in one stratum, referrals as :data:`COUNTS`."""
    strata = int(np.prod(STRATA))
    referrals = np.zeros((len(PRACTICES), len(SPECIALTIES), 1, strata))
    referrals[:, :, 0, 0] = COUNTS
    population = np.zeros((len(PRACTICES), 1, strata))
    population[:, 0, 0] = 100
    return ReferralCube(PRACTICES, SPECIALTIES, ["2024-03"], referrals, population)


def _printed(html: str) -> dict[str, list[str]]:
    """Each specialty's printed cells: referrals, expected, ratio, verdict, need ratio, verdict, differ, PCN ratio."""
    table = html.split("<h2>")[0]   # the ratios' table, before the funnels and the conversion table
    rows = re.findall(r"<tr><td>(\d+) [^<]*</td>(.*?)</tr>", table)
    return {spec: re.findall(r"<td>(.*?)</td>", cells) for spec, cells in rows}


def _known(packs: dict[str, str]) -> dict[tuple[str, str], float]:
    """What the reader works out from the packs: (unit, specialty) -> count, unit a practice, a PCN or the ICS."""
    known: dict[tuple[str, str], float] = {}
    expected: dict[tuple[str, str], float] = {}
    for practice, html in packs.items():
        for spec, cells in _printed(html).items():
            expected[(practice, spec)] = float(cells[1])
            if cells[0] != SUPPRESSED_TEXT:
                known[(practice, spec)] = round(float(cells[2]) * float(cells[1]))
            if cells[7] != SUPPRESSED_TEXT:
                pcn = PCN_OF[practice]
                pcn_expected = sum(float(_printed(packs[p])[spec][1]) for p in PRACTICES if PCN_OF[p] == pcn)
                known[(pcn, spec)] = round(float(cells[7]) * pcn_expected)
    for spec in SPECIALTIES:
        known[(ICS, spec)] = round(sum(expected[(p, spec)] for p in PRACTICES))
    return known


def _recoverable(known: dict[tuple[str, str], float]) -> list[tuple[tuple[str, str], int]]:
    """Hidden small counts pinned by what is known and the totals (practices add up to their PCN, PCNs to the
    ICS), by an exact rank test; a count the reader worked out from published figures is recovered outright."""
    truth = {(p, s): COUNTS[i, j] for i, p in enumerate(PRACTICES) for j, s in enumerate(SPECIALTIES)}
    for pcn in set(PCN_OF.values()):
        for j, s in enumerate(SPECIALTIES):
            truth[(pcn, s)] = sum(COUNTS[i, j] for i, p in enumerate(PRACTICES) if PCN_OF[p] == pcn)
    for j, s in enumerate(SPECIALTIES):
        truth[(ICS, s)] = COUNTS[:, j].sum()
    assert all(known[k] == truth[k] for k in known)  # the reader's arithmetic is right
    unknown = [k for k in truth if k not in known]
    col = {k: i for i, k in enumerate(unknown)}
    sums = [([(p, s) for p in PRACTICES if PCN_OF[p] == pcn], (pcn, s)) for pcn in set(PCN_OF.values())
            for s in SPECIALTIES]
    sums += [([(pcn, s) for pcn in set(PCN_OF.values())], (ICS, s)) for s in SPECIALTIES]
    rows = []
    for parts, whole in sums:
        eq = np.zeros(len(unknown))
        for k in [*parts, whole]:
            if k in col:
                eq[col[k]] += -1 if k == whole else 1
        rows.append(eq)
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    out = [(k, int(truth[k])) for k in unknown if 1 <= truth[k] <= RULE.suppress_up_to
           and np.linalg.matrix_rank(np.vstack([a, np.eye(len(unknown))[col[k]]])) == rank]
    return out + [(k, int(v)) for k, v in known.items() if 1 <= v <= RULE.suppress_up_to]


def test_no_referral_count_comes_back_from_every_practices_pack_together() -> None:
    cube = _cube()
    none = pd.DataFrame({c: pd.Series(dtype=float) for c in ["practice_code", "treatment_function", *CONVERSION_COUNTS]})
    packs = {p: feedback_html(cube, p, PCN_OF, None, synthetic=True, rule=RULE, conversions=none) for p in PRACTICES}
    assert _printed(packs["P1"])["110"][0] == SUPPRESSED_TEXT
    assert _recoverable(_known(packs)) == []


def test_the_checker_finds_the_recovery_it_is_meant_to() -> None:
    """Guard on the checker: with only P1's 3 unknown, the ICS's 63 gives it back."""
    known = {(p, s): COUNTS[i, j] for i, p in enumerate(PRACTICES) for j, s in enumerate(SPECIALTIES)}
    del known[("P1", "110")]
    known.update({(ICS, s): COUNTS[:, j].sum() for j, s in enumerate(SPECIALTIES)})
    assert _recoverable(known) == [(("P1", "110"), 3)]
