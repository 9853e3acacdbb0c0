"""The calibration report: figures computed from the generated files, beside their targets.

Every figure is measured from the written tables with SQL (DuckDB), not read from the
generator's parameters, so a passing report means the data themselves look like BLMK.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from placewise.canonical import SQL_TYPES, TABLES
from placewise.codelists import codes, names
from placewise.profile import Profile
from placewise.sources.synth.config import CONDITIONS, Synthetic, Target


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


def _connect(out: Path, fmt: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per generated file and the codelists as a table."""
    con = duckdb.connect()
    for t in TABLES:
        path = out / f"{t.name}.{fmt}"
        if fmt == "parquet":
            src = f"read_parquet('{path}')"
        else:
            cols = ", ".join(f"'{c.name}': '{SQL_TYPES[c.dtype]}'" for c in t.columns).replace("DOUBLE PRECISION", "DOUBLE")
            src = f"read_csv('{path}', header=true, columns={{{cols}}})"
        con.execute(f"CREATE VIEW {t.name} AS SELECT * FROM {src}")
    lists = [(n, c) for n in names() for c in codes(n)]
    con.register("codelist_arrow", pa.table({"list": [n for n, _ in lists], "code": [c for _, c in lists]}))
    con.execute("CREATE TEMP TABLE codelist AS SELECT * FROM codelist_arrow")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    """The single number a query returns (NaN when empty)."""
    value = con.execute(sql).fetchone()[0]
    return float("nan") if value is None else float(value)


def _register(cond: str, end: dt.date) -> str:
    """SQL: people coded with the condition by the end date."""
    return (f"SELECT DISTINCT e.nhs_number FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code "
            f"AND l.list = '{cond}' WHERE e.event_date <= DATE '{end}'")


def _figure(con: duckdb.DuckDBPyConnection, t: Target, cfg: Synthetic, end: dt.date) -> float:
    """Compute one calibration figure from the generated tables."""
    where = "" if t.geography == "BLMK" else f"WHERE la_code = '{t.geography}'"
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
    if m == "dementia_diagnosis_rate":
        e = cfg.dementia_expected_rates
        rate = " ".join(f"WHEN age >= {b} THEN {r}" for b, r in reversed(list(zip(e.bands, e.rates))))
        return _one(con, f"""SELECT 100 * sum((age >= {e.bands[0]} AND nhs_number IN ({_register('dementia', end)}))::INT)
                             / sum(CASE {rate} ELSE 0 END) FROM reg {where}""")
    if m == "hypertension_treated_to_target":
        return _one(con, _treated_to_target_sql(end, where))
    if m == "ld_health_check_rate":
        return _one(con, f"""SELECT 100 * avg((nhs_number IN (SELECT e.nhs_number FROM clinical_events e JOIN codelist l
                 ON l.code = e.snomed_code AND l.list = 'ld_health_check' WHERE e.event_date > {last_year}))::INT)
                 FROM reg WHERE age >= 14 AND nhs_number IN ({_register('learning_disability', end)})""")
    if m == "first_ltc_age_gap":
        return _one(con, _first_ltc_gap_sql(where))
    if m in ("ae_4hr_type1", "ae_4hr_all"):
        typ = "AND department_type = 1" if m == "ae_4hr_type1" else ""
        return _one(con, f"""SELECT 100 * avg((departure - arrival <= INTERVAL 4 HOUR)::INT) FROM ae_attendances
                             WHERE arrival > {last_year} {typ}""")
    if m == "ae_type1_share":
        return _one(con, f"SELECT 100 * avg((department_type = 1)::INT) FROM ae_attendances WHERE arrival > {last_year}")
    if m == "emergency_admissions_per_1000":
        return _one(con, f"""SELECT 1000 * (SELECT count(*) FROM inpatient_spells WHERE admission_method = 'emergency'
                             AND admission_date > {last_year}) / (SELECT count(*) FROM reg)""")
    if m == "falls_admissions_65_plus_per_100000":
        return _one(con, f"""SELECT 100000 * (SELECT count(*) FROM inpatient_spells s JOIN people p USING (nhs_number)
                 WHERE s.admission_method = 'emergency' AND s.admission_date > {last_year}
                 AND year(s.admission_date) - p.birth_year >= 65
                 AND s.primary_diagnosis >= 'S00' AND s.primary_diagnosis < 'T99'
                 AND s.spell_id IN (SELECT spell_id FROM inpatient_diagnoses
                                    WHERE icd10_code >= 'W00' AND icd10_code < 'W20'))
                 / (SELECT count(*) FROM reg WHERE age >= 65)""")
    if m == "gp_referrals_per_month":
        return _one(con, f"SELECT count(*) / 12 FROM referrals WHERE referral_date > {last_year}")
    if m == "talking_therapies_entering_per_year":
        return _one(con, _talking_therapies_sql(end))
    if m == "emergency_readmissions_30d_percent":
        return _one(con, _readmissions_sql(end))
    if m == "referral_largest_specialty_share":
        return _one(con, "SELECT 100 * max(n) / sum(n) FROM (SELECT count(*) n FROM referrals GROUP BY treatment_function)")
    if m == "nhs_numbers_never_issued_percent":
        return _one(con, "SELECT 100 * avg((nhs_number BETWEEN '9000000000' AND '9999999999')::INT) FROM people")
    raise ValueError(f"synthetic.yaml: calibration: unknown measure {m!r}")


