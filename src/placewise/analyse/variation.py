"""Referral variation feedback for practices and PCNs (001 L1391; Appendix D row 20): standardised referral
ratios by specialty, conversion along referral → first outpatient attendance → admission, and funnel limits
allowing for overdispersion.

Everything works on count arrays, vectorised over units (practices or PCNs), specialties and months:
- Indirectly standardised ratio (ISR): observed referrals over those expected if each stratum of the unit's
  list referred at the ICS rate for that specialty and stratum. Two sets of strata: age band × sex (the
  usual standardisation) and a need-adjusted set that adds deprivation (IMD quintile) and multimorbidity
  band. Where one ratio is significantly high or low at 95% and the other is not (or points the other way),
  the difference is flagged: the unit's referrals are explained, or masked, by its patients' need.
- Funnel limits for ratios with overdispersion by the additive random-effects method of Spiegelhalter
  (Stat Med 2005;24:1185-1202) as FunnelPlotR applies it: z-scores on the log scale (s = 1/sqrt(E)),
  winsorised at the 10th and 90th percentiles, phi = mean z^2; if N phi > N - 1, tau^2 =
  (N phi - (N - 1)) / (sum w - sum w^2 / sum w) with w = 1/s^2, and the limits at E are
  exp(+/- z_alpha sqrt(1/E + tau^2)). With no overdispersion the limits are the log-normal Poisson limits.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

Z95 = stats.norm.ppf(0.975)
OVERDISPERSION_METHOD = ("additive random effects on the log scale (Spiegelhalter 2005), z-scores winsorised at "
                         "10%/90% (as FunnelPlotR)")


@dataclass(frozen=True)
class Ratios:
    """Observed, expected and their ratio for each unit × specialty (× month if given)."""

    observed: NDArray[np.float64]
    expected: NDArray[np.float64]

    @property
    def ratio(self) -> NDArray[np.float64]:
        """Observed over expected; NaN where nothing was expected."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, self.observed / self.expected, np.nan)


def standardised_ratios(referrals: ArrayLike, population: ArrayLike) -> Ratios:
    """ISR of each unit and specialty against the ICS rate in each stratum.

    ``referrals``: (units, specialties, [months,] strata) counts; ``population``: (units, [months,] strata)
    list sizes (or person-time). The ICS rate per specialty and stratum is the sum over units.
    """
    r = np.asarray(referrals, dtype=float)
    p = np.asarray(population, dtype=float)
    if r.ndim == 3:
        r, p = r[:, :, None, :], p[:, None, :]
    if p.shape[0] != r.shape[0] or p.shape[-1] != r.shape[-1] or p.shape[1] != r.shape[2]:
        raise ValueError(f"population {p.shape} does not match referrals {r.shape} (units, [months,] strata)")
    pop_ics = p.sum(axis=0)  # (months, strata)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(pop_ics > 0, r.sum(axis=0) / pop_ics, 0.0)  # (specialties, months, strata)
    expected = np.einsum("ums,kms->ukm", p, rate)
    observed = r.sum(axis=-1)
    if np.asarray(referrals).ndim == 3:
        return Ratios(observed[:, :, 0], expected[:, :, 0])
    return Ratios(observed, expected)


def overdispersion(observed: ArrayLike, expected: ArrayLike) -> NDArray[np.float64]:
    """tau^2 per column (specialty) over units: 0 where the units vary no more than chance allows."""
    o, e = (np.asarray(a, dtype=float) for a in (observed, expected))
    ok = (e > 0) & (o > 0)
    y = np.where(ok, np.log(np.where(ok, o, 1.0) / np.where(ok, e, 1.0)), np.nan)
    s2 = np.where(ok, 1.0 / np.where(ok, e, 1.0), np.nan)
    z = y / np.sqrt(s2)
    n = ok.sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column no unit has a count in: its tau^2 is 0 below
        lo, hi = np.nanpercentile(z, 10, axis=0), np.nanpercentile(z, 90, axis=0)
        z = np.clip(z, lo, hi)
        phi = np.nanmean(z * z, axis=0)
    w = np.where(ok, 1.0 / s2, 0.0)
    sw, sw2 = w.sum(axis=0), (w * w).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau2 = (n * phi - (n - 1)) / (sw - sw2 / sw)
    return np.where((n > 1) & (n * phi > n - 1), tau2, 0.0)


