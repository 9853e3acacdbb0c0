"""The calibration report: figures computed from the generated files, beside their targets.

Every figure is measured from the written tables, not read from the generator's parameters, so a
passing report means the data themselves look like BLMK. Figures that are catalogue indicators
(:data:`INDICATOR_FIGURES`, the LD health-check rate among them) and register prevalence (the profile's
registers over the registered population, :data:`PREVALENCE_REGISTER`) are computed by the catalogue's own
definitions through :func:`placewise.measure.compute`, on the files read as a warehouse; the rest
(demographic shares, the seed's crude gap in age at first long-term condition, activity volumes) are SQL over
the files, and the age-standardised form of that gap, with its interval, is :func:`first_ltc_gap`; the eFI
bands of people aged 65 and over are worked out by the engine's own eFI (:mod:`placewise.derive.frailty`).
The planted worklist cases are left out of every figure (see :func:`_source`).

A figure computed from a synthetic sample carries sampling noise that shrinks with the scale, so each
catalogue figure's tolerance is the profile's tolerance (how far the modelled figure may sit from its
reference) widened by the 95% sampling interval of the figure at the scale generated, combined in
quadrature: ``sqrt(tolerance² + (1.96 × standard error)²)``. The standard error is binomial for a
proportion (``per × sqrt(p(1 − p) / denominator)``), the sample's for a mean (``sqrt(variance / n)``, from the
sum of squares) and Poisson in the numerator otherwise (``per × sqrt(numerator) / denominator``;
``sqrt(numerator)`` for a count); a published mean time drawn by the generator has none. At scale 1.0 it adds little; at scale
0.1 it keeps a figure from failing by chance (the dementia diagnosis rate, about 700 people on the register
at scale 0.1, has a sampling standard error of about 2.7 percentage points).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from placewise.analyse.statistics import Estimate, esp2013_band, standardised_mean_gap
from placewise.analyse.variation import conversion_counts, referral_pathways
from placewise.canonical import PERSON_KEY, SQL_TYPES, TABLES, Table
from placewise.codelists import codes, names
from placewise.derive import frailty
from placewise.derive.people import person_attributes, population, registrations
from placewise.derive.records import add_months, financial_year_start
from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.measure.catalogue import Aggregate, Catalogue, Events, OnRegister, Subset
from placewise.profile import Profile
from placewise.profile.phm import load_phm
from placewise.sources.synth.config import CONDITIONS, CalibrationTarget, Synthetic


@dataclass(frozen=True)
class CalibrationRow:
    """One generated figure beside its target, source and tolerance (counts at the scale generated)."""

    measure: str
    geography: str
    value: float
    target: float
    tolerance: float
    source: str
    passed: bool
    count: bool = False
    sampling: float = 0.0
    """Half-width of the figure's 95% sampling interval at the scale generated, folded into ``tolerance``."""


REGISTERED = """
CREATE TEMP TABLE reg AS
SELECT p.nhs_number, g.la_code, g.imd_decile, p.ethnicity,
       floor((year(DATE '{end}') * 12 + month(DATE '{end}') - p.birth_year * 12 - p.birth_month) / 12) AS age
FROM people p JOIN geography g USING (lsoa_code)
WHERE p.nhs_number IN (SELECT nhs_number FROM registrations WHERE end_date IS NULL)
"""
ETHNIC = {"white": "'A','B','C'", "asian": "'H','J','K','L','R'", "black": "'M','N','P'", "white_non_british": "'B','C'"}


def _source(t: Table, out: Path, fmt: str) -> str:
    """SQL reading one generated file, without the planted worklist cases: they are a fixed test set beside the
    modelled population (:mod:`placewise.sources.synth.planted`), not part of what is calibrated."""
    path = out / f"{t.name}.{fmt}"
    if fmt == "parquet":
        read = f"read_parquet('{path}')"
    else:
        cols = ", ".join(f"'{c.name}': '{SQL_TYPES[c.dtype]}'" for c in t.columns).replace("DOUBLE PRECISION", "DOUBLE")
        read = f"read_csv('{path}', header=true, columns={{{cols}}})"
    planted = out / "truth" / "worklist_cases.parquet"
    if not t.has_person or not planted.exists():
        return read
    return f"(SELECT * FROM {read} WHERE nhs_number NOT IN (SELECT nhs_number FROM read_parquet('{planted}')))"


