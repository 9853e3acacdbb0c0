"""Referral variation feedback for practices and PCNs (001 L1391; Appendix D row 20): standardised referral
ratios by specialty, conversion along referral → first outpatient attendance → admission, and funnel limits
allowing for overdispersion.

Everything works on count arrays, vectorised over units (practices or PCNs), specialties and months:
- Indirectly standardised ratio (ISR): observed referrals over those expected if each stratum of the unit's
  list referred at the ICS rate for that specialty and stratum. Two sets of strata: age band × sex (the
  usual standardisation) and a need-adjusted set that adds deprivation (IMD quintile) and multimorbidity
  band. Where one ratio is significantly high or low at 95% and the other is not (or points the other way),
  the difference is flagged: the unit's referrals are explained, or masked, by its patients' need.
- Funnel limits for ratios, one per specialty over the units, by the method of the report's rate funnels
  (:mod:`placewise.analyse.funnels`, one definition): exact Poisson limits at E, widened for overdispersion by
  Spiegelhalter's additive random effects (Stat Med 2005;24:1185-1202) on the square-root scale, z = 2 (sqrt(O) -
  sqrt(E)), as FunnelPlotR's "CQC" method, so that a unit with no referrals counts in the estimate (the log scale
  must leave it out, which overstated tau^2) and 0 against 1 expected is no signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from placewise.analyse.funnels import MIN_UNITS_FOR_OVERDISPERSION, ratio_overdispersion, ratio_signal

OVERDISPERSION_METHOD = ("exact Poisson limits, widened where the units are overdispersed by additive random effects "
                         "on the square-root scale (Spiegelhalter 2005; z-scores winsorised at 10%/90%; FunnelPlotR's "
                         f"CQC method; estimated from at least {MIN_UNITS_FOR_OVERDISPERSION} units), as in the "
                         "report's funnel plots")


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


def signal(r: Ratios) -> NDArray[np.int8]:
    """+1 above the upper 95% funnel limit, -1 below the lower, 0 inside (or nothing expected): each column (a
    specialty) is one funnel over the units down the rows, with its own overdispersion."""
    return np.sign(ratio_signal(r.observed, r.expected, ratio_overdispersion(r.observed, r.expected))).astype(np.int8)


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