def funnel_limits(expected: ArrayLike, tau2: ArrayLike, z: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower and upper ratio limits at each expected count, widened by tau^2 (broadcast)."""
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore"):
        sd = np.sqrt(np.where(e > 0, 1.0 / e, np.inf) + np.asarray(tau2, dtype=float))
    return np.exp(-z * sd), np.exp(z * sd)


def signal(r: Ratios, tau2: ArrayLike, z: float = Z95) -> NDArray[np.int8]:
    """+1 above the upper funnel limit, -1 below the lower, 0 inside (or nothing expected).

    A small count must also be beyond the exact Poisson limits at ``E``: the log scale cannot place zero
    referrals against one expected (P = 0.37) inside the funnel.
    """
    lower, upper = funnel_limits(r.expected, tau2, z)
    ratio, o, e = r.ratio, r.observed, r.expected
    tail = stats.norm.sf(z)
    high = (ratio > upper) & (stats.poisson.sf(o - 1, e) < tail)
    low = (ratio < lower) & (stats.poisson.cdf(o, e) < tail)
    return np.where(high, 1, np.where(low, -1, 0)).astype(np.int8)


def disagreement(age_sex: NDArray[np.int8], need: NDArray[np.int8]) -> NDArray[np.bool_]:
    """True where the age-sex and the need-adjusted ratios give different verdicts at 95%."""
    return age_sex != need


def conversion(referrals: ArrayLike, first_attendances: ArrayLike,
               admissions: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shares of referrals reaching a first outpatient attendance, and of first attendances admitted."""
    r, f, a = (np.asarray(x, dtype=float) for x in (referrals, first_attendances, admissions))
    if (f > r).any() or (a > f).any():
        raise ValueError("conversion: a later step has more than the step before it")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, f / r, np.nan), np.where(f > 0, a / f, np.nan)


AGE_BANDS = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
"""Lower bounds of the ten-year age bands used as strata (90 and over last)."""


@dataclass(frozen=True)
class ReferralCube:
    """Referral counts and list sizes as arrays over practices, specialties, months and strata."""

    practices: list[str]
    specialties: list[str]
    months: list[object]
    referrals: NDArray[np.float64]      # (practices, specialties, months, age × sex × IMD quintile)
    population: NDArray[np.float64]     # (practices, months, age × sex × IMD quintile)

    def age_sex(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The arrays with IMD quintiles summed out: age band × sex strata only."""
        shape = (len(AGE_BANDS), 2, 5)
        r = self.referrals.reshape(*self.referrals.shape[:3], *shape).sum(axis=-1)
        p = self.population.reshape(*self.population.shape[:2], *shape).sum(axis=-1)
        return r.reshape(*r.shape[:3], -1), p.reshape(*p.shape[:2], -1)


def referral_cube(con, months: list) -> ReferralCube:
    """Referrals by practice, treatment function, month and stratum, and list sizes at each month end, in SQL.

    People of unknown sex or IMD quintile are left out of both sides (they cannot be standardised).
    """
    import pandas as pd

    from placewise.derive.people import age_at, person_attributes, population, registrations

    attrs = person_attributes(con)
    ends = [(pd.Timestamp(m) + pd.offsets.MonthEnd(0)).date() for m in months]
    pop = population(registrations(con, attrs), attrs, ends)
    pop = pop.group_by(["period_end", "practice_code", "sex", "imd_quintile", "age"]).aggregate(n=pop.count())
    ref = con.table("referrals")
    j = ref.join(attrs, ref.person_id == attrs.person_id)
    j = j.filter((j.referral_date >= ends[0].replace(day=1)) & (j.referral_date <= ends[-1]))
    j = j.mutate(period_end=j.referral_date.truncate("M"), age=age_at(j.referral_date, j.birth_year, j.birth_month))
    refs = j.group_by(["period_end", "practice_code", "treatment_function", "sex", "imd_quintile", "age"]).aggregate(
        n=j.count())
    p, r = pop.to_pandas(), refs.to_pandas()
    p["month"] = pd.to_datetime(p.period_end).dt.to_period("M")
    r["month"] = pd.to_datetime(r.period_end).dt.to_period("M")
    practices = sorted(set(con.table("practices").practice_code.to_pandas().dropna()))
    specialties = sorted(set(r.treatment_function.dropna()))
    month_idx = {m: i for i, m in enumerate(pd.PeriodIndex([pd.Timestamp(e) for e in ends], freq="M"))}
    strata = len(AGE_BANDS) * 2 * 5

    def stratum(df: pd.DataFrame) -> np.ndarray:
        band = np.searchsorted(AGE_BANDS, df.age.to_numpy(), side="right") - 1
        sex = df.sex.map({"female": 0, "male": 1}).to_numpy()
        imd = pd.to_numeric(df.imd_quintile, errors="coerce").to_numpy() - 1
        return (band * 2 + sex) * 5 + imd

    cube_p = np.zeros((len(practices), len(ends), strata))
    cube_r = np.zeros((len(practices), len(specialties), len(ends), strata))
    for df, cube, dims in ((p, cube_p, ()), (r, cube_r, ("treatment_function",))):
        s = stratum(df)
        prac = df.practice_code.map({c: i for i, c in enumerate(practices)}).to_numpy()
        mon = df.month.map(month_idx).to_numpy()
        keep = ~(np.isnan(s.astype(float)) | pd.isna(prac) | pd.isna(mon))
        idx = [prac[keep].astype(int)]
        if dims:
            idx.append(df.treatment_function.map({c: i for i, c in enumerate(specialties)}).to_numpy()[keep].astype(int))
        idx += [mon[keep].astype(int), s[keep].astype(int)]
        np.add.at(cube, tuple(idx), df.n.to_numpy(float)[keep])
    return ReferralCube(practices, specialties, list(month_idx), cube_r, cube_p)
