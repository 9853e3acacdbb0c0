"""A practice's referral feedback pack (``placewise report --practice CODE``): its referrals by specialty
against the ICS (age-sex and need-adjusted ratios, funnel signals allowing for overdispersion, a funnel plot per
specialty of every practice in the ICS, the practice ringed), its PCN
beside it (with the funnel plots of every PCN, its PCN ringed), conversion against the ICS share (with a funnel plot
per specialty of the share seen at a first attendance), and an SPC chart of its monthly standardised referral ratio,
rebased at the feedback date.

Every figure passes the profile's one disclosure rule (:mod:`placewise.publish.disclosure`): every practice's
referrals by specialty, with its PCN's and the ICS's, are one family decided once (:func:`decided_referrals`), and
each pack prints its own row and its PCN's ratios from that decision (a hidden count hides its ratios and verdicts,
which would give it back; a hidden PCN count hides the PCN's ratio). The ICS's count for a specialty is public
anyway (the practices' expected counts add up to it), so it is never a complement. Published counts are rounded,
and months whose referrals are a small count are left off the chart, whose mean and limits are worked out from the
published months only."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from placewise.analyse.funnels import (
    CENTRE_RULE,
    MOSTLY_HIDDEN,
    MOSTLY_HIDDEN_MARK,
    Funnel,
    judged_numerators,
    mostly_hidden,
    ratio_funnel,
    sparse_columns,
    units_funnel,
)
from placewise.analyse.spc import PointType, ShortSeriesWarning, spc
from placewise.analyse.variation import (
    OVERDISPERSION_METHOD,
    Ratios,
    ReferralCube,
    ADMISSION_MONTHS,
    FIRST_ATTENDANCE_WEEKS,
    MULTIMORBIDITY_TEXT,
    age_sex_strata,
    disagreement,
    signal,
    standardised_ratios,
)
from placewise.publish import charts
from placewise.publish.disclosure import NOT_KNOWN, SUPPRESSED_TEXT, TOTAL, DisclosureRule, decide_family, round_counts
from placewise.publish.labels import period_label, treatment_function_label
from placewise.publish.report import POINT_CLASS

VERDICT = {1: "higher than expected", -1: "lower than expected", 0: "within expected range"}
SPARSE = "no verdict: most practices referred none"
"""The verdict where more than half the practices referred none to a specialty, and no funnel is drawn."""
PCN_SPARSE = "no verdict: most PCNs referred none"
"""The PCN's verdict where more than half the PCNs referred none to a specialty."""
HIDDEN_MOST = "no verdict: most practices' counts are suppressed"
"""The verdict where the disclosure rule hides more than half the practices' counts of a specialty, and no funnel is
drawn (:func:`placewise.analyse.funnels.mostly_hidden`)."""
PCN_HIDDEN_MOST = "no verdict: most PCNs' counts are suppressed"
"""The PCN's verdict where more than half the PCNs' counts of a specialty are hidden."""


