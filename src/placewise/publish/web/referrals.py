"""Referral variation feedback in the web application (issue 8 §5; ``docs/variation.md``): a page per practice and
per PCN, and an overview of the practices that signal by specialty, made from the same library functions as the
practice's feedback pack (``placewise report --practice CODE``, :mod:`placewise.publish.feedback`).

The warehouse is read once per snapshot (:func:`referrals`: the referral cube, the conversion counts, the practices'
PCNs, as the pack reads them, :func:`~placewise.publish.feedback.feedback_inputs`), not per request, and the one
disclosure decision over every practice's, PCN's and the ICS's referrals by specialty is made then
(:func:`~placewise.publish.feedback.decided_referrals`). Every role reads the pack's published figures: the counts
rounded, a hidden count (and its ratios and verdicts) shown as the suppression mark, whoever asks, so a page
never differs from the pack.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from placewise.analyse.variation import (
    MULTIMORBIDITY_TEXT,
    OVERDISPERSION_METHOD,
    disagreement,
)
from placewise.publish.disclosure import NOT_KNOWN, TOTAL, round_counts
from placewise.publish.feedback import (
    UnitRatios,
    VERDICT,
    FeedbackInputs,
    ReferralRatios,
    ConversionShares,
    conversion_funnels,
    conversion_html,
    conversion_shares,
    decided_referrals,
    disclosed,
    feedback_inputs,
    feedback_table,
    referral_ratios,
    hidden_cells,
    hidden_pcn_cells,
    monthly_chart,
    pcn_funnels,
    specialty_funnels,
)
from placewise.publish.labels import treatment_function_label
from placewise.publish.web.app import WebState
from placewise.publish.web.snapshot import Version

__all__ = ["MULTIMORBIDITY_TEXT", "OVERDISPERSION_METHOD", "referrals", "practice_rows", "pcn_rows", "signalling",
           "practice_figures", "pcn_figures"]
KINDS = ("age_sex", "need")
"""The two ratios: age band × sex, and need-adjusted (also IMD quintile and multimorbidity band)."""


@dataclass(frozen=True)
class Referrals:
    """What the referral pages read, made once per snapshot."""

    inputs: FeedbackInputs
    decision: pd.DataFrame
    """The one disclosure decision (:func:`~placewise.publish.feedback.decided_referrals`)."""
    hidden: np.ndarray
    """Whether each practice's count of each specialty is hidden (practices down, specialties across)."""
    ratios: ReferralRatios
    conversions: ConversionShares
    """The one decision and the verdicts over every practice's conversion
    (:func:`~placewise.publish.feedback.conversion_shares`)."""

    @property
    def months(self) -> tuple[pd.Period, pd.Period]:
        """The first and last month of the window."""
        cube = self.inputs.cube
        return pd.Period(cube.months[0], freq="M"), pd.Period(cube.months[-1], freq="M")

    def pcn_hidden(self, pcn: str, specialty: str) -> bool:
        """Whether the PCN's count of a specialty is hidden by the decision."""
        return bool(self.decision.at[(pcn, TOTAL, specialty), "hidden_n"])


_KEPT: dict[str, tuple[Version, Referrals]] = {}
_LOCK = threading.Lock()


def referrals(w: WebState) -> Referrals:
    """The referral feedback of the warehouse's current snapshot: read once (the cube takes seconds), kept while the
    snapshot's version lasts; requests that come while it is made wait for it."""
    with _LOCK:
        kept = _KEPT.get(w.db_url)
        if kept is not None and kept[0] == w.snapshot.version:
            return kept[1]
        with w.warehouse.read() as con:
            inputs = feedback_inputs(con, w.snapshot.profile)
        cube = inputs.cube
        decision = decided_referrals(cube, inputs.pcn_of, w.snapshot.rule)
        made = Referrals(inputs, decision, hidden_cells(cube, decision),
                         referral_ratios(cube, inputs.pcn_of, decision),
                         conversion_shares(inputs.conversions, inputs.pcn_of, cube.specialties, w.snapshot.rule))
        _KEPT[w.db_url] = (w.snapshot.version, made)
        return made


def has_referrals(w: WebState) -> bool:
    """Whether the warehouse has referrals to feed back (the pages say so where it has none)."""
    try:
        referrals(w)
    except ValueError:
        return False
    return True


def _pcn_verdict(u: UnitRatios, k: int, sig: int) -> str:
    """The pack's words for a PCN's signal on specialty ``k`` (``u``: every PCN's ratios)."""
    return u.no_verdict(k, pcns=True) if u.sparse[k] else VERDICT[int(sig)]


def _num(v: float) -> float | None:
    """A finite number, or None."""
    return float(v) if np.isfinite(v) else None


def practice_rows(w: WebState, practice: str) -> list[dict[str, object]]:
    """The practice's feedback table as the pack publishes it (:func:`~placewise.publish.feedback.feedback_table`
    through :func:`~placewise.publish.feedback.disclosed`): one row per specialty; a hidden count is None with its
    ratios, verdicts and difference; a hidden PCN count hides the PCN's ratio and verdict."""
    def make() -> list[dict[str, object]]:
        """The rows, from the pack's functions."""
        r = referrals(w)
        pcn_of = r.inputs.pcn_of
        table = disclosed(feedback_table(r.ratios, practice, pcn_of), r.decision, practice,
                          pcn_of.get(practice), w.snapshot.rule)
        rows = []
        for t in table.itertuples():
            open_ = not t.hidden
            rows.append({
                "specialty": t.specialty, "name": treatment_function_label(t.specialty),
                "referrals": int(t.referrals) if open_ else None, "expected": round(float(t.expected), 1),
                "ratio": _num(t.ratio) if open_ else None, "verdict": t.verdict if open_ else None,
                "need_ratio": _num(t.need_ratio) if open_ else None, "need_verdict": t.need_verdict if open_ else None,
                "differ": bool(t.disagree) if open_ else None,
                "pcn_ratio": None if (t.pcn_hidden or not open_) else _num(t.pcn_ratio),
                "pcn_verdict": None if (t.pcn_hidden or not open_) else (t.pcn_verdict or None),
                "pcn_hidden": bool(t.pcn_hidden) if open_ else None})
        return rows
    return w.snapshot.memo(("referrals", "practice", practice), make)


