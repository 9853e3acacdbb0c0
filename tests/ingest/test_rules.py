"""One test per kind of bad input: the spoiled row is quarantined with the right field and reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from batch_builder import NHS, make_batch, reserved_range_numbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import load, query, quarantine

Batch = dict[str, pd.DataFrame]
OUTSIDER = reserved_range_numbers(1, start=999_900_000)[0]


def setter(table: str, row: int, column: str, value: object) -> Callable[[Batch], None]:
    """Spoil one value: ``row`` is the 1-based data row."""
    def spoil(b: Batch) -> None:
        b[table][column] = b[table][column].astype(object)
        b[table].at[row - 1, column] = value
    return spoil


def both(*spoils: Callable[[Batch], None]) -> Callable[[Batch], None]:
    """Apply several spoils to one batch."""
    def spoil(b: Batch) -> None:
        for one in spoils:
            one(b)
    return spoil


CASES = [
    # (id, spoil, table, row, field, reason fragment)
    ("nhs-modulus-11", setter("clinical_events", 3, "nhs_number", "9990001009"), "clinical_events", 3,
     "nhs_number", "not a valid NHS number"),
    ("nhs-length", setter("medications", 1, "nhs_number", "99900010"), "medications", 1, "nhs_number",
     "not a valid NHS number"),
    ("snomed-check-digit", setter("clinical_events", 1, "snomed_code", "38341004"), "clinical_events", 1,
     "snomed_code", "not a SNOMED CT concept id"),
    ("snomed-not-digits", setter("clinical_events", 2, "snomed_code", "XaBc1"), "clinical_events", 2,
     "snomed_code", "not a SNOMED CT concept id"),
    ("dmd-check-digit", setter("medications", 2, "dmd_code", "39113611000001103"), "medications", 2, "dmd_code",
     "not a dm+d code"),
    ("icd10-with-dot", setter("inpatient_spells", 1, "primary_diagnosis", "I50.0"), "inpatient_spells", 1,
     "primary_diagnosis", "not an ICD-10 code"),
    ("icd10-on-deaths", setter("deaths", 1, "underlying_cause", "heart failure"), "deaths", 1, "underlying_cause",
     "not an ICD-10 code"),
    ("ods-trust", setter("ae_attendances", 2, "provider_code", "RC9X"), "ae_attendances", 2, "provider_code",
     "trust code is three"),
    ("ods-site", setter("inpatient_spells", 2, "site_code", "RC97"), "inpatient_spells", 2, "site_code",
     "site code is five"),
    ("ods-pcn", setter("practices", 2, "pcn_code", "X12346"), "practices", 2, "pcn_code", "PCN code is U"),
    ("ons-code", setter("practices", 1, "la_code", "E0600005"), "practices", 1, "la_code", "not an ONS area code"),
    ("required-name", setter("geography", 1, "lsoa_name", None), "geography", 1, "lsoa_name",
     "missing required value"),
    ("ethnicity", setter("people", 5, "ethnicity", "X"), "people", 5, "ethnicity", "not an NHS ethnic category"),
    ("allowed-sex", setter("people", 5, "sex", "F"), "people", 5, "sex", "not one of the allowed values"),
    ("allowed-disposal", setter("ae_attendances", 2, "disposal", "home"), "ae_attendances", 2, "disposal",
     "not one of the allowed values"),
    ("maximum", setter("geography", 2, "imd_decile", 11), "geography", 2, "imd_decile", "above the maximum 10"),
    ("minimum", setter("medications", 1, "quantity", -5.0), "medications", 1, "quantity", "below the minimum 0"),
    ("department-type", setter("ae_attendances", 3, "department_type", 4), "ae_attendances", 3, "department_type",
     "above the maximum 3"),
    ("required", setter("outpatient_appointments", 1, "attendance", None), "outpatient_appointments", 1,
     "attendance", "missing required value"),
    ("discharge-before-admission", setter("inpatient_spells", 1, "discharge_date", date(2024, 1, 4)),
     "inpatient_spells", 1, "discharge_date", "discharge_date is before admission_date"),
    ("departure-before-arrival", setter("ae_attendances", 1, "departure", datetime(2024, 1, 5, 9, 0)),
     "ae_attendances", 1, "departure", "departure is before arrival"),
    ("end-before-start", setter("registrations", 3, "end_date", date(2009, 12, 31)), "registrations", 3,
     "end_date", "end_date is before start_date"),
    ("future-date", setter("clinical_events", 4, "event_date", date(2025, 4, 1)), "clinical_events", 4,
     "event_date", "in the future (after 2025-03-31)"),
    ("future-timestamp", setter("ae_attendances", 3, "departure", datetime(2025, 4, 1, 0, 30)), "ae_attendances", 3,
     "departure", "in the future"),
    ("future-death", setter("people", 6, "date_of_death", date(2026, 1, 1)), "people", 6, "date_of_death",
     "in the future"),
    ("after-death", setter("clinical_events", 5, "event_date", date(2024, 6, 2)), "clinical_events", 5,
     "event_date", "after the person's date of death"),
    ("admitted-after-death", both(setter("inpatient_spells", 3, "admission_date", date(2024, 6, 2)),
                                  setter("inpatient_spells", 3, "discharge_date", date(2024, 6, 3))),
     "inpatient_spells", 3, "admission_date", "after the person's date of death"),
    ("unknown-person", setter("gp_appointments", 2, "nhs_number", OUTSIDER), "gp_appointments", 2, "nhs_number",
     "unknown person"),
    ("unknown-practice", setter("referrals", 1, "practice_code", "E81999"), "referrals", 1, "practice_code",
     "unknown practice_code: not in practices"),
    ("unknown-lsoa", setter("people", 5, "lsoa_code", "E01999999"), "people", 5, "lsoa_code",
     "unknown lsoa_code: not in geography"),
    ("duplicate-key", setter("ae_attendances", 3, "attendance_id", "AE1"), "ae_attendances", 3,
     "attendance_id", "duplicate key (attendance_id): same as data row 1"),
    ("duplicate-record-id", setter("clinical_events", 2, "event_id", "EV1"), "clinical_events", 2,
     "event_id", "duplicate key (event_id): same as data row 1"),
    ("duplicate-compound-key", setter("inpatient_diagnoses", 2, "position", 2), "inpatient_diagnoses", 2,
     "spell_id, position", "duplicate key (spell_id, position): same as data row 1"),
    ("unknown-spell", setter("inpatient_diagnoses", 3, "spell_id", "S9"), "inpatient_diagnoses", 3, "spell_id",
     "unknown spell_id: not in inpatient_spells"),
    ("opcs4-with-dot", setter("inpatient_procedures", 1, "opcs4_code", "W46.1"), "inpatient_procedures", 1,
     "opcs4_code", "not an OPCS-4 code"),
    ("not-an-ecds-arrival-mode", setter("ae_attendances", 1, "arrival_mode", "22298006"), "ae_attendances", 1,
     "arrival_mode", "not one of the allowed values"),
]


@pytest.mark.parametrize(("spoil", "table", "row", "field", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_rule_quarantines_exactly_the_spoiled_row(tmp_path: Path, batch: Batch, spoil: Callable[[Batch], None],
                                                       table: str, row: int, field: str, reason: str) -> None:
    """The spoiled row, and only it, leaves its table for the quarantine; the batch exits 3."""
    spoil(batch)
    code, output = load(tmp_path, batch)
    assert code == 3, output
    db = tmp_path / "wh.duckdb"
    lines = quarantine(db, table)
    assert {(r, f) for _, r, f, _, _ in lines} == {(row, field)}, lines
    assert any(reason in why for *_, why, _ in lines), lines
    loaded = query(db, f'SELECT count(*) FROM "{table}"')[0][0]
    assert loaded == len(batch[table]) - 1


def test_nhs_number_is_masked_in_the_quarantine(tmp_path: Path, batch: Batch) -> None:
    """A bad NHS number is stored masked (last two characters only), never raw."""
    setter("clinical_events", 3, "nhs_number", "9990001009")(batch)
    load(tmp_path, batch)
    (line,) = quarantine(tmp_path / "wh.duckdb", "clinical_events")
    assert line[4] == "********09"


def test_several_problems_in_one_row_count_once(tmp_path: Path, batch: Batch) -> None:
    """A row with three problems gives three quarantine lines but one quarantined row."""
    for column, value in (("practice_code", "E8100"), ("mode", "carrier_pigeon"), ("appointment_date", None)):
        setter("gp_appointments", 1, column, value)(batch)
    code, _ = load(tmp_path, batch)
    db = tmp_path / "wh.duckdb"
    reasons = {(f, r) for _, _, f, r, _ in quarantine(db, "gp_appointments")}
    assert {f for f, _ in reasons} == {"practice_code", "mode", "appointment_date"}
    assert len(reasons) == 4  # the bad practice code is also an unknown practice
    assert query(db, "SELECT rows_quarantined FROM load_files WHERE table_name = 'gp_appointments'") == [(1,)]
    assert query(db, "SELECT rows_quarantined FROM load_log") == [(1,)]
    assert code == 3


def test_a_quarantined_person_takes_their_events_with_them(tmp_path: Path, batch: Batch) -> None:
    """Events of a person whose people row was refused are quarantined as unknown person, not loaded orphaned."""
    setter("people", 4, "sex", "M")(batch)
    load(tmp_path, batch)
    db = tmp_path / "wh.duckdb"
    assert {(r, f) for _, r, f, _, _ in quarantine(db, "ae_attendances")} == {(2, "nhs_number")}
    assert query(db, "SELECT count(*) FROM inpatient_spells") == [(2,)]


def test_csv_values_that_do_not_convert_are_quarantined(tmp_path: Path, batch: Batch) -> None:
    """In CSV, a bad date, a non-whole number and a bad true/false are row problems, not a refused batch."""
    setter("clinical_events", 2, "event_date", "2023-13-45")(batch)
    setter("people", 5, "birth_year", "19x0")(batch)
    setter("outpatient_appointments", 2, "first_attendance", "perhaps")(batch)
    setter("medications", 2, "quantity", "lots")(batch)
    code, output = load(tmp_path, batch, fmt="csv")
    assert code == 3, output
    lines = {(t, r, f, why, v) for t, r, f, why, v in quarantine(tmp_path / "wh.duckdb")}
    assert ("clinical_events", 2, "event_date", "not a valid date (YYYY-MM-DD)", "2023-13-45") in lines
    assert ("people", 5, "birth_year", "not a valid whole number", "19x0") in lines
    assert ("outpatient_appointments", 2, "first_attendance", "not a valid true/false value", "perhaps") in lines
    assert ("medications", 2, "quantity", "not a valid number", "lots") in lines


def test_csv_decimal_in_an_integer_column_is_not_rounded(tmp_path: Path, batch: Batch) -> None:
    """'1950.5' in an integer column is refused for that row rather than silently rounded."""
    setter("people", 1, "birth_year", "1950.5")(batch)
    load(tmp_path, batch, fmt="csv")
    assert ("people", 1, "birth_year", "not a valid whole number", "1950.5") in quarantine(tmp_path / "wh.duckdb")


def test_lsoa_and_practice_formats(tmp_path: Path, batch: Batch) -> None:
    """A badly formed LSOA and practice code are each named (alongside being unknown)."""
    setter("people", 5, "lsoa_code", "E02000001")(batch)
    setter("registrations", 1, "practice_code", "81001")(batch)
    load(tmp_path, batch)
    reasons = {(t, f, why) for t, _, f, why, _ in quarantine(tmp_path / "wh.duckdb")}
    assert ("people", "lsoa_code", "not an LSOA 2021 code (E01 and six digits)") in reasons
    assert ("registrations", "practice_code",
            "not a valid ODS code: a GP practice code is a letter and five digits") in reasons


def test_person_known_from_the_warehouse(tmp_path: Path, batch: Batch) -> None:
    """Events delivered later for people loaded earlier are accepted; a later death date is enforced."""
    first = {k: batch[k] for k in ("geography", "practices", "people")}
    assert load(tmp_path, first, name="wh")[0] == 0
    events = batch["clinical_events"].copy()
    events.loc[len(events)] = ["EV6", NHS[5], date(2024, 8, 1), "22298006", None, None]
    folder_tables = {"clinical_events": events}
    code, output = load(tmp_path, folder_tables, name="wh")
    assert code == 3, output
    db = tmp_path / "wh.duckdb"
    assert quarantine(db, "clinical_events") == {
        ("clinical_events", 6, "event_date", "after the person's date of death", "2024-08-01")}
    assert query(db, "SELECT count(*) FROM clinical_events") == [(5,)]


INDEPENDENT = [c for c in CASES
               if c[2] not in ("people", "geography", "practices", "inpatient_spells") and "duplicate" not in c[0]]
"""Spoils that neither cascade to other tables (people, geography, practices; spells to their diagnoses and
procedures) nor interact through keys."""


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sets(st.sampled_from([c[0] for c in INDEPENDENT]), min_size=1, max_size=6))
def test_any_mix_of_spoils_quarantines_exactly_the_spoiled_rows(tmp_path_factory: pytest.TempPathFactory,
                                                                chosen: set[str]) -> None:
    """Whatever mix of problems a batch has, exactly the spoiled rows are quarantined, each counted once."""
    batch = make_batch()
    expected: dict[str, set[int]] = {}
    for case_id, spoil, table, row, _, _ in INDEPENDENT:
        if case_id in chosen:
            spoil(batch)
            expected.setdefault(table, set()).add(row)
    tmp = tmp_path_factory.mktemp("mix")
    code, output = load(tmp, batch)
    assert code == 3, output
    got: dict[str, set[int]] = {}
    for table, row, *_ in quarantine(tmp / "wh.duckdb"):
        got.setdefault(table, set()).add(row)
    assert got == expected
    counted = dict(query(tmp / "wh.duckdb", "SELECT table_name, rows_quarantined FROM load_files "
                                           "WHERE rows_quarantined > 0"))
    assert counted == {t: len(rows) for t, rows in expected.items()}
