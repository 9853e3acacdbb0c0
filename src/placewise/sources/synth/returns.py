"""Synthetic published returns (RTT, cancer waiting times, DM01, ambulance, G&A beds, EIP, out-of-area
placements) for the profile's providers.

The RTT return is counted from the person-level referral pathways (:func:`rtt_returns`): each GP referral's RTT
clock (:mod:`placewise.sources.synth.pathways`) gives the incomplete pathways by weeks waited at each month end and the
clock stops in each month, by provider and treatment function. Referrals from other sources (consultant to
consultant, A&E, other referrers), which the person-level data do not hold, are added on top as the profile's stated
share (``rtt_return.gp_referral_share``), with the same waiting times as the GP referrals in the same cell.

The other returns are not derived from person-level data: each provider's monthly return (quarterly for KH03 G&A
beds) is drawn around a level that drifts through the window, sized to the synthetic population it serves, with
binomial and Poisson noise: so the series have real variation and the counts behind each share. Levels are set to
the ranges BLMK's 2020/21 dashboards and recent national statistics show (003 L3577-3695; 001 L2414), not to any
indicator's rule.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from placewise.sources.synth.config import ReturnsProviders
from placewise.sources.synth.events import World, dates
from placewise.sources.synth.pathways import CLOCK_ENDS, Clocks

RTT_MEASURES = ("rtt_waiting_list", "rtt_within_18wk", "rtt_over_52wk", "rtt_over_65wk",
                "rtt_clock_stops_admitted", "rtt_clock_stops_non_admitted", "rtt_admitted_within_18wk",
                "rtt_non_admitted_within_18wk")
"""The RTT return's counts by provider and treatment function: incomplete pathways at the month end (all, waiting 18
weeks or less, more than 52 and more than 65 weeks) and clock stops in the month (admitted and non-admitted, and
of each those within 18 weeks)."""
WEEKS_18, WEEKS_52, WEEKS_65 = 18 * 7, 52 * 7, 65 * 7
SHARES = {  # measure: (monthly denominator per person, share at the start, at the end, month-to-month noise)
    "cancer_2ww": (0.0016, 0.90, 0.86, 0.02),
    "cancer_fds_28d": (0.0016, 0.72, 0.78, 0.02),
    "cancer_31d": (0.00035, 0.94, 0.92, 0.015),
    "cancer_62d": (0.00012, 0.72, 0.70, 0.03),
    "diagnostics_within_6wk": (0.017, 0.72, 0.80, 0.02),
}
BEDS = (0.0018, 0.93, 0.94, 0.01)
"""KH03 G&A beds available per person, occupancy at the start and the end, quarter-to-quarter noise (national
G&A occupancy ran at 92-95% in 2022-2025)."""
EIP = (0.000018, 0.68, 0.62, 0.06)
"""EIP referrals starting treatment per person a month; share within two weeks at the start and the end
(the national figure has stayed above the 60% standard, falling towards it)."""
OAP_BED_DAYS = (0.000045, 0.000036)
"""Inappropriate out-of-area bed days per person a month, at the start and the end (falling): about 55 and 44 a
month for BLMK, near the 445 days of April to December 2020 (003 L3692-3695) and the 2023/24 trajectory of 133
occupied bed days a rolling quarter (001 L2414)."""
MEANS = {  # measure: (incidents per person a month, mean minutes at the start, at the end, noise sd)
    "ambulance_cat1_mean": (0.0007, 8.5, 8.0, 0.4),
    "ambulance_cat2_mean": (0.0045, 40.0, 29.0, 3.0),
}
"""England's category 2 mean fell from 36 min 23 s over 2023/24 to 28 min 40 s in July 2025 (the 30 minutes of the
2023/24 to 2025/26 planning guidance); category 1 from 8 min 15 s (July 2024) to 7 min 56 s (July 2025)."""


def _months(w: World) -> np.ndarray:
    """First day (days since 1970) of every month of the window."""
    start = np.datetime64(w.window.start, "D").astype("datetime64[M]")
    end = np.datetime64(w.window.end, "D").astype("datetime64[M]")
    return np.arange(start, end + 1).astype("datetime64[D]").astype(np.int64)


def _month_ends(w: World, months: np.ndarray) -> np.ndarray:
    """Last day (days since 1970) of every month, the last month's cut at the window's end."""
    nxt = (months.astype("datetime64[D]").astype("datetime64[M]") + 1).astype("datetime64[D]").astype(np.int64)
    return np.minimum(nxt - 1, w.window.end)


def rtt_returns(w: World, clocks: list[Clocks]) -> pa.Table:
    """The RTT return by month, provider and treatment function (:data:`RTT_MEASURES`): the GP referrals' part
    counted from their clocks, and the other sources' part added on top, ``(1 - g) / g`` of it in each cell (``g``
    the profile's ``rtt_return.gp_referral_share``), rounded. Columns ``period, provider_code,
    treatment_function, measure, gp_referrals, other_sources``."""
    months = _months(w)
    ends = _month_ends(w, months)
    providers = list(w.cfg.returns_providers.acute)
    provider = np.concatenate([c.provider for c in clocks]).astype(str)
    keep = np.isin(provider, providers)
    tf = np.concatenate([c.treatment_function for c in clocks]).astype(str)[keep]
    start, end = np.concatenate([c.start for c in clocks])[keep], np.concatenate([c.end for c in clocks])[keep]
    kind = np.concatenate([c.kind for c in clocks])[keep]
    tfs = sorted(set(tf))
    cell = np.searchsorted(tfs, tf)
    for j, code in enumerate(providers):
        cell[provider[keep] == code] += j * len(tfs)
    cells = len(providers) * len(tfs)
    gp = np.zeros((len(RTT_MEASURES), cells, len(months)), np.int64)
    admitted, non_admitted = kind == CLOCK_ENDS.index("admitted"), kind == CLOCK_ENDS.index("non_admitted")
    within = end - start <= WEEKS_18
    for i, (first, last) in enumerate(zip(months, ends)):
        waiting = (start <= last) & (end > last)
        waited = last - start
        month = (end >= first) & (end <= last)
        for m, rows in enumerate((waiting, waiting & (waited <= WEEKS_18), waiting & (waited > WEEKS_52),
                                  waiting & (waited > WEEKS_65), month & admitted, month & non_admitted,
                                  month & admitted & within, month & non_admitted & within)):
            gp[m, :, i] = np.bincount(cell[rows], minlength=cells)
    g = w.cfg.rtt_return.gp_referral_share
    other = np.round(gp * (1 - g) / g).astype(np.int64)
    m_i, c_i, t_i = (a.ravel() for a in np.indices(gp.shape))
    order = np.lexsort((t_i, m_i, c_i % len(tfs), c_i // len(tfs)))  # provider, treatment function, measure, month
    return pa.table({
        "period": dates(months[t_i[order]]),
        "provider_code": pa.array(np.array(providers, dtype=object)[c_i[order] // len(tfs)], pa.string()),
        "treatment_function": pa.array(np.array(tfs, dtype=object)[c_i[order] % len(tfs)], pa.string()),
        "measure": pa.array(np.array(RTT_MEASURES, dtype=object)[m_i[order]], pa.string()),
        "gp_referrals": pa.array(gp.ravel()[order]), "other_sources": pa.array(other.ravel()[order]),
    })


def _rtt_rows(w: World, rtt: pa.Table) -> list[pa.Table]:
    """The RTT return's rows of the canonical aggregate returns: each provider's totals over treatment functions
    (GP referrals and other sources) of the incomplete pathways and of the clock stops in the month."""
    months = _months(w)
    providers = list(w.cfg.returns_providers.acute)
    total = (np.asarray(rtt["gp_referrals"]) + np.asarray(rtt["other_sources"]))
    provider = np.asarray(rtt["provider_code"].to_numpy(zero_copy_only=False), dtype=object)
    measure = np.asarray(rtt["measure"].to_numpy(zero_copy_only=False), dtype=object)
    period = np.asarray(rtt["period"]).astype("datetime64[D]").astype(np.int64)
    month = np.searchsorted(months, period)

    def sums(name: str) -> np.ndarray:
        """Providers × months totals of one measure."""
        out = np.zeros((len(providers), len(months)))
        for j, code in enumerate(providers):
            here = (provider == code) & (measure == name)
            out[j] = np.bincount(month[here], weights=total[here], minlength=len(months))
        return out

    waiting = sums("rtt_waiting_list")
    admitted, non_admitted = sums("rtt_clock_stops_admitted"), sums("rtt_clock_stops_non_admitted")
    return [_table(months, providers, "rtt_within_18wk", sums("rtt_within_18wk"), waiting, None),
            _table(months, providers, "rtt_waiting_list", None, None, waiting),
            _table(months, providers, "rtt_over_52wk", None, None, sums("rtt_over_52wk")),
            _table(months, providers, "rtt_over_65wk", None, None, sums("rtt_over_65wk")),
            _table(months, providers, "rtt_clock_stops_admitted", None, None, admitted),
            _table(months, providers, "rtt_clock_stops_non_admitted", None, None, non_admitted),
            _table(months, providers, "rtt_admitted_within_18wk", sums("rtt_admitted_within_18wk"), admitted, None),
            _table(months, providers, "rtt_non_admitted_within_18wk", sums("rtt_non_admitted_within_18wk"),
                   non_admitted, None)]


def _quarters(months: np.ndarray) -> np.ndarray:
    """First day (days since 1970) of every quarter of the financial year lying wholly inside the months."""
    index = months.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    starts = np.flatnonzero((index % 3 == 0) & (np.arange(len(months)) + 2 < len(months)))
    return months[starts]


def _level(first: float, last: float, noise: float, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A level drifting linearly from ``first`` to ``last`` over the months, with AR(1) noise (providers × months)."""
    k = shape[1]
    trend = np.linspace(first, last, k)
    e = rng.normal(0.0, noise, shape)
    for t in range(1, k):  # AR(1) over months, vectorised across providers
        e[:, t] += 0.5 * e[:, t - 1]
    return trend + e