def pcn_rows(w: WebState, pcn: str) -> list[dict[str, object]]:
    """The PCN's referrals by specialty against the ICS: its rounded count (None where the decision hides it, with
    its ratios and verdicts), expected, both ratios and their verdicts in a funnel over the PCNs."""
    r = referrals(w)
    u = r.ratios.pcns
    i = u.units.index(pcn)
    rows: list[dict[str, object]] = []
    for k, spec in enumerate(r.inputs.cube.specialties):
        a, n = u.ratios["age_sex"], u.ratios["need"]
        open_ = not r.pcn_hidden(pcn, spec)
        sa, sn = int(u.signals["age_sex"][i, k]), int(u.signals["need"][i, k])
        count = int(round_counts(np.array([a.observed[i, k]]), w.snapshot.rule.round_to)[0])
        rows.append({
            "specialty": spec, "name": treatment_function_label(spec), "referrals": count if open_ else None,
            "expected": round(float(a.expected[i, k]), 1),
            "ratio": _num(a.ratio[i, k]) if open_ else None,
            "verdict": _pcn_verdict(u, k, sa) if open_ else None,
            "need_ratio": _num(n.ratio[i, k]) if open_ else None,
            "need_verdict": _pcn_verdict(u, k, sn) if open_ else None,
            "differ": (not u.sparse[k] and bool(disagreement(np.array([sa], np.int8), np.array([sn], np.int8))[0]))
            if open_ else None,
            "pcn_ratio": None, "pcn_hidden": None})
    return rows


@dataclass(frozen=True)
class Signalling:
    """One specialty's practices outside their funnel's 95% limits, by either ratio, as published."""

    specialty: str
    name: str
    high: list[tuple[str, bool]]
    """Practices higher than expected at the ICS rates by age band and sex, and whether the need-adjusted verdict
    differs."""
    low: list[tuple[str, bool]]
    need_high: list[tuple[str, bool]]
    need_low: list[tuple[str, bool]]
    sparse: bool
    verdict: str
    """Why there is no verdict where ``sparse`` (:meth:`~placewise.publish.feedback.UnitRatios.no_verdict`)."""
    hidden: int
    """Practices in the view whose count the decision hides (their verdicts are not shown)."""


def signalling(w: WebState, practices: set[str] | None) -> list[Signalling]:
    """For each specialty, the practices (of ``practices``, every practice if None) whose ratios signal at 95%,
    from the same ratios and signals as the practice pages; a practice whose count is hidden is left out."""
    r = referrals(w)
    u = r.ratios.practices
    keep = np.array([practices is None or p in practices for p in u.units])
    out = []
    for k, spec in enumerate(r.inputs.cube.specialties):
        shown = keep & ~r.hidden[:, k]
        sa, sn = u.signals["age_sex"][:, k], u.signals["need"][:, k]
        differ = disagreement(sa, sn)
        sparse = bool(u.sparse[k])
        groups = [[(u.units[i], bool(differ[i])) for i in np.flatnonzero(shown & (s == sign))]
                  for s, sign in ((sa, 1), (sa, -1), (sn, 1), (sn, -1))]
        if sparse:
            groups = [[], [], [], []]
        out.append(Signalling(spec, treatment_function_label(spec), groups[0], groups[1], groups[2], groups[3],
                              sparse, u.no_verdict(k), int((keep & r.hidden[:, k]).sum())))
    return out


def practice_figures(w: WebState, practice: str, feedback: date | None) -> dict[str, str]:
    """The pack's funnel plots, conversion table and funnels, and monthly SPC chart (rebased at ``feedback``) for a
    practice, as HTML made by the pack's own functions."""
    def make() -> dict[str, str]:
        """The parts."""
        r = referrals(w)
        cube, rule = r.inputs.cube, w.snapshot.rule
        return {"funnels": specialty_funnels(r.ratios, practice, r.hidden),
                "conversion": conversion_html(r.conversions, practice, r.inputs.pcn_of, rule),
                "conversion_funnels": conversion_funnels(r.conversions, practice),
                "monthly": monthly_chart(cube, practice, feedback, rule)}
    return w.snapshot.memo(("referrals", "figures", practice, feedback), make)


def pcn_figures(w: WebState, pcn: str) -> dict[str, str]:
    """The PCN's funnel plots by specialty, as the pack draws them under its PCN verdicts
    (:func:`~placewise.publish.feedback.pcn_funnels`): every PCN of the ICS, this one ringed."""
    def make() -> dict[str, str]:
        """The funnels."""
        r = referrals(w)
        return {"funnels": pcn_funnels(r.ratios, pcn, hidden_pcn_cells(r.ratios, r.decision))}
    return w.snapshot.memo(("referrals", "pcn figures", pcn), make)


def pcn_of(w: WebState, practice: str) -> str | None:
    """The practice's PCN, or None."""
    p = referrals(w).inputs.pcn_of.get(practice)
    return None if p is None or p == NOT_KNOWN else p