def _talking_therapies_sql(end: dt.date) -> str:
    """SQL: adults entering NHS Talking Therapies treatment in the 12 months to ``end`` (an attended contact with
    no attended contact in the 180 days before it, as the catalogue's indicator counts them)."""
    return f"""
    WITH a AS (SELECT m.nhs_number, m.contact_date AS d, p.birth_year,
                      lag(m.contact_date) OVER (PARTITION BY m.nhs_number ORDER BY m.contact_date) AS prev
               FROM mental_health_contacts m JOIN people p USING (nhs_number)
               WHERE m.service = 'talking_therapies' AND m.attended)
    SELECT count(*) FROM a WHERE d > DATE '{end}' - INTERVAL 365 DAY AND d <= DATE '{end}'
      AND year(d) - birth_year >= 18 AND (prev IS NULL OR d - prev > 180)"""


def _readmissions_sql(end: dt.date) -> str:
    """SQL: share of discharges alive (not maternity) in the 12 months ending 30 days before ``end`` followed by an
    emergency admission 0 to 29 days after the discharge date (NHS Digital method, crude)."""
    return f"""
    WITH d AS (SELECT nhs_number, spell_id, discharge_date FROM inpatient_spells
               WHERE discharge_method IN ('1', '2', '3', '9') AND admission_method <> 'maternity'
                 AND discharge_date > DATE '{end}' - INTERVAL 395 DAY AND discharge_date <= DATE '{end}' - INTERVAL 30 DAY),
         e AS (SELECT nhs_number, spell_id, admission_date FROM inpatient_spells WHERE admission_method = 'emergency')
    SELECT 100 * avg((EXISTS (SELECT 1 FROM e WHERE e.nhs_number = d.nhs_number AND e.spell_id <> d.spell_id
                              AND e.admission_date BETWEEN d.discharge_date AND d.discharge_date + 29))::INT) FROM d"""


def _treated_to_target_sql(end: dt.date, where: str) -> str:
    """SQL: share of the hypertension register whose latest reading in 12 months is at or below the QOF target
    (140/90, 150/90 at 80 and over, inclusive; the lowest systolic and diastolic of that day)."""
    return f"""
    WITH bp AS (
      SELECT e.nhs_number, e.event_date, l.list, e.value FROM clinical_events e JOIN codelist l ON l.code = e.snomed_code
      WHERE l.list IN ('systolic_bp', 'diastolic_bp') AND e.event_date > DATE '{end}' - INTERVAL 365 DAY
        AND e.event_date <= DATE '{end}'),
    latest AS (SELECT nhs_number, max(event_date) AS d FROM bp WHERE list = 'systolic_bp' GROUP BY nhs_number),
    last AS (
      SELECT l.nhs_number, min(CASE WHEN b.list = 'systolic_bp' THEN b.value END) AS sys,
             min(CASE WHEN b.list = 'diastolic_bp' THEN b.value END) AS dia
      FROM latest l JOIN bp b ON b.nhs_number = l.nhs_number AND b.event_date = l.d GROUP BY l.nhs_number)
    SELECT 100 * avg(CASE WHEN last.sys <= CASE WHEN r.age >= 80 THEN 150 ELSE 140 END AND last.dia <= 90 THEN 1 ELSE 0 END)
    FROM reg r LEFT JOIN last USING (nhs_number)
    WHERE r.nhs_number IN ({_register('hypertension', end)}) {where.replace('WHERE', 'AND')}"""


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
    rows = []
    for t in cfg.calibration:
        value = _figure(con, t, cfg, end)
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
