"""The calibration report: figures computed from the generated files, beside their targets.

Every figure is measured from the written tables, not read from the generator's parameters, so a
passing report means the data themselves look like BLMK. Figures that are catalogue indicators
(:data:`INDICATOR_FIGURES`) are computed by the catalogue's own definitions through
:func:`placewise.measure.compute`, on the files read as a warehouse; the rest (demographic shares,
register prevalence, LD health checks over the last 12 months, the seed's gap in age at first
long-term condition, activity volumes) are SQL over the files; the eFI bands of people aged 65 and over
are worked out by the engine's own eFI (:mod:`placewise.derive.frailty`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pyarrow as pa

from placewise.canonical import PERSON_KEY, SQL_TYPES, TABLES, Table
from placewise.codelists import codes, names
from placewise.derive import frailty
from placewise.derive.people import person_attributes, population, registrations
from placewise.derive.records import add_months, financial_year_start
from placewise.measure import ReportingRange, compute, load_catalogue
from placewise.measure.catalogue import Catalogue, Events
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


REGISTERED = """
CREATE TEMP TABLE reg AS
SELECT p.nhs_number, g.la_code, g.imd_decile, p.ethnicity,
       floor((year(DATE '{end}') * 12 + month(DATE '{end}') - p.birth_year * 12 - p.birth_month) / 12) AS age
FROM people p JOIN geography g USING (lsoa_code)
WHERE p.nhs_number IN (SELECT nhs_number FROM registrations WHERE end_date IS NULL)
"""
ETHNIC = {"white": "'A','B','C'", "asian": "'H','J','K','L','R'", "black": "'M','N','P'", "white_non_british": "'B','C'"}


def _source(t: Table, out: Path, fmt: str) -> str:
    """SQL reading one generated file."""
    path = out / f"{t.name}.{fmt}"
    if fmt == "parquet":
        return f"read_parquet('{path}')"
    cols = ", ".join(f"'{c.name}': '{SQL_TYPES[c.dtype]}'" for c in t.columns).replace("DOUBLE PRECISION", "DOUBLE")
    return f"read_csv('{path}', header=true, columns={{{cols}}})"


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
    "hypertension_treated_to_target": ("hypertension_treated_to_target", 100),
    "dementia_diagnosis_rate": ("dementia_diagnosis_rate", 100),
    "ae_4hr_type1": ("ae_4hr_type1", 100),
    "ae_4hr_all": ("ae_4hr_all", 100),
    "emergency_admissions_per_1000": ("emergency_admissions_dsr", 1000),
    "falls_admissions_65_plus_per_100000": ("falls_admissions_65_dsr", 100000),
    "emergency_readmissions_30d_percent": ("readmissions_30_day", 100),
    "talking_therapies_entering_per_year": ("talking_therapies_access", None),
}
"""Calibration figure → (catalogue indicator, multiplier of numerator over denominator, or None for the
numerator itself): these are computed by the catalogue's own definitions; a DSR gives its crude rate."""


def _warehouse(out: Path, fmt: str) -> ibis.BaseBackend:
    """The generated files as a warehouse the catalogue runs on: the synthetic NHS number stands as the person key."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET enable_progress_bar = false")
    for t in TABLES:
        select = ", ".join(f'"{c.name}" AS {PERSON_KEY}' if c.name == "nhs_number" else f'"{c.name}"' for c in t.columns)
        con.raw_sql(f"CREATE VIEW {t.name} AS SELECT {select} FROM {_source(t, out, fmt)}")
    return con


def _indicator_counts(out: Path, fmt: str, profile: Profile, cfg: Synthetic, end: dt.date) -> pd.DataFrame:
    """The catalogue's counts, for the indicators calibration uses, over the year to ``end`` (and its financial year)."""
    wanted = sorted({INDICATOR_FIGURES[t.measure][0] for t in cfg.calibration if t.measure in INDICATOR_FIGURES})
    first = financial_year_start(add_months(end, -11))
    rng = ReportingRange(first, end)
    return compute(_warehouse(out, fmt), load_catalogue(profile), periods_range=rng, indicators=wanted).to_pandas()


EFI_BANDS = ("fit", "mild", "moderate", "severe")
"""Calibration measures ``efi_<band>_65_plus``: the share of registered people aged 65+ in each eFI band."""


def _efi_band_shares(out: Path, fmt: str, profile: Profile, end: dt.date) -> dict[str, float]:
    """Percentage of registered people aged 65 and over in each eFI band at ``end``, by the engine's eFI."""
    con = _warehouse(out, fmt)
    f = load_phm(profile).frailty
    attrs = con.create_table("calibration_people", person_attributes(con), temp=True)
    pop = population(registrations(con, attrs), attrs, [end])
    efi = frailty.frailty_index(frailty.deficits(con, attrs, f, end), pop, f)
    counts = efi.group_by("efi_band").aggregate(n=efi.count()).to_pandas().set_index("efi_band").n
    return {band: 100 * float(counts.get(band, 0)) / float(counts.sum()) for band in EFI_BANDS}


