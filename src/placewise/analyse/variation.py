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
from datetime import date

import ibis
import ibis.expr.types as ir
import numpy as np
from numpy.typing import ArrayLike, NDArray

from placewise.analyse.funnels import MIN_UNITS_FOR_OVERDISPERSION, ratio_overdispersion, ratio_signal
from placewise.profile import Profile
from placewise.profile.registers import Register

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


def conversion(referrals: ArrayLike, first_attendances: ArrayLike, admissions: ArrayLike,
               seen: ArrayLike | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shares of referrals reaching a first outpatient attendance, and of first attendances admitted: of ``seen``,
    the first attendances whose admission window has closed (:func:`conversion_counts`), all of them if not given."""
    r, f, a = (np.asarray(x, dtype=float) for x in (referrals, first_attendances, admissions))
    s = f if seen is None else np.asarray(seen, dtype=float)
    if (f > r).any() or (s > f).any() or (a > s).any():
        raise ValueError("conversion: a later step has more than the step before it")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, f / r, np.nan), np.where(s > 0, a / s, np.nan)


AGE_BANDS = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90])
"""Lower bounds of the ten-year age bands used as strata (90 and over last)."""

MULTIMORBIDITY_REGISTERS = ("atrial_fibrillation", "hypertension", "diabetes", "chd", "heart_failure", "stroke_tia",
                            "ckd", "copd", "dementia", "depression", "cancer", "asthma", "smi")
"""The long-term conditions counted for the multimorbidity band: the profile's QOF registers (v49.0, 2024/25) of
long-term conditions, each with its own rules and age range. Learning disability, obesity and frailty are registers
too but not conditions of this kind, and are left out."""

MULTIMORBIDITY_BANDS = ("none", "one", "two or three", "four or more")
"""Bands of the number of those conditions a person has at a month end. Multimorbidity is two or more long-term
conditions (NICE guideline NG56, Multimorbidity: clinical assessment and management, 2016); the split at four is
ours, so that the most multimorbid have a stratum of their own while every stratum keeps people in it."""

MULTIMORBIDITY_TEXT = ("the number of long-term conditions on the QOF registers at the month end, none, one, two or "
                       "three, or four or more, of atrial fibrillation, hypertension, diabetes, coronary heart "
                       "disease, heart failure, stroke and TIA, chronic kidney disease (stages 3a to 5), COPD, "
                       "dementia, depression, cancer, asthma and severe mental illness")
"""What the multimorbidity band counts, as the pack says it."""

IMD_QUINTILES = 5
STRATA = (len(AGE_BANDS), 2, IMD_QUINTILES, len(MULTIMORBIDITY_BANDS))
"""The need-adjusted strata, in the order of the cube's last axis: age band, sex, IMD quintile, multimorbidity band."""


def age_sex_strata(a: NDArray[np.float64], lead: int) -> NDArray[np.float64]:
    """An array over the need-adjusted strata (its last axis, after ``lead`` axes) summed to age band × sex."""
    return a.reshape(*a.shape[:lead], *STRATA).sum(axis=(-1, -2)).reshape(*a.shape[:lead], STRATA[0] * STRATA[1])


@dataclass(frozen=True)
class ReferralCube:
    """Referral counts and list sizes as arrays over practices, specialties, months and strata."""

    practices: list[str]
    specialties: list[str]
    months: list[object]
    referrals: NDArray[np.float64]      # (practices, specialties, months, age × sex × IMD quintile × multimorbidity)
    population: NDArray[np.float64]     # (practices, months, age × sex × IMD quintile × multimorbidity)

    def age_sex(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The arrays with IMD quintiles and multimorbidity bands summed out: age band × sex strata only."""
        return age_sex_strata(self.referrals, 3), age_sex_strata(self.population, 2)


def multimorbidity_registers(profile: Profile) -> list[Register]:
    """The profile's registers of :data:`MULTIMORBIDITY_REGISTERS`, those it declares (none for a profile without
    registers)."""
    from placewise.profile.registers import load_registers

    regs = load_registers(profile)
    return [] if regs is None else [r for r in regs.registers if r.id in MULTIMORBIDITY_REGISTERS]


def multimorbidity_steps(con: ibis.BaseBackend, attrs: ir.Table, registers: list[Register]) -> ir.Table:
    """Each person's number of the registers' conditions as a step function of the month: ``pid, m, m_next, n``,
    ``n`` conditions at the end of every month numbered (:func:`~placewise.derive.people.month_number`) from ``m`` up
    to the month before ``m_next``; rows only where ``n`` is above nought. In SQL, once per person rather than per
    person and month end.

    A register's span (``start`` to the day before ``stop``) holds at a month's last day exactly when the month is from
    ``start``'s up to the one before ``stop``'s; its age range (age in whole years from the first of the birth month,
    as :func:`~placewise.derive.people.age_at`) holds from the month the person is ``min`` to the one before they are
    ``max + 1``. Each span is cut to both, and the cut spans' starts (+1) and stops (-1) summed in month order.
    """
    from placewise.derive.people import PID, month_number
    from placewise.derive.records import Records, read_records
    from placewise.derive.registers import record_queries, spans

    queries = sorted({q for r in registers for q in record_queries(r)})
    records = Records(read_records(con, attrs, queries), tuple(queries))
    born = attrs.filter(attrs.birth_year.notnull() & attrs.birth_month.notnull())
    born = born.select(b_pid=born[PID], bm=(born.birth_year * 12 + born.birth_month).cast("int64"))
    cut = []
    for r in registers:
        s = spans(records.coded, r)
        s = s.join(born, s[PID] == born.b_pid)
        lo = s.bm + (r.age.min if r.age.min is not None else 0) * 12
        m0 = ibis.greatest(month_number(s.start), lo) if r.age.min is not None else month_number(s.start)
        m1 = month_number(s.stop)
        if r.age.max is not None:
            m1 = ibis.least(m1, s.bm + (r.age.max + 1) * 12)
        cut.append(s.select(PID, m0=m0.cast("int64"), m1=m1.cast("int64")))
    held = cut[0].union(*cut[1:], distinct=False) if len(cut) > 1 else cut[0]
    held = held.filter(held.m0 < held.m1)
    moves = held.select(PID, m=held.m0, d=ibis.literal(1, "int64")).union(
        held.select(PID, m=held.m1, d=ibis.literal(-1, "int64")), distinct=False)
    moves = moves.group_by([PID, "m"]).aggregate(d=moves.d.sum())
    w = ibis.window(group_by=moves[PID], order_by=moves.m)
    steps = moves.mutate(n=moves.d.sum().over(ibis.cumulative_window(group_by=moves[PID], order_by=moves.m)),
                         m_next=moves.m.lead().over(w))
    return steps.filter(steps.n > 0).select(PID, "m", "m_next", "n")


def with_multimorbidity_band(rows: ir.Table, steps: ir.Table | None) -> ir.Table:
    """``rows`` (``pid, period_end``, …) with ``mm_band``: 0 to 3, the band of the number of conditions the person has
    at ``period_end`` (:func:`multimorbidity_steps`; ``None``: no registers, every band 0)."""
    from placewise.derive.people import PID, month_number

    if steps is None:
        return rows.mutate(mm_band=ibis.literal(0, "int64"))
    s = steps.rename(s_pid=PID)
    mn = month_number(rows.period_end)
    j = rows.left_join(s, [rows[PID] == s.s_pid, s.m <= mn, mn < s.m_next])
    count = ibis.coalesce(j.n, 0)
    band = ibis.cases((count == 0, 0), (count == 1, 1), (count <= 3, 2), else_=3)
    return j.select(*rows.columns, mm_band=band.cast("int64"))


STEPS_TABLE = "_referral_multimorbidity"
"""The temporary table of :func:`multimorbidity_steps` while :func:`referral_cube` reads the list and referrals."""


def referral_cube(con, months: list, registers: list[Register]) -> ReferralCube:
    """Referrals by practice, treatment function, month and stratum, and list sizes at each month end, in SQL.

    The strata are :data:`STRATA`; a person's multimorbidity band is that at the end of the month (of the referral,
    or of the list). People of unknown sex or IMD quintile are left out of both sides (they cannot be standardised).
    ``registers``: those whose conditions are counted (:data:`MULTIMORBIDITY_REGISTERS` from the profile).
    """
    import pandas as pd

    from placewise.derive.people import PID, age_at, person_attributes, population, registrations
    from placewise.warehouse.engines import engine_for

    attrs = person_attributes(con)
    ends = [(pd.Timestamp(m) + pd.offsets.MonthEnd(0)).date() for m in months]
    pop = population(registrations(con, attrs), attrs, ends)
    ref = con.table("referrals")
    j = ref.join(attrs, ref.person_id == attrs.person_id)
    j = j.filter((j.referral_date >= ends[0].replace(day=1)) & (j.referral_date <= ends[-1]))
    month_end = (j.referral_date.truncate("M") + ibis.interval(months=1) - ibis.interval(days=1)).cast("date")
    j = j.mutate(period_end=month_end, age=age_at(j.referral_date, j.birth_year, j.birth_month))
    eng = engine_for(con)
    steps = eng.temp_table(STEPS_TABLE, multimorbidity_steps(con, attrs, registers)) if registers else None
    try:
        pop = with_multimorbidity_band(pop.select(PID, "period_end", "practice_code", "sex", "imd_quintile", "age"),
                                       steps)
        pop = pop.group_by(["period_end", "practice_code", "sex", "imd_quintile", "age", "mm_band"]).aggregate(
            n=pop.count())
        j = with_multimorbidity_band(j.select(PID, "period_end", "practice_code", "treatment_function", "sex",
                                              "imd_quintile", "age"), steps)
        refs = j.group_by(["period_end", "practice_code", "treatment_function", "sex", "imd_quintile", "age",
                           "mm_band"]).aggregate(n=j.count())
        p, r = pop.to_pandas(), refs.to_pandas()
    finally:
        if steps is not None:
            eng.drop_temp(STEPS_TABLE)
    practices = sorted(set(con.table("practices").practice_code.to_pandas().dropna()))
    specialties = sorted(set(r.treatment_function.dropna()))
    base = ends[0].year * 12 + ends[0].month
    strata = int(np.prod(STRATA))

    def stratum(df: pd.DataFrame) -> np.ndarray:
        band = np.searchsorted(AGE_BANDS, df.age.to_numpy(float), side="right") - 1.0
        sex = np.select([df.sex.to_numpy() == "female", df.sex.to_numpy() == "male"], [0.0, 1.0], np.nan)
        imd = pd.to_numeric(df.imd_quintile, errors="coerce").to_numpy(float) - 1
        return ((band * 2 + sex) * IMD_QUINTILES + imd) * len(MULTIMORBIDITY_BANDS) + df.mm_band.to_numpy(float)

    def codes(values: pd.Series, categories: list) -> np.ndarray:
        c = pd.Categorical(values, categories=categories).codes.astype(float)
        c[c < 0] = np.nan
        return c

    cube_p = np.zeros((len(practices), len(ends), strata))
    cube_r = np.zeros((len(practices), len(specialties), len(ends), strata))
    for df, cube, dims in ((p, cube_p, ()), (r, cube_r, ("treatment_function",))):
        s = stratum(df)
        prac = codes(df.practice_code, practices)
        pe = pd.to_datetime(df.period_end)
        mon = (pe.dt.year * 12 + pe.dt.month).to_numpy(float) - base
        mon[(mon < 0) | (mon >= len(ends))] = np.nan
        parts = [prac] + ([codes(df.treatment_function, specialties)] if dims else []) + [mon, s]
        keep = ~np.any(np.isnan(np.vstack(parts)), axis=0) if len(df) else np.zeros(0, bool)
        np.add.at(cube, tuple(a[keep].astype(int) for a in parts), df.n.to_numpy(float)[keep])
    months_out = list(pd.PeriodIndex([pd.Timestamp(e) for e in ends], freq="M"))
    return ReferralCube(practices, specialties, months_out, cube_r, cube_p)


FIRST_ATTENDANCE_WEEKS = 18
"""A referral is linked to a first outpatient attendance within this many weeks of it (day 0 to day 18 × 7): the
18 weeks of the referral-to-treatment standard."""

ADMISSION_MONTHS = 12
"""A first attendance is linked to an elective admission within this many months of it."""


def _link_once(pairs: ir.Table, later: str, later_day: str, earlier: str, earlier_day: str) -> ir.Table:
    """Candidate pairs cut so each event is used once: each later event goes to the latest earlier event it may
    follow (a newer referral supersedes an older one), then each earlier event keeps its first later event."""
    by_later = ibis.window(group_by=pairs[later], order_by=[ibis.desc(pairs[earlier_day]), ibis.desc(pairs[earlier])])
    pairs = pairs.filter(ibis.row_number().over(by_later) == 0)
    by_earlier = ibis.window(group_by=pairs[earlier], order_by=[pairs[later_day], pairs[later]])
    return pairs.filter(ibis.row_number().over(by_earlier) == 0)


def referral_pathways(con: ibis.BaseBackend, start: date, end: date, weeks: int = FIRST_ATTENDANCE_WEEKS,
                      months: int = ADMISSION_MONTHS) -> ir.Table:
    """Each referral made from ``start`` to ``end`` with the first outpatient attendance and the elective admission
    it led to, by our linkage rule (the canonical tables carry no referral id on appointments), in SQL:
    ``referral_id, practice_code, treatment_function, referral_date, attended_on, admitted_on`` (null where none).

    A referral links to an attended first appointment of the same person and treatment function from the day of the
    referral to ``weeks`` × 7 days after it; that attendance links to an elective admission of the same person and
    treatment function from the day of the attendance to ``months`` months after it. Each event is used once: an
    attendance (admission) goes to the latest referral (attendance) it may follow, and a referral (attendance) keeps
    the first attendance (admission) linked to it.
    """
    ref = con.table("referrals")
    ref = ref.filter((ref.referral_date >= start) & (ref.referral_date <= end)).select(
        "referral_id", "person_id", "practice_code", "treatment_function", "referral_date")
    op = con.table("outpatient_appointments")
    op = op.filter(op.first_attendance & (op.attendance == "attended")).select(
        "appointment_id", op_person=op.person_id, op_tf=op.treatment_function, attended_on=op.appointment_date)
    pairs = ref.join(op, [ref.person_id == op.op_person, ref.treatment_function == op.op_tf,
                          op.attended_on >= ref.referral_date,
                          op.attended_on <= ref.referral_date + ibis.interval(days=7 * weeks)])
    first = _link_once(pairs, "appointment_id", "attended_on", "referral_id", "referral_date").select(
        "referral_id", "appointment_id", "attended_on", "op_person", "op_tf")
    ip = con.table("inpatient_spells")
    ip = ip.filter(ip.admission_method == "elective").select(
        "spell_id", ip_person=ip.person_id, ip_tf=ip.treatment_function, admitted_on=ip.admission_date)
    adm = first.join(ip, [first.op_person == ip.ip_person, first.op_tf == ip.ip_tf,
                          ip.admitted_on >= first.attended_on,
                          ip.admitted_on <= first.attended_on + ibis.interval(months=months)])
    adm = _link_once(adm, "spell_id", "admitted_on", "appointment_id", "attended_on").select(
        "appointment_id", "admitted_on")
    first = first.left_join(adm, "appointment_id").select("referral_id", "attended_on", "admitted_on")
    out = ref.left_join(first, "referral_id")
    return out.select("referral_id", "practice_code", "treatment_function", "referral_date", "attended_on",
                      "admitted_on")


def conversion_counts(pathways: ir.Table, data_end: date, weeks: int = FIRST_ATTENDANCE_WEEKS,
                      months: int = ADMISSION_MONTHS) -> ir.Table:
    """Counts by practice and treatment function for :func:`conversion`: ``referred`` (referrals whose ``weeks``
    have passed by ``data_end``), ``attended`` (of them, linked to a first attendance), ``seen`` (linked first
    attendances whose ``months`` have passed) and ``admitted`` (of those, linked to an elective admission). Steps whose
    window has not closed are left out, so recent referrals do not look unconverted."""
    p = pathways
    ref_done = p.referral_date + ibis.interval(days=7 * weeks) <= data_end
    seen = p.attended_on.notnull() & (p.attended_on + ibis.interval(months=months) <= data_end)
    return p.group_by(["practice_code", "treatment_function"]).aggregate(
        referred=ref_done.sum(), attended=(ref_done & p.attended_on.notnull()).sum(),
        seen=seen.sum(), admitted=(seen & p.admitted_on.notnull()).sum())