def _connect(out: Path, fmt: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per generated file and the codelists as a table."""
    con = duckdb.connect()
    for t in TABLES:
        con.execute(f"CREATE VIEW {t.name} AS SELECT * FROM {_source(t, out, fmt)}")
    lists = [(n, c) for n in names() for c in codes(n)]
    con.register("codelist_arrow", pa.table({"list": [n for n, _ in lists], "code": [c for _, c in lists]}))
    con.execute("CREATE TEMP TABLE codelist AS SELECT * FROM codelist_arrow")
    return con


INDICATOR_FIGURES: dict[str, tuple[str, float | None]] = {
    "ld_health_check_rate": ("ld_health_checks", 100),
    "hypertension_treated_to_target": ("hypertension_treated_to_target", 100),
    "dementia_diagnosis_rate": ("dementia_diagnosis_rate", 100),
    "ae_4hr_type1": ("ae_4hr_type1", 100),
    "ae_4hr_all": ("ae_4hr_all", 100),
    "emergency_admissions_per_1000": ("emergency_admissions_dsr", 1000),
    "falls_admissions_65_plus_per_100000": ("falls_admissions_65_dsr", 100000),
    "emergency_readmissions_30d_percent": ("readmissions_30_day", 100),
    "talking_therapies_entering_per_year": ("talking_therapies_access", None),
    "cyp_mh_access_per_year": ("cyp_mh_access", None),
    "obesity_register_adults_percent": ("obesity_prevalence_adults", 100),
    "children_asthma_admissions_per_100000": ("children_asthma_admissions", 100000),
    "ae_attendances_per_1000_a_month": ("ae_attendances_rate", 1000),
    "emergency_los_mean_days": ("los_emergency_mean", 1),
    "ambulance_cat1_mean": ("ambulance_cat1_mean", 1),
    "ambulance_cat2_mean": ("ambulance_cat2_mean", 1),
    "oap_bed_days_per_quarter": ("oap_bed_days", 3),
}
"""Calibration figure → (catalogue indicator, multiplier of numerator over denominator, or None for the
numerator itself): these are computed by the catalogue's own definitions; a DSR gives its crude rate. A returned
count without a denominator counts one per month, so a multiplier of 3 gives bed days a quarter."""

PUBLISHED_MEANS = frozenset({"ambulance_cat1_mean", "ambulance_cat2_mean"})
"""Figures that are published mean times: the generator draws each month's mean, not each response, so the figure
has no sampling term that shrinks with the scale."""

YEAR_END_FIGURES = frozenset({"ld_health_check_rate"})
"""Figures whose reference is a full financial year's outturn: read at the latest 31 March in the range, as the
financial-year-to-date indicator stands at the year end."""

PREVALENCE_TEMPLATE = "hypertension_prevalence"
"""The catalogue's recorded-prevalence indicator (register over list size); ``prevalence_<condition>`` figures
are this definition with the condition's register in place of hypertension's."""
PREVALENCE_REGISTER = {"type2_diabetes": "diabetes"}
"""Generator condition → profile register, where the names differ."""


def _warehouse(out: Path, fmt: str) -> ibis.BaseBackend:
    """The generated files as a warehouse the catalogue runs on: the synthetic NHS number stands as the person key."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    for t in TABLES:
        select = ", ".join(f'"{c.name}" AS {PERSON_KEY}' if c.name == "nhs_number" else f'"{c.name}"' for c in t.columns)
        con.raw_sql(f"CREATE VIEW {t.name} AS SELECT {select} FROM {_source(t, out, fmt)}")
    return con


def _with_prevalence(cat: Catalogue, measures: set[str]) -> Catalogue:
    """The catalogue plus one recorded-prevalence indicator per ``prevalence_<condition>`` figure asked for, each
    the catalogue's prevalence definition on that condition's register."""
    template = cat.indicator(PREVALENCE_TEMPLATE)
    extra = [template.model_copy(update={
        "id": m, "breakdowns": ["none"],
        "numerator": Subset(kind="subset", criteria=[OnRegister(type="on_register", name=PREVALENCE_REGISTER.get(c, c))]),
    }) for m in sorted(measures) if m.startswith("prevalence_") and (c := m.removeprefix("prevalence_"))]
    return cat.model_copy(update={"indicators": [*cat.indicators, *extra]})


def _indicator_counts(out: Path, fmt: str, cat: Catalogue, cfg: Synthetic, end: dt.date) -> pd.DataFrame:
    """The catalogue's counts, for the indicators calibration uses, over the year to ``end`` (and its financial year)."""
    wanted = sorted({INDICATOR_FIGURES[t.measure][0] if t.measure in INDICATOR_FIGURES else t.measure
                     for t in cfg.calibration if t.measure in INDICATOR_FIGURES or t.measure.startswith("prevalence_")})
    first = financial_year_start(add_months(end, -11))
    rng = ReportingRange(first, end)
    return compute(_warehouse(out, fmt), cat, periods_range=rng, indicators=wanted).to_pandas()


CONVERSION_FIGURES = ("referral_to_first_attendance_percent", "first_attendance_to_admission_percent")
"""Calibration measures of referral conversion, by the engine's own linkage rule (``referral_pathways`` and
``conversion_counts``): GP referrals made in the 12 months to 18 months before the end date (every window closed)
linked to a first attendance, and those attendances linked to an elective admission."""


def _conversion(out: Path, fmt: str, end: dt.date) -> dict[str, tuple[float, float]]:
    """Each conversion figure (percent) and its binomial standard error."""
    last = add_months(end, -18)
    counts = conversion_counts(referral_pathways(_warehouse(out, fmt), add_months(last, -12) + dt.timedelta(days=1),
                                                 last), end).to_pandas()
    n = counts[["referred", "attended", "seen", "admitted"]].sum().astype(float)
    out_ = {}
    for measure, (num, den) in zip(CONVERSION_FIGURES, [(n.attended, n.referred), (n.admitted, n.seen)], strict=True):
        p = float(num / den) if den else float("nan")
        out_[measure] = (100 * p, 100 * (p * (1 - p) / den) ** 0.5 if den else float("nan"))
    return out_


EFI_BANDS = ("fit", "mild", "moderate", "severe")
"""Calibration measures ``efi_<band>_65_plus``: the share of registered people aged 65+ in each eFI band."""


def _efi_band_shares(out: Path, fmt: str, profile: Profile, end: dt.date) -> dict[str, float]:
    """Percentage of registered people aged 65 and over in each eFI band at ``end``, by the engine's eFI."""
    con = _warehouse(out, fmt)
    f = load_phm(profile).frailty
    attrs = con.create_table("calibration_people", person_attributes(con), temp=True)
    pop = population(registrations(con, attrs), attrs, [end])
    efi = frailty.frailty_index(frailty.deficits(con, attrs, f, [end]), pop, f)
    counts = efi.group_by("efi_band").aggregate(n=efi.count()).to_pandas().set_index("efi_band").n
    return {band: 100 * float(counts.get(band, 0)) / float(counts.sum()) for band in EFI_BANDS}


def _indicator_figure(counts: pd.DataFrame, cat: Catalogue, t: CalibrationTarget, end: dt.date,
                      place: str | None) -> tuple[float, float]:
    """An indicator's ICS or Place value and its sampling standard error: over the twelve months to ``end`` for
    monthly or quarterly event counts and returns (the last twelve months with a figure for a followed-up count), at the
    latest 31 March for a year-end figure, else at its latest period."""
    ind_id, per = INDICATOR_FIGURES.get(t.measure, (t.measure, 100))
    ind = cat.indicator(ind_id)
    kind = "ics" if place is None else "place"
    c = counts[(counts.indicator_id == ind_id) & (counts.geography_type == kind) & (counts.breakdown == "none")]
    if place:
        c = c[c.geography_code == place]
    counted = (Events, Aggregate)
    events = isinstance(ind.numerator, counted) or isinstance(ind.denominator, counted)
    if ind.frequency in ("monthly", "quarterly") and events:
        last = c.period_end.max()
        c = c[c.period_end > pd.Timestamp(add_months(last, -11)).date()]
    elif t.measure in YEAR_END_FIGURES:
        c = c[c.period_end == financial_year_start(end + dt.timedelta(days=1)) - dt.timedelta(days=1)]
    else:
        c = c[c.period_end == c.period_end.max()]
    num, den = float(c.numerator.sum()), float(c.denominator.sum())
    if per is None:
        return num, num ** 0.5
    if den == 0:
        return float("nan"), float("nan")
    p = num / den
    if t.measure in PUBLISHED_MEANS:
        return per * p, 0.0
    if ind.measure == "mean":
        variance = max(float(c.sum_squares.sum()) / den - p * p, 0.0)
        return per * p, per * (variance / den) ** 0.5
    se = (p * (1 - p) / den) ** 0.5 if ind.measure == "proportion" else num ** 0.5 / den
    return per * p, per * se


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """The single number a query returns (NaN when empty)."""
    value = con.execute(sql).fetchall()[0][0]
    return float("nan") if value is None else float(value)


def _figure(con: duckdb.DuckDBPyConnection, t: CalibrationTarget, end: dt.date, place: str | None) -> float:
    """Compute one calibration figure from the generated tables, for the ICS or one Place."""
    where = "" if place is None else f"WHERE la_code = '{place}'"
    last_year = f"DATE '{end}' - INTERVAL 365 DAY"
    m = t.measure
    if m == "population":
        return _one(con, f"SELECT count(*) FROM reg {where}")
    if m == "share_aged_65_plus":
        return _one(con, f"SELECT 100 * avg((age >= 65)::INT) FROM reg {where}")
    if m.startswith("ethnicity_"):
        return _one(con, f"SELECT 100 * avg((ethnicity IN ({ETHNIC[m.removeprefix('ethnicity_')]}))::INT) FROM reg {where}")
    if m == "most_deprived_decile_share":
        return _one(con, f"SELECT 100 * avg((imd_decile = 1)::INT) FROM reg {where}")
    if m == "first_ltc_age_gap":
        return _one(con, _first_ltc_gap_sql(where))
    if m == "ae_type1_share":
        return _one(con, f"SELECT 100 * avg((department_type = 1)::INT) FROM ae_attendances WHERE arrival > {last_year}")
    if m == "gp_referrals_per_month":
        return _one(con, f"SELECT count(*) / 12 FROM referrals WHERE referral_date > {last_year}")
    if m == "referral_largest_specialty_share":
        return _one(con, "SELECT 100 * max(n) / sum(n) FROM (SELECT count(*) n FROM referrals GROUP BY treatment_function)")
    if m == "palliative_care_per_1000":
        return _one(con, f"""SELECT 1000 * avg((nhs_number IN (
            SELECT e.nhs_number FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code
            WHERE l.list = 'palliative_care' AND e.event_date > {last_year} AND e.event_date <= DATE '{end}'))::INT)
            FROM reg {where}""")
    if m in ("rtt_within_18wk_percent", "rtt_over_52wk_percent", "rtt_waiting_list_per_1000"):
        latest = "period = (SELECT max(period) FROM aggregate_returns WHERE measure = 'rtt_waiting_list')"
        if m == "rtt_within_18wk_percent":
            return _one(con, f"""SELECT 100 * sum(numerator) / sum(denominator) FROM aggregate_returns
                                 WHERE measure = 'rtt_within_18wk' AND {latest}""")
        if m == "rtt_over_52wk_percent":
            return _one(con, f"""SELECT 100 * sum(value) FILTER (WHERE measure = 'rtt_over_52wk')
                                 / sum(value) FILTER (WHERE measure = 'rtt_waiting_list') FROM aggregate_returns
                                 WHERE measure IN ('rtt_over_52wk', 'rtt_waiting_list') AND {latest}""")
        return _one(con, f"""SELECT 1000 * sum(value) / (SELECT count(*) FROM reg) FROM aggregate_returns
                             WHERE measure = 'rtt_waiting_list' AND {latest}""")
    if m in ("rtt_admitted_within_18wk_percent", "rtt_non_admitted_within_18wk_percent"):
        measure = m.removesuffix("_percent")  # clock stops of the 12 months to the latest month, all providers
        return _one(con, f"""SELECT 100 * sum(numerator) / sum(denominator) FROM aggregate_returns
                             WHERE measure = '{measure}' AND period > (SELECT max(period) - INTERVAL 12 MONTH
                             FROM aggregate_returns WHERE measure = '{measure}')""")
    if m == "nhs_numbers_never_issued_percent":
        return _one(con, "SELECT 100 * avg((nhs_number BETWEEN '9000000000' AND '9999999999')::INT) FROM people")
    raise ValueError(f"synthetic.yaml: calibration: unknown measure {m!r}")


def _first_ltc_gap_sql(where: str) -> str:
    """SQL: mean age at first long-term condition, least deprived quintile minus most deprived (crude, as the
    seed's figure, whose method is not stated, is taken to be)."""
    conditions = ", ".join(f"'{c}'" for c in CONDITIONS)
    return f"""
    WITH first AS (
      SELECT e.nhs_number, min(e.event_date) AS d FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code
      WHERE l.list IN ({conditions}) GROUP BY e.nhs_number),
    ages AS (
      SELECT (year(f.d) * 12 + month(f.d) - p.birth_year * 12 - p.birth_month) / 12 AS age,
             (g.imd_decile + 1) // 2 AS quintile, g.la_code
      FROM first f JOIN people p USING (nhs_number) JOIN geography g USING (lsoa_code))
    SELECT avg(CASE WHEN quintile = 5 THEN age END) - avg(CASE WHEN quintile = 1 THEN age END) FROM ages {where}"""


def standardised_first_ltc_gap(out: Path, profile: Profile, *, end_date: dt.date | None = None,
                               fmt: str = "parquet", place: str | None = None) -> Estimate:
    """The age-standardised deprivation gap in age at first long-term condition of the files in ``out`` (ICS or
    one Place), with its 95% interval (see :func:`first_ltc_gap`)."""
    con = _connect(out, fmt)
    con.execute(REGISTERED.format(end=end_date or profile.section("synthetic", Synthetic).default_end_date))
    return first_ltc_gap(con, place)


def first_ltc_gap(con: duckdb.DuckDBPyConnection, place: str | None) -> Estimate:
    """Deprivation gap in age at first long-term condition, in years, with its 95% interval: the age-standardised
    mean age at the first record of any long-term condition among registered people in the least deprived IMD
    quintile minus that in the most deprived (positive: the most deprived are younger at their first condition),
    standardised by current age in ESP 2013 five-year bands (:func:`standardised_mean_gap`)."""
    conditions = ", ".join(f"'{c}'" for c in CONDITIONS)
    where = "" if place is None else f"AND r.la_code = '{place}'"
    rows = con.execute(f"""
        WITH first AS (
          SELECT e.nhs_number, min(e.event_date) AS d FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code
          WHERE l.list IN ({conditions}) GROUP BY e.nhs_number)
        SELECT (year(f.d) * 12 + month(f.d) - p.birth_year * 12 - p.birth_month) // 12 AS onset,
               r.age, r.imd_decile <= 2 AS most_deprived
        FROM first f JOIN reg r USING (nhs_number) JOIN people p USING (nhs_number)
        WHERE (r.imd_decile <= 2 OR r.imd_decile >= 9) {where}""").fetchnumpy()
    return standardised_mean_gap(rows["onset"].astype(float), esp2013_band(rows["age"].astype(np.int64)),
                                 rows["most_deprived"].astype(bool))


def _referral_scv(con: duckdb.DuckDBPyConnection, end: dt.date, planted: list[str]) -> float:
    """The systematic component of variation (McPherson et al., 1982) of the practices' GP referral rates in the
    12 months to the end, indirectly standardised for 10-year age band and sex against the ICS's rates, times 100:
    ``100 × mean(((O - E) / E)² - 1 / E)`` over practices, the Poisson part taken out. The planted high and low referrers
    (``referral_multipliers``) are left out: they are what the funnels should find beyond the ordinary spread."""
    left_out = ", ".join(f"'{c}'" for c in planted) or "''"
    return _one(con, f"""
        WITH pop AS (SELECT g.practice_code, p.sex, least(r.age // 10, 9) AS band, count(*) AS n
                     FROM reg r JOIN people p USING (nhs_number) JOIN registrations g USING (nhs_number)
                     WHERE g.end_date IS NULL GROUP BY ALL),
             refs AS (SELECT f.practice_code, p.sex, least((year(DATE '{end}') * 12 + month(DATE '{end}')
                             - p.birth_year * 12 - p.birth_month) // 120, 9) AS band, count(*) AS n
                      FROM referrals f JOIN people p USING (nhs_number)
                      WHERE f.referral_date > DATE '{end}' - INTERVAL 365 DAY GROUP BY ALL),
             rate AS (SELECT sex, band, coalesce(f.n, 0) / p.n AS r
                      FROM (SELECT sex, band, sum(n) AS n FROM pop GROUP BY ALL) p
                      LEFT JOIN (SELECT sex, band, sum(n) AS n FROM refs GROUP BY ALL) f USING (sex, band)),
             e AS (SELECT practice_code, sum(pop.n * rate.r) AS e FROM pop JOIN rate USING (sex, band) GROUP BY ALL),
             o AS (SELECT practice_code, sum(n) AS o FROM refs GROUP BY ALL)
        SELECT 100 * avg(((coalesce(o, 0) - e) / e) ^ 2 - 1 / e) FROM e LEFT JOIN o USING (practice_code)
        WHERE e > 0 AND practice_code NOT IN ({left_out})""")


def calibration(out: Path, profile: Profile, *, scale: float, end_date: dt.date | None = None,
                fmt: str = "parquet") -> list[CalibrationRow]:
    """Measure every calibration target of the profile in the files written to ``out``."""
    cfg = profile.section("synthetic", Synthetic)
    end = end_date or cfg.default_end_date
    con = _connect(out, fmt)
    con.execute(REGISTERED.format(end=end))
    cat = _with_prevalence(load_catalogue(profile), {t.measure for t in cfg.calibration})
    counts = _indicator_counts(out, fmt, cat, cfg, end)
    efi = _efi_band_shares(out, fmt, profile, end) if any(t.measure.startswith("efi_") for t in cfg.calibration) else {}
    conversion = _conversion(out, fmt, end) if any(t.measure in CONVERSION_FIGURES for t in cfg.calibration) else {}
    rows = []
    for t in cfg.calibration:
        place = None if t.geography == profile.ics.short_name else t.geography
        half = 0.0                    # half-width of the figure's 95% sampling interval
        if t.measure.startswith("efi_") and t.measure.endswith("_65_plus"):
            value = efi[t.measure.removeprefix("efi_").removesuffix("_65_plus")]
        elif t.measure == "referral_practice_scv":
            value = _referral_scv(con, end, sorted(cfg.referral_multipliers))
        elif t.measure in CONVERSION_FIGURES:
            value, se = conversion[t.measure]
            half = 1.96 * se
        elif t.measure in INDICATOR_FIGURES or t.measure.startswith("prevalence_"):
            value, se = _indicator_figure(counts, cat, t, end, place)
            half = 1.96 * se
        else:
            value = _figure(con, t, end, place)
        target = t.target * scale if t.count else t.target
        stated = t.tolerance * target if t.relative else t.tolerance * (scale if t.count else 1)
        tolerance = (stated ** 2 + half ** 2) ** 0.5
        rows.append(CalibrationRow(t.measure, t.geography, round(value, 3), round(target, 3), round(tolerance, 3),
                                   t.source, abs(value - target) <= tolerance, t.count, round(half, 3)))
    return rows


def plausibility_markdown(rows: list[CalibrationRow], scale: float) -> str:
    """The plausibility table: each figure at scale 1.0 (counts divided by the scale) beside its reference and the
    profile's tolerance (the pass also allows the figure's sampling interval at the scale measured)."""
    out = ["| figure | Placewise at scale 1.0 | seed or national reference | tolerance | pass |", "|---|---|---|---|---|"]
    for r in rows:
        k = 1 / scale if r.count else 1.0
        stated = max(r.tolerance ** 2 - r.sampling ** 2, 0.0) ** 0.5
        out.append(f"| {r.measure} ({r.geography}) | {r.value * k:,.1f} | {r.target * k:,.1f}: {r.source} | "
                   f"± {stated * k:,.1f} | {'yes' if r.passed else 'NO'} |")
    return "\n".join(out) + "\n"


def write_calibration(rows: list[CalibrationRow], path: Path) -> None:
    """Write the report as CSV."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(CalibrationRow.__dataclass_fields__))
        w.writeheader()
        w.writerows(asdict(r) for r in rows)


def read_calibration(path: Path) -> list[CalibrationRow]:
    """A report written by :func:`write_calibration` (``calibration.csv`` of a delivery), read back."""
    with path.open(encoding="utf-8", newline="") as f:
        return [CalibrationRow(measure=r["measure"], geography=r["geography"], value=float(r["value"]),
                               target=float(r["target"]), tolerance=float(r["tolerance"]), source=r["source"],
                               passed=r["passed"] == "True", count=r["count"] == "True",
                               sampling=float(r["sampling"])) for r in csv.DictReader(f)]