def pcn_cube(cube: ReferralCube, pcn_of: dict[str, str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The cube summed to PCNs."""
    pcns = sorted({pcn_of.get(p, "") for p in cube.practices} - {""})
    idx = np.array([pcns.index(pcn_of[p]) if p in pcn_of else -1 for p in cube.practices])
    keep = idx >= 0
    r = np.zeros((len(pcns), *cube.referrals.shape[1:]))
    p = np.zeros((len(pcns), *cube.population.shape[1:]))
    np.add.at(r, idx[keep], cube.referrals[keep])
    np.add.at(p, idx[keep], cube.population[keep])
    return pcns, r, p


@dataclass(frozen=True)
class UnitRatios:
    """Whole-window ratios of every unit (practice or PCN) and specialty, by age band and sex (``age_sex``) and also by
    need (``need``), their 95% funnel signals (one funnel per specialty over the units) and the specialties too sparse
    to judge."""

    units: list[str]
    ratios: dict[str, Ratios]
    signals: dict[str, np.ndarray]
    sparse: np.ndarray
    """Specialties with no funnel and no verdict: most units referred none, or most are suppressed (``hidden_most``)."""
    hidden_most: np.ndarray
    """Specialties most of whose units' counts the disclosure rule hides (:func:`~placewise.analyse.funnels.mostly_hidden`)."""

    def no_verdict(self, k: int, pcns: bool = False) -> str:
        """The words for a unit's verdict on specialty ``k`` where it has none (``sparse``)."""
        if self.hidden_most[k]:
            return PCN_HIDDEN_MOST if pcns else HIDDEN_MOST
        return PCN_SPARSE if pcns else SPARSE


def unit_ratios(units: list[str], referrals: np.ndarray, population: np.ndarray,
                hidden: np.ndarray | None = None) -> UnitRatios:
    """:class:`UnitRatios` of a cube's arrays (units, specialties, months, need-adjusted strata). A unit whose count
    of a specialty is ``hidden`` (units down, specialties across: the disclosure decision) is left out of that
    specialty's funnel (:data:`HIDDEN_RULE`): not judged, and not in its limits, overdispersion or sparseness; a
    specialty most of whose units expecting referrals are hidden has no funnel (``hidden_most``)."""
    pairs = {"age_sex": (age_sex_strata(referrals, 3), age_sex_strata(population, 2)),
             "need": (referrals, population)}
    ratios = {k: standardised_ratios(r.sum(axis=2), p.sum(axis=1)) for k, (r, p) in pairs.items()}
    shown = {k: _published(v, hidden) for k, v in ratios.items()}
    expecting = ratios["age_sex"].expected > 0
    off = expecting & (False if hidden is None else hidden)
    most = mostly_hidden((expecting & ~off).sum(axis=0), off.sum(axis=0))
    return UnitRatios(units, ratios, {k: signal(v) for k, v in shown.items()},
                      sparse_columns(shown["age_sex"].observed, shown["age_sex"].expected) | most, most)


HIDDEN_RULE = ("A unit (practice or PCN) whose count the disclosure rule hides is left out of its funnel: neither "
               "drawn nor judged, nor counted in the limits or the overdispersion, so that every funnel rests only on "
               "what is published, as the Place reports' funnels and the conversion verdicts do.")
"""The one rule for a hidden unit in every funnel of the referral feedback (referrals and conversion)."""


def _published(r: Ratios, hidden: np.ndarray | None) -> Ratios:
    """The ratios with the hidden cells' expected counts set to 0, which every funnel function leaves out (nothing
    expected: no z-score, no verdict, not in the sparse rule)."""
    if hidden is None or not hidden.any():
        return r
    return replace(r, expected=np.where(hidden, 0.0, r.expected))


@dataclass(frozen=True)
class ReferralRatios:
    """Every practice's and every PCN's ratios, worked out once for the ICS; each practice's table is cut from them."""

    specialties: list[str]
    practices: UnitRatios
    pcns: UnitRatios


def referral_ratios(cube: ReferralCube, pcn_of: dict[str, str], decision: pd.DataFrame | None = None) -> ReferralRatios:
    """:class:`ReferralRatios` of the cube, its practices summed to PCNs (:func:`pcn_cube`); with the family's
    ``decision`` (:func:`decided_referrals`), a hidden practice's or PCN's count is left out of its funnels
    (:data:`HIDDEN_RULE`), as every publisher does."""
    pcns, pr, pp = pcn_cube(cube, pcn_of)
    hidden = None if decision is None else hidden_cells(cube, decision)
    pcn_hidden = None if decision is None else _hidden_pcns(pcns, cube.specialties, decision)
    return ReferralRatios(cube.specialties, unit_ratios(cube.practices, cube.referrals, cube.population, hidden),
                          unit_ratios(pcns, pr, pp, pcn_hidden))


def feedback_table(ratios: ReferralRatios, practice: str, pcn_of: dict[str, str]) -> pd.DataFrame:
    """One row per specialty: the practice's and its PCN's referrals, expected, both ratios and verdicts."""
    u, n = ratios.practices, ratios.pcns
    if practice not in u.units:
        raise ValueError(f"practice {practice!r} is not in the warehouse")
    i = u.units.index(practice)
    j = n.units.index(pcn_of[practice]) if practice in pcn_of else None
    (ras, rnd), (sas, snd) = (u.ratios[k] for k in ("age_sex", "need")), (u.signals[k] for k in ("age_sex", "need"))
    sparse = u.sparse
    rows = []
    for k, spec in enumerate(ratios.specialties):
        rows.append({
            "specialty": spec, "referrals": int(ras.observed[i, k]), "expected": ras.expected[i, k],
            "ratio": ras.ratio[i, k], "verdict": u.no_verdict(k) if sparse[k] else VERDICT[int(sas[i, k])],
            "need_ratio": rnd.ratio[i, k], "need_verdict": u.no_verdict(k) if sparse[k] else VERDICT[int(snd[i, k])],
            "disagree": not sparse[k] and bool(disagreement(sas[i, k], snd[i, k])),
            "pcn_ratio": np.nan if j is None else n.ratios["age_sex"].ratio[j, k],
            "pcn_verdict": "" if j is None else n.no_verdict(k, pcns=True) if n.sparse[k]
            else VERDICT[int(n.signals["age_sex"][j, k])],
        })
    return pd.DataFrame(rows)


def decided_referrals(cube: ReferralCube, pcn_of: dict[str, str], rule: DisclosureRule) -> pd.DataFrame:
    """Every practice's referrals by specialty over the window, with each PCN's and the ICS's, and the one decision
    over all of them (``hidden_n``), indexed by PCN, practice and specialty: every pack cuts its cells from it."""
    n_spec = len(cube.specialties)
    frame = pd.DataFrame({"pcn": np.repeat([pcn_of.get(p) for p in cube.practices], n_spec),
                          "practice": np.repeat(cube.practices, n_spec),
                          "specialty": np.tile(cube.specialties, len(cube.practices)),
                          "n": cube.referrals.sum(axis=(2, 3)).ravel()})
    return decide_family(frame, [["pcn", "practice", "specialty"]], ["n"], rule, [("practice", "pcn")],
                         known=("pcn", "practice"))


def disclosed(table: pd.DataFrame, decision: pd.DataFrame, practice: str, pcn: str | None,
              rule: DisclosureRule) -> pd.DataFrame:
    """The practice's feedback table as published: ``hidden`` (its count) and ``pcn_hidden`` (its PCN's) read from
    the family's decision (:func:`decided_referrals`), published counts rounded."""
    unit = NOT_KNOWN if pcn is None else pcn
    out = table.copy()
    out["hidden"] = [bool(decision.at[(unit, practice, s), "hidden_n"]) for s in table.specialty]
    out["pcn_hidden"] = [bool(decision.at[(unit, TOTAL, s), "hidden_n"]) for s in table.specialty]
    out["referrals"] = round_counts(table.referrals.to_numpy(dtype=float), rule.round_to)
    return out


def monthly_chart(cube: ReferralCube, practice: str, feedback: date | None, rule: DisclosureRule) -> str:
    """SPC chart of the practice's monthly all-specialty age-sex ratio, a new segment from the feedback month;
    months with a small count of referrals (the rule's primary suppression) are left off."""
    r, p = cube.age_sex()
    monthly = standardised_ratios(r.sum(axis=1, keepdims=True), p)
    i = cube.practices.index(practice)
    values = monthly.ratio[i, 0]
    counts = monthly.observed[i, 0]
    months = [pd.Period(m, freq="M").to_timestamp().date() for m in cube.months]
    rebase = np.array([feedback is not None and m <= feedback < (pd.Timestamp(m) + pd.offsets.MonthEnd(0)).date()
                       for m in months])
    ok = np.isfinite(values) & ~((counts >= 1) & (counts <= rule.suppress_up_to))
    if not ok.any():
        return "<p>No month has enough referrals to be published, so there is no chart.</p>"
    with warnings.catch_warnings():  # a short segment after the feedback date is said on the chart's page
        warnings.simplefilter("ignore", ShortSeriesWarning)
        result = spc(values[ok], polarity="neutral", rebase=rebase[ok])
    n = int(ok.sum())
    labels = [period_label(m, "monthly") for m, k in zip(months, ok, strict=True) if k]
    types = [POINT_CLASS[PointType(int(t))] for t in result.point_type[0, :n]]
    at = [int(x) for x in np.flatnonzero(np.diff(result.segment[0, :n]) != 0) + 1]
    return charts.spc_chart(labels, result.values[0, :n], result.mean[0, :n], result.lpl[0, :n], result.upl[0, :n],
                            types, rebase_at=at, title=f"{practice}: referrals against expected, all specialties",
                            value_format=".2f")


def hidden_cells(cube: ReferralCube, decision: pd.DataFrame) -> np.ndarray:
    """Whether each practice's count for each specialty (practices down, specialties across) is hidden by the
    family's decision (:func:`decided_referrals`)."""
    cells = decision.reset_index()
    cells = cells[(cells.practice != TOTAL) & (cells.specialty != TOTAL)]
    grid = cells.set_index(["practice", "specialty"]).hidden_n.unstack()
    return grid.reindex(index=cube.practices, columns=cube.specialties).fillna(True).to_numpy(dtype=bool)


FUNNEL_KINDS = (("Age-sex ratio: expected at the ICS rates by age band and sex", "age band and sex"),
                ("Need-adjusted ratio: expected by age band, sex, IMD quintile and multimorbidity band",
                 "age band, sex, IMD quintile and multimorbidity band"))
"""The two funnels drawn for each specialty, one above the other: their titles and what the expected count allows
for."""


def hidden_pcn_cells(ratios: ReferralRatios, decision: pd.DataFrame) -> np.ndarray:
    """Whether each PCN's count for each specialty (PCNs down, specialties across) is hidden by the family's decision
    (:func:`decided_referrals`)."""
    return _hidden_pcns(ratios.pcns.units, ratios.specialties, decision)


def _hidden_pcns(pcns: list[str], specialties: list[str], decision: pd.DataFrame) -> np.ndarray:
    """:func:`hidden_pcn_cells` of these PCNs and specialties."""
    return np.array([[bool(decision.at[(pcn, TOTAL, s), "hidden_n"]) for s in specialties] for pcn in pcns],
                    dtype=bool).reshape(len(pcns), len(specialties))


def _funnel(o: np.ndarray, e: np.ndarray, hidden: np.ndarray, names: list[str], unit: str,
            title: str) -> tuple[str, bool, int, str]:
    """One funnel over the units (practices or PCNs) expecting referrals whose count is published: its SVG, whether
    ``unit`` is drawn, how many are left out (hidden by the disclosure decision, :data:`HIDDEN_RULE`: a point is drawn,
    and counted in the limits, where and only where the table publishes the count), and the method."""
    some = (e > 0) & ~hidden
    funnel = ratio_funnel(o[some], e[some])
    drawn = np.array(names)[some].tolist()
    mine = unit in drawn
    svg = charts.funnel_plot(
        drawn, e[some], o[some] / e[some], funnel.signal, funnel.grid, funnel.centre,
        funnel.limits, polarity="neutral", title=title, value_format=".2f",
        size_label="Referrals expected at the ICS rates", highlight=(unit,),
        key_note=f"Ringed: {unit}" if mine else "")
    return (f'<div class="funnel-kind"><p>{escape(title)}</p>{svg}</div>', mine, int(((e > 0) & hidden).sum()),
            funnel.method)


def specialty_funnels(ratios: ReferralRatios, practice: str, hidden: np.ndarray) -> str:
    """Two funnel plots per specialty, one above the other, of every practice in the ICS: the age-sex ratio and the
    need-adjusted ratio against the referrals expected, the practice ringed, a practice whose count is hidden left
    off both (the limits and verdicts still count it), or a note why there is no funnel; the method under them."""
    return unit_funnels(ratios.practices, ratios.specialties, practice, hidden, "practice", "practices")


def pcn_funnels(ratios: ReferralRatios, pcn: str, hidden: np.ndarray) -> str:
    """:func:`specialty_funnels` of every PCN in the ICS (its practices' referrals summed), ``pcn`` ringed, a PCN whose
    count is hidden (``hidden``: :func:`hidden_pcn_cells`) left off: the funnel behind the pack's PCN verdicts, and the
    web app's PCN page's."""
    return unit_funnels(ratios.pcns, ratios.specialties, pcn, hidden, "PCN", "PCNs")


def unit_funnels(u: UnitRatios, specialties: list[str], unit: str, hidden: np.ndarray, one: str, plural: str) -> str:
    """Two funnel plots per specialty of every unit of a level (``one``, ``plural``: "practice", "practices"), the
    age-sex and the need-adjusted ratio, ``unit`` ringed, a unit whose count is hidden left off both, or a note why
    there is no funnel; the method under them."""
    both, sparse = (u.ratios["age_sex"], u.ratios["need"]), u.sparse
    names = [f"another {one}"] * len(u.units)
    names[u.units.index(unit)] = unit
    parts = []
    for k, spec in enumerate(specialties):
        o, e = both[0].observed[:, k], both[0].expected[:, k]
        some = (e > 0) & ~hidden[:, k]
        name = treatment_function_label(spec)
        heading = f"<h3>{escape(name)}</h3>"
        if sparse[k] or some.sum() < 3:
            off = int(((e > 0) & hidden[:, k]).sum())
            why = (MOSTLY_HIDDEN.format(hidden=off, units=f"{int(some.sum()) + off} {plural} expecting referrals",
                                        at="", when="")
                   if u.hidden_most[k] else
                   f"{int((o[some] == 0).sum())} of the {int(some.sum())} {plural} referred none, more than half: "
                   "funnel limits cannot tell a 0 from chance and overdispersion cannot be estimated"
                   if sparse[k] else f"only {int(some.sum())} {plural} expect referrals, fewer than three")
            parts.append(f'{heading}<p class="no-funnel">No funnel plot: {why}, so no {one} is judged.</p>')
            continue
        drawn = [_funnel(r.observed[:, k], r.expected[:, k], hidden[:, k], names, unit, title)
                 for r, (title, _) in zip(both, FUNNEL_KINDS, strict=True)]
        _, mine, left, _ = drawn[0]
        methods = (f"both, {drawn[0][3]}" if drawn[0][3] == drawn[1][3] else "; ".join(
            f"{kind.split(':')[0]}, {d[3]}" for d, (kind, _) in zip(drawn, FUNNEL_KINDS, strict=True)))
        parts.append(f'{heading}{"".join(d[0] for d in drawn)}'
                     f'<p class="funnel-note">{int(some.sum())} {plural}. Limits: {methods}.'
                     + ("" if mine else f" {unit}'s count is suppressed, so it is not drawn.")
                     + (f" {left} {plural if left != 1 else one}{' are' if left != 1 else ' is'} suppressed (small "
                        "counts), neither drawn nor counted in the limits." if left else "") + "</p>")
    return "".join(parts)


CONVERSION_COUNTS = ["referred", "attended", "seen", "admitted"]
"""The counts behind conversion (:func:`placewise.analyse.variation.conversion_counts`)."""


def decided_conversions(counts: pd.DataFrame, pcn_of: dict[str, str], rule: DisclosureRule) -> pd.DataFrame:
    """Every practice's conversion counts by specialty, with each PCN's and the ICS's, and the one decision over
    each count (``hidden_referred`` …), indexed by PCN, practice and specialty."""
    frame = pd.DataFrame({"pcn": counts.practice_code.map(pcn_of), "practice": counts.practice_code,
                          "specialty": counts.treatment_function,
                          **{c: counts[c].to_numpy(dtype=float) for c in CONVERSION_COUNTS}})
    return decide_family(frame, [["pcn", "practice", "specialty"]], CONVERSION_COUNTS, rule, [("practice", "pcn")],
                         decide=tuple(CONVERSION_COUNTS))


def _share(cells: pd.DataFrame, key: tuple[str, str, str], num: str, den: str, rule: DisclosureRule,
           verdict: int | None = None) -> str:
    """A conversion share as a percentage with its rounded denominator, and its verdict against the ICS share where
    its funnel gives one (``verdict``, :func:`conversion_verdicts`), or the suppression mark where the rule hides
    either count (the share would give them back), or a dash where there is none."""
    if key not in cells.index:
        return "–"
    c = cells.loc[key]
    if c[f"hidden_{num}"] or c[f"hidden_{den}"]:
        return SUPPRESSED_TEXT
    if c[den] == 0:
        return "–"
    mark = "" if not verdict else f", {'high' if verdict > 0 else 'low'}{' (99.8%)' if abs(verdict) == 2 else ''}"
    return (f"{np.floor(100 * c[num] / c[den] + 0.5):.0f}% of "
            f"{int(round_counts(np.array([c[den]]), rule.round_to)[0]):,}{mark}")


SHARES = (("attended", "referred"), ("admitted", "seen"))
"""The two conversion shares (referrals seen at a first attendance, first attendances admitted): numerator and
denominator."""


@dataclass(frozen=True)
class ConversionFunnel:
    """One conversion funnel as its verdicts rest on it: the units judged (practice or PCN codes, their shares
    published), the numerators they are judged by (:func:`placewise.analyse.funnels.judged_numerators`: the published
    share at the rounded denominator), their rounded denominators and the funnel."""

    units: list[str]
    numerator: np.ndarray
    denominator: np.ndarray
    funnel: Funnel


def conversion_verdicts(cells: pd.DataFrame, specialties: list[str], rule: DisclosureRule,
                        funnels: dict[tuple[str, str, str], ConversionFunnel | str] | None = None
                        ) -> tuple[dict[tuple[str, str, str, str], int], list[str]]:
    """Each practice's and PCN's verdict on each conversion share against the ICS share, by (numerator, PCN,
    practice, specialty): the signal of the proportion funnel (:func:`placewise.analyse.funnels.units_funnel`, the
    report's) of every practice (or PCN) of the ICS whose share is published, each judged at its published share and
    rounded denominator (:data:`placewise.analyse.funnels.VERDICT_RULE`, as the table prints them), around the ICS's
    published share (the one centre rule); a unit whose share is hidden is neither judged nor in the
    funnel. Also why each funnel not drawn was not (:func:`placewise.analyse.funnels.units_funnel`'s sentence).
    ``funnels``, where given, gets each funnel drawn, or the sentence why none is, by (numerator, plural, specialty)."""
    flat = cells.reset_index()
    out: dict[tuple[str, str, str, str], int] = {}
    why: list[str] = []
    for spec in specialties:
        rows = flat[flat.specialty == spec]
        ics = rows[(rows.pcn == TOTAL) & (rows.practice == TOTAL)]
        levels = (("practices", rows[(rows.practice != TOTAL) & (rows.pcn != TOTAL)]),
                  ("PCNs", rows[(rows.practice == TOTAL) & (rows.pcn != TOTAL) & (rows.pcn != NOT_KNOWN)]))
        for num, den in SHARES:
            whole = ics[~ics[f"hidden_{num}"].astype(bool) & ~ics[f"hidden_{den}"].astype(bool) & (ics[den] > 0)]
            centre = None if whole.empty else float(whole[num].iloc[0] / whole[den].iloc[0])
            for plural, units in levels:
                shown = ~units[f"hidden_{num}"].astype(bool) & ~units[f"hidden_{den}"].astype(bool)
                ok = units[shown]
                exact, n = ok[den].to_numpy(dtype=float), round_counts(ok[den].to_numpy(dtype=float), rule.round_to)
                keep = (n > 0) & (exact > 0)
                ok, n = ok[keep], n[keep]
                o = judged_numerators(ok[num].to_numpy(dtype=float) / exact[keep], n, 1.0)
                funnel, reason = units_funnel("proportion", o, n, 100, centre, plural=plural, where="in the ICS",
                                              hidden=int((~shown).sum()))
                if funnel is None:
                    why.append(reason)
                    if funnels is not None:
                        funnels[(num, plural, spec)] = reason
                    continue
                out.update({(num, pcn, practice, spec): int(v)
                            for pcn, practice, v in zip(ok.pcn, ok.practice, funnel.signal, strict=True)})
                if funnels is not None:
                    codes = ok.practice if plural == "practices" else ok.pcn
                    funnels[(num, plural, spec)] = ConversionFunnel([str(c) for c in codes], o, n, funnel)
    return out, why


@dataclass(frozen=True)
class ConversionShares:
    """Every practice's, PCN's and the ICS's conversion counts under the one disclosure decision, with each unit's
    verdicts against the ICS share: made once for all practices (the decision is the whole ICS's), read per practice."""

    cells: pd.DataFrame
    """:func:`decided_conversions`; empty where no referral has had its weeks to a first attendance."""
    specialties: list[str]
    verdicts: dict[tuple[str, str, str, str], int]
    why: list[str]
    """Why each funnel not drawn was not (:func:`conversion_verdicts`)."""
    funnels: dict[tuple[str, str, str], ConversionFunnel | str] = field(default_factory=dict)
    """Each funnel drawn, or why none is, by (numerator, plural, specialty) (:func:`conversion_verdicts`)."""


def conversion_shares(counts: pd.DataFrame, pcn_of: dict[str, str], specialties: list[str],
                      rule: DisclosureRule) -> ConversionShares:
    """The decision and verdicts over every practice's conversion counts (:func:`decided_conversions`,
    :func:`conversion_verdicts`); none where no referral has had its weeks to a first attendance."""
    if counts.empty or counts.referred.sum() == 0:
        return ConversionShares(pd.DataFrame(), specialties, {}, [])
    cells = decided_conversions(counts, pcn_of, rule)
    funnels: dict[tuple[str, str, str], ConversionFunnel | str] = {}
    verdicts, why = conversion_verdicts(cells, specialties, rule, funnels)
    return ConversionShares(cells, specialties, verdicts, why, funnels)


def conversion_funnels(shares: ConversionShares, practice: str) -> str:
    """A funnel plot per specialty of the share of referrals seen at a first attendance, every practice of the ICS
    whose share is published against the ICS share (the funnel the practice's conversion verdict rests on, the
    published shares at their rounded denominators), the practice ringed; or a sentence why a specialty has none.
    Shares have no preferred direction here (a low share may be referrals not needed, or not yet seen), so a practice outside the limits is
    purple."""
    if shares.cells.empty:
        return ""
    parts = []
    for spec in shares.specialties:
        heading = f"<h3>{escape(treatment_function_label(spec))}: referrals seen at a first attendance</h3>"
        got = shares.funnels.get(("attended", "practices", spec), "No funnel plot of practices.")
        if isinstance(got, str):
            parts.append(f'{heading}<p class="no-funnel">{escape(got)}</p>')
            continue
        f = got.funnel
        names = [practice if u == practice else "another practice" for u in got.units]
        mine = practice in got.units
        svg = charts.funnel_plot(
            names, got.denominator, got.numerator / got.denominator * 100, f.signal, f.grid, f.centre, f.limits,
            polarity="neutral", title=f"{treatment_function_label(spec)}: referrals seen at a first attendance",
            value_format=".1f", size_label="Referrals (rounded)", highlight=(practice,),
            key_note=f"Ringed: {practice}" if mine else "")
        parts.append(f'{heading}<div class="funnel-kind">{svg}</div><p class="funnel-note">{len(got.units)} '
                     f"practices with a published share. Limits: {escape(f.method)}; centre: the ICS share, "
                     f"{f.centre:.1f}%."
                     + ("" if mine else f" {escape(practice)}'s share is suppressed, so it is not drawn or judged.")
                     + "</p>")
    return "".join(parts)


def conversion_html(shares: ConversionShares, practice: str, pcn_of: dict[str, str], rule: DisclosureRule) -> str:
    """The practice's and its PCN's conversion by specialty beside the ICS's, each with its verdict against the ICS
    share (:func:`conversion_verdicts`), every share and verdict through the disclosure rule."""
    if shares.cells.empty:
        return (f"<p>No referral in the window has had its {FIRST_ATTENDANCE_WEEKS} weeks to a first attendance, so "
                "conversion is not shown.</p>")
    cells, verdicts, why, specialties = shares.cells, shares.verdicts, shares.why, shares.specialties
    unit = pcn_of.get(practice, NOT_KNOWN)
    rows = []
    for spec in specialties:
        mine, pcn, ics = (unit, practice, spec), (unit, TOTAL, spec), (TOTAL, TOTAL, spec)
        cols = []
        for num, den in SHARES:
            cols += [_share(cells, mine, num, den, rule, verdicts.get((num, *mine))),
                     SUPPRESSED_TEXT if unit == NOT_KNOWN else _share(cells, pcn, num, den, rule,
                                                                      verdicts.get((num, *pcn))),
                     _share(cells, ics, num, den, rule)]
        rows.append(f"<tr><td>{escape(treatment_function_label(spec))}</td>"
                    + "".join(f"<td>{c}</td>" for c in cols) + "</tr>")
    missing = ""
    if why:
        most = sum(MOSTLY_HIDDEN_MARK in w for w in why)
        sparse = sum(("counted none" in w or "counted any" in w) and MOSTLY_HIDDEN_MARK not in w for w in why)
        few = sum("fewer than three" in w for w in why)
        missing = (f'<p class="no-funnel">No verdict from {len(why)} of the {4 * len(specialties)} funnels (each '
                   f"specialty's two shares, among practices and among PCNs): in {sparse} more than half the units "
                   f"with a published share counted none, in {most} more than half of the units' shares are "
                   f"suppressed, and in {few} fewer than three have a published share; funnel limits cannot then "
                   "tell a 0 from chance or rest on a fair sample of the units, so no unit is judged.</p>")
    return ("<table><tr><th>Specialty (treatment function)</th><th>Referrals seen at a first attendance: practice</th>"
            "<th>PCN</th><th>ICS</th><th>First attendances admitted: practice</th><th>PCN</th><th>ICS</th></tr>"
            f"{''.join(rows)}</table>{missing}")


def _row(r: Any) -> str:
    """One specialty's table row; a hidden count shows as the suppression mark, with its ratios, verdicts and
    the PCN's ratio; a hidden PCN count hides the PCN's ratio."""
    if r.hidden:
        hidden = f"<td>{SUPPRESSED_TEXT}</td>"
        return f"<tr><td>{escape(treatment_function_label(r.specialty))}</td>{hidden}<td>{r.expected:,.1f}</td>{hidden * 7}</tr>"
    pcn = SUPPRESSED_TEXT if r.pcn_hidden else _fmt(r.pcn_ratio)
    pcn_verdict = SUPPRESSED_TEXT if r.pcn_hidden else (r.pcn_verdict or "–")
    return (f"<tr><td>{escape(treatment_function_label(r.specialty))}</td><td>{int(r.referrals):,}</td>"
            f"<td>{r.expected:,.1f}</td>"
            f"<td>{_fmt(r.ratio)}</td><td>{r.verdict}</td><td>{_fmt(r.need_ratio)}</td><td>{r.need_verdict}</td>"
            f"<td>{'yes' if r.disagree else ''}</td><td>{pcn}</td><td>{pcn_verdict}</td></tr>")


def feedback_html(cube: ReferralCube, practice: str, pcn_of: dict[str, str], feedback: date | None,
                  synthetic: bool, rule: DisclosureRule, conversions: pd.DataFrame) -> str:
    """The feedback pack as one HTML page, every figure through the disclosure rule; ``conversions`` are the
    warehouse's :func:`~placewise.analyse.variation.conversion_counts`."""
    decision = decided_referrals(cube, pcn_of, rule)
    ratios = referral_ratios(cube, pcn_of, decision)
    shares = conversion_shares(conversions, pcn_of, cube.specialties, rule)
    table = disclosed(feedback_table(ratios, practice, pcn_of), decision, practice, pcn_of.get(practice), rule)
    first, last = (pd.Period(m, freq="M") for m in (cube.months[0], cube.months[-1]))
    body = "".join(_row(r) for r in table.itertuples())
    banner = ('<p class="banner"><strong>Synthetic data</strong>: no real patient is described.</p>'
              if synthetic else "")
    on_every_page = ('@page{@top-center{content:"SYNTHETIC DATA: no real patient is described";background:#ffeb3b;'
                     'font:bold 9pt Arial,sans-serif;padding:1mm 3mm}}' if synthetic else "")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Referral feedback: {escape(practice)}</title>
<style>body{{font-family:Arial,sans-serif;color:#231f20;max-width:60rem;margin:2rem auto}}
@page{{size:A4;margin:1.5cm 1.2cm}}{on_every_page}@media print{{body{{max-width:none;margin:0;font-size:10pt}}}}
table{{font-size:.85em}}.banner{{background:#ffeb3b;padding:.5rem}}.funnel-kind{{break-inside:avoid}}.funnel-kind p{{font-weight:bold;margin:.4rem 0 0}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .4rem}}</style>
</head><body>{banner}<h1>Referral feedback for practice {escape(practice)}</h1>
<p>{first:%b %Y} to {last:%b %Y}. Ratio: the practice's referrals over those expected at the ICS rate for each
age band and sex (1.00 = as the ICS); need-adjusted: also by IMD quintile and multimorbidity band ({MULTIMORBIDITY_TEXT}).
Verdicts at 95% against funnel limits
allowing for overdispersion between practices ({OVERDISPERSION_METHOD}). "Differ" marks a specialty where the two
verdicts differ: the practice's population explains, or hides, the difference.</p>
<table><tr><th>Specialty (treatment function)</th><th>Referrals</th><th>Expected</th><th>Ratio</th><th>Verdict</th>
<th>Need-adjusted ratio</th><th>Verdict</th><th>Differ</th><th>PCN ratio</th><th>PCN verdict</th></tr>{body}</table>
<p>The PCN's ratio is its practices' referrals over those expected (age band and sex), and its verdict is against the
funnel of every PCN in the ICS, with its own allowance for overdispersion between PCNs. The funnels are of every
practice (and PCN) in the ICS, not only those of the practice's Place: every practice and PCN is held to the ICS, in
one funnel per level, as in the Place reports ({escape(CENTRE_RULE)}).</p>
<h2>Funnel plots by specialty</h2><p>Every practice in the ICS, each specialty's referrals over
those expected at the ICS rates for each age band and sex (first, the Ratio column) and also for each IMD quintile and
multimorbidity band (second, the Need-adjusted ratio column), against the number expected: the line at 1.00 is the
ICS, the dashed lines the 95% limits and the solid the 99.8%. Referrals have no preferred direction,
so a practice outside the 95% limits is purple (Making Data Count), one inside grey; {escape(practice)} is ringed.
Where more than half the practices referred none to a specialty, or more than half of their counts are suppressed
(those published would then be mostly the large counts), no funnel is drawn and no practice judged. A point
is drawn where, and only where, the table publishes the practice's count (the disclosure rule's one decision): it
shows the same ratio the table prints, so it gives nothing away the table does not. {escape(HIDDEN_RULE)}</p>
{specialty_funnels(ratios, practice, hidden_cells(cube, decision))}
{_pcn_section(ratios, practice, pcn_of, decision)}
<h2>Conversion by specialty</h2><p>Referrals linked to an attended first outpatient appointment, and first
attendances linked to an elective admission, by our linkage rule (the records carry no referral number on
appointments): the same person and treatment function; a first attendance from the day of the referral to
{FIRST_ATTENDANCE_WEEKS} weeks after; an elective admission from the day of the first attendance to
{ADMISSION_MONTHS} months after; each attendance and admission counted once. Only referrals whose
{FIRST_ATTENDANCE_WEEKS} weeks, and attendances whose {ADMISSION_MONTHS} months, have passed by the end of the
data are counted; the number after each share is its rounded denominator. The practice's and its PCN's shares are
judged against the ICS share: "high" or "low" marks a share outside the 95% limits (99.8% where so marked) of the
funnel of every practice (or PCN) of the ICS whose share is published, binomial limits around the ICS share widened
for overdispersion between them where there is any (Spiegelhalter 2005), the method the Place reports use, each
judged at the share printed and its rounded denominator; a share hidden by the disclosure rule is neither judged
nor counted in the limits.</p>
{conversion_html(shares, practice, pcn_of, rule)}
{_conversion_section(shares, practice)}
<h2>Month by month</h2><p>All specialties together{'; a new segment starts at the feedback date, ' + f'{feedback:%-d %B %Y}' if feedback else ''}.
A segment of fewer than 13 months has trial limits (NHSRplotthedots), revised as months are added.</p>
{monthly_chart(cube, practice, feedback, rule)}<h2>Disclosure control</h2><p>{escape(rule.statement())}</p>
</body></html>"""


def _conversion_section(shares: ConversionShares, practice: str) -> str:
    """The pack's conversion funnel plots (:func:`conversion_funnels`) under their heading, with how to read them."""
    drawn = conversion_funnels(shares, practice)
    if not drawn:
        return ""
    return ("<h2>Conversion funnel plots</h2><p>For each specialty, the share of referrals seen at a first "
            "attendance of every practice of the ICS whose share is published, against its referrals (rounded): the "
            "line is the ICS share, the dashed lines the 95% limits and the solid the 99.8% (binomial, widened for "
            "overdispersion between practices where there is any, as stated under each). These are the funnels of "
            f"the practice column's verdicts above; {escape(practice)} is ringed. A practice outside the 95% limits "
            "is purple: a share has no preferred direction here (a low one may be referrals not needed, or not yet "
            "seen). A practice whose share the disclosure rule hides is neither drawn nor counted in the limits.</p>"
            + drawn)


def _pcn_section(ratios: ReferralRatios, practice: str, pcn_of: dict[str, str], decision: pd.DataFrame) -> str:
    """The pack's funnel plots of every PCN in the ICS by specialty, the practice's PCN ringed (:func:`pcn_funnels`),
    under their heading; a sentence where the practice has no PCN."""
    pcn = pcn_of.get(practice)
    if pcn is None or pcn not in ratios.pcns.units:
        return (f"<h2>Funnel plots of PCNs by specialty</h2><p>{escape(practice)} belongs to no PCN, so no PCN funnel "
                "is drawn.</p>")
    return (f"<h2>Funnel plots of PCNs by specialty</h2><p>Every PCN in the ICS (its practices' referrals summed), drawn "
            f"as the practices are above, {escape(pcn)} ringed: the funnels behind the PCN verdict column, with their "
            "own allowance for overdispersion between PCNs. A PCN whose count the disclosure rule hides is left off "
            "(its ratio is not published) and not counted in the limits.</p>"
            + pcn_funnels(ratios, pcn, hidden_pcn_cells(ratios, decision)))


def _fmt(v: float) -> str:
    """A ratio to two decimals, or a dash where nothing was expected."""
    return "–" if not np.isfinite(v) else f"{v:.2f}"


@dataclass(frozen=True)
class FeedbackInputs:
    """What every practice's feedback is made from, read from the warehouse once: the cube of the last months, the
    conversion counts, each practice's PCN and whether the data are synthetic."""

    cube: ReferralCube
    conversions: pd.DataFrame
    pcn_of: dict[str, str]
    synthetic: bool


def feedback_inputs(con: Any, profile: Any, months: int = 36) -> FeedbackInputs:
    """Read the warehouse for the feedback of every practice: the last ``months`` months with referrals (the pack,
    ``placewise report --practice``, and the web application's referral pages read the same)."""
    from placewise.analyse.variation import conversion_counts, multimorbidity_registers, referral_cube, referral_pathways
    from placewise.publish.inputs import is_synthetic

    latest = con.table("referrals").referral_date.max().to_pandas()
    if latest is None or pd.isna(latest):
        raise ValueError("the warehouse has no referrals")
    end = pd.Timestamp(latest).to_period("M")
    span = [p.to_timestamp().date() for p in pd.period_range(end - months + 1, end, freq="M")]
    cube = referral_cube(con, span, multimorbidity_registers(profile))
    data_end = pd.Timestamp(latest).date()
    conversions = conversion_counts(referral_pathways(con, span[0], data_end), data_end).to_pandas()
    practices = con.table("practices").select("practice_code", "pcn_code").to_pandas()
    pcn_of = {code: pcn for code, pcn in zip(practices.practice_code, practices.pcn_code, strict=True)
              if isinstance(pcn, str)}  # a practice with no PCN is counted in the ICS only
    return FeedbackInputs(cube, conversions, pcn_of, is_synthetic(con))


def write_practice_feedback(warehouse: str, practice: str, feedback: date | None, out: Path,
                            months: int = 36) -> Path:
    """Read the warehouse and write ``practice-CODE.html`` into ``out``: the last ``months`` months of referrals."""
    from placewise.profile import load_profile
    from placewise.publish.disclosure import load_rule
    from placewise.warehouse import connect_existing

    profile = load_profile()
    con = connect_existing(warehouse)
    try:
        try:
            got = feedback_inputs(con, profile, months)
        except ValueError as e:
            raise ValueError(f"{warehouse}: {e}") from None
    finally:
        con.disconnect()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"practice-{practice}.html"
    rule = load_rule(profile)
    path.write_text(feedback_html(got.cube, practice, got.pcn_of, feedback, got.synthetic, rule, got.conversions),
                    encoding="utf-8")
    return path