def _table(months: np.ndarray, codes: list[str], measure: str, num: np.ndarray | None, den: np.ndarray | None,
           value: np.ndarray | None) -> pa.Table:
    """Rows of one measure, provider-major, in the canonical aggregate-returns columns."""
    n = len(codes) * len(months)

    def col(a: np.ndarray | None) -> pa.Array:
        return pa.nulls(n, pa.float64()) if a is None else pa.array(a.ravel().astype(float))

    return pa.table({"period": dates(np.tile(months, len(codes))), "org_code": np.repeat(codes, len(months)),
                     "measure": pa.array([measure] * n, pa.string()), "numerator": col(num),
                     "denominator": col(den), "value": col(value)})


def published_returns(w: World, rng: np.random.Generator, rtt: pa.Table) -> pa.Table:
    """Monthly RTT, cancer, diagnostics and ambulance returns for the window, one row per provider and measure (the
    RTT rows the provider totals of ``rtt``, :func:`rtt_returns`)."""
    months = _months(w)
    people = len(w.people)
    providers = w.cfg.returns_providers
    acute, amb = list(providers.acute), list(providers.ambulance)
    served = np.array(list(providers.acute.values()))[:, None] * people
    shape = (len(acute), len(months))
    parts = []
    for measure, (per, first, last, noise) in SHARES.items():
        den = rng.poisson(np.broadcast_to(served * per, shape)).astype(float)
        p = np.clip(_level(first, last, noise, shape, rng), 0.01, 0.999)
        parts.append(_table(months, acute, measure, rng.binomial(den.astype(np.int64), p), den, None))
    parts += _rtt_rows(w, rtt)
    amb_served = np.array(list(providers.ambulance.values()))[:, None] * people
    amb_shape = (len(amb), len(months))
    for measure, (per, first, last, noise) in MEANS.items():
        incidents = np.maximum(rng.poisson(np.broadcast_to(amb_served * per, amb_shape)), 1).astype(float)
        mean = np.clip(_level(first, last, noise, amb_shape, rng), 1.0, None)
        parts.append(_table(months, amb, measure, mean * incidents, incidents, None))
    parts += _beds_and_mental_health(months, people, providers, rng)
    return pa.concat_tables(parts)


