"""Synthetic published returns (RTT, cancer waiting times, DM01, ambulance, G&A beds, EIP, out-of-area
placements) for the profile's providers.

Each provider's monthly return (quarterly for KH03 G&A beds) is drawn around a level that drifts through the window, sized to the
synthetic population it serves, with binomial and Poisson noise: so the series have real variation
and the counts behind each share. Levels are set to the ranges BLMK's 2020/21 dashboards and recent
national statistics show (003 L3577-3695; 001 L2414), not to any indicator's rule. The returns are not derived from
the person-level referrals and outpatient records (the generator keeps no waiting-list model).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from placewise.sources.synth.config import ReturnsProviders
from placewise.sources.synth.events import World, dates

WAITING = (0.068, 0.66, 0.60, 0.015)
"""RTT: incomplete pathways per person at the start (growing a quarter over the window); share within 18 weeks."""
SHARES = {  # measure: (monthly denominator per person, share at the start, at the end, month-to-month noise)
    "cancer_2ww": (0.0016, 0.90, 0.86, 0.02),
    "cancer_fds_28d": (0.0016, 0.72, 0.78, 0.02),
    "cancer_31d": (0.00035, 0.94, 0.92, 0.015),
    "cancer_62d": (0.00012, 0.72, 0.70, 0.03),
    "diagnostics_within_6wk": (0.017, 0.72, 0.80, 0.02),
}
COUNTS = {  # measure: (share of the waiting list at the start, at the end)
    "rtt_over_52wk": (0.030, 0.020),
    "rtt_over_65wk": (0.008, 0.002),
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


def published_returns(w: World, rng: np.random.Generator) -> pa.Table:
    """Monthly RTT, cancer, diagnostics and ambulance returns for the window, one row per provider and measure."""
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
    per, first, last, noise = WAITING
    waiting = rng.poisson(np.broadcast_to(served * per, shape) * np.linspace(1.0, 1.25, len(months)))
    within = rng.binomial(waiting, np.clip(_level(first, last, noise, shape, rng), 0.01, 0.999))
    parts.append(_table(months, acute, "rtt_within_18wk", within, waiting.astype(float), None))
    parts.append(_table(months, acute, "rtt_waiting_list", None, None, waiting))
    for measure, (first, last) in COUNTS.items():
        share = np.clip(_level(first, last, first / 10, shape, rng), 0.0, 1.0)
        parts.append(_table(months, acute, measure, None, None, rng.binomial(waiting, share)))
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