def _indicator_figure(counts: pd.DataFrame, cat: Catalogue, t: CalibrationTarget, end: dt.date,
                      place: str | None) -> float:
    """An indicator's ICS or Place value: over the twelve months to ``end`` for monthly or quarterly event counts
    (the last twelve months with a figure for a followed-up count), else its latest period."""
    ind_id, per = INDICATOR_FIGURES[t.measure]
    ind = cat.indicator(ind_id)
    kind = "ics" if place is None else "place"
    c = counts[(counts.indicator_id == ind_id) & (counts.geography_type == kind) & (counts.breakdown == "none")]
    if place:
        c = c[c.geography_code == place]
    events = isinstance(ind.numerator, Events) or isinstance(ind.denominator, Events)
    if ind.frequency in ("monthly", "quarterly") and events:
        last = c.period_end.max()
        c = c[c.period_end > pd.Timestamp(add_months(last, -11)).date()]
    else:
        c = c[c.period_end == c.period_end.max()]
    if per is None:
        return float(c.numerator.sum())
    den = c.denominator.sum()
    return float("nan") if den == 0 else float(per * c.numerator.sum() / den)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """The single number a query returns (NaN when empty)."""
    value = con.execute(sql).fetchall()[0][0]
    return float("nan") if value is None else float(value)


def _register(cond: str, end: dt.date) -> str:
    """SQL: people coded with the condition by the end date."""
    return (f"SELECT DISTINCT e.nhs_number FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code "
            f"AND l.list = '{cond}' WHERE e.event_date <= DATE '{end}'")


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
    if m.startswith("prevalence_"):
        cond = m.removeprefix("prevalence_")
        return _one(con, f"SELECT 100 * avg((nhs_number IN ({_register(cond, end)}))::INT) FROM reg {where}")
    if m == "ld_health_check_rate":
        return _one(con, f"""SELECT 100 * avg((nhs_number IN (SELECT e.nhs_number FROM clinical_events e JOIN codelist l
                 ON l.code = e.snomed_code AND l.list = 'ld_health_check' WHERE e.event_date > {last_year}))::INT)
                 FROM reg WHERE age >= 14 AND nhs_number IN ({_register('learning_disability', end)})""")
    if m == "first_ltc_age_gap":
        return _one(con, _first_ltc_gap_sql(where))
    if m == "ae_type1_share":
        return _one(con, f"SELECT 100 * avg((department_type = 1)::INT) FROM ae_attendances WHERE arrival > {last_year}")
    if m == "gp_referrals_per_month":
        return _one(con, f"SELECT count(*) / 12 FROM referrals WHERE referral_date > {last_year}")
    if m == "referral_largest_specialty_share":
        return _one(con, "SELECT 100 * max(n) / sum(n) FROM (SELECT count(*) n FROM referrals GROUP BY treatment_function)")
    if m == "nhs_numbers_never_issued_percent":
        return _one(con, "SELECT 100 * avg((nhs_number BETWEEN '9000000000' AND '9999999999')::INT) FROM people")
    raise ValueError(f"synthetic.yaml: calibration: unknown measure {m!r}")


def _first_ltc_gap_sql(where: str) -> str:
    """SQL: mean age at first long-term condition, least deprived quintile minus most deprived."""
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


def calibration(out: Path, profile: Profile, *, scale: float, end_date: dt.date | None = None,
                fmt: str = "parquet") -> list[CalibrationRow]:
    """Measure every calibration target of the profile in the files written to ``out``."""
    cfg = profile.section("synthetic", Synthetic)
    end = end_date or cfg.default_end_date
    con = _connect(out, fmt)
    con.execute(REGISTERED.format(end=end))
    cat = load_catalogue(profile)
    counts = _indicator_counts(out, fmt, profile, cfg, end)
    efi = _efi_band_shares(out, fmt, profile, end) if any(t.measure.startswith("efi_") for t in cfg.calibration) else {}
    rows = []
    for t in cfg.calibration:
        place = None if t.geography == profile.ics.short_name else t.geography
        if t.measure.startswith("efi_") and t.measure.endswith("_65_plus"):
            value = efi[t.measure.removeprefix("efi_").removesuffix("_65_plus")]
        else:
            value = (_indicator_figure(counts, cat, t, end, place) if t.measure in INDICATOR_FIGURES
                     else _figure(con, t, end, place))
        target = t.target * scale if t.count else t.target
        tolerance = t.tolerance * target if t.relative else t.tolerance * (scale if t.count else 1)
        rows.append(CalibrationRow(t.measure, t.geography, round(value, 3), round(target, 3), round(tolerance, 3),
                                   t.source, abs(value - target) <= tolerance, t.count))
    return rows


def plausibility_markdown(rows: list[CalibrationRow], scale: float) -> str:
    """The plausibility table: each figure at scale 1.0 (counts divided by the scale) beside its reference."""
    out = ["| figure | Placewise at scale 1.0 | seed or national reference | tolerance | pass |", "|---|---|---|---|---|"]
    for r in rows:
        k = 1 / scale if r.count else 1.0
        out.append(f"| {r.measure} ({r.geography}) | {r.value * k:,.1f} | {r.target * k:,.1f}: {r.source} | "
                   f"± {r.tolerance * k:,.1f} | {'yes' if r.passed else 'NO'} |")
    return "\n".join(out) + "\n"


def write_calibration(rows: list[CalibrationRow], path: Path) -> None:
    """Write the report as CSV."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(CalibrationRow.__dataclass_fields__))
        w.writeheader()
        w.writerows(asdict(r) for r in rows)