def _beds_and_mental_health(months: np.ndarray, people: int, providers: ReturnsProviders,
                            rng: np.random.Generator) -> list[pa.Table]:
    """G&A bed occupancy by quarter (KH03, acute providers) and the monthly EIP and out-of-area placement
    returns (mental health)."""
    acute, mh = list(providers.acute), list(providers.mental_health)
    quarters = _quarters(months)
    shape, mh_shape = (len(acute), len(quarters)), (len(mh), len(months))
    per, first, last, noise = BEDS
    beds = np.broadcast_to(np.round(np.array(list(providers.acute.values()))[:, None] * people * per), shape)
    beds = np.maximum(beds, 1.0)
    occupied = np.round(beds * np.clip(_level(first, last, noise, shape, rng), 0.5, 1.0))
    served = np.array(list(providers.mental_health.values()))[:, None] * people
    per, first, last, noise = EIP
    referrals = rng.poisson(np.broadcast_to(served * per, mh_shape))
    started = rng.binomial(referrals, np.clip(_level(first, last, noise, mh_shape, rng), 0.05, 0.99))
    rate = np.linspace(*OAP_BED_DAYS, len(months))
    bed_days = rng.poisson(np.broadcast_to(served * rate, mh_shape))
    return [_table(quarters, acute, "ga_bed_occupancy", occupied, beds.astype(float), None),
            _table(months, mh, "eip_within_2wk", started, referrals.astype(float), None),
            _table(months, mh, "oap_inappropriate_bed_days", None, None, bed_days)]
