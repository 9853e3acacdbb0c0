"""A small hand-made delivery: every canonical table, valid throughout, for tests to spoil one rule at a time."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from placewise.canonical import TABLE_BY_NAME

KEY = "test-pseudonymisation-key-0123456789"
AS_OF = date(2025, 3, 31)


def with_check_digit(nine: str) -> str | None:
    """NHS number from nine digits by the published Modulus 11 rule (None where the check would be 10)."""
    total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 10:
        return None
    return nine + str(0 if check == 11 else check)


def reserved_range_numbers(count: int, start: int = 999_000_100) -> list[str]:
    """``count`` valid NHS numbers from the range reserved for testing (999 000 0000 – 999 999 9999)."""
    out: list[str] = []
    n = start
    while len(out) < count:
        number = with_check_digit(str(n))
        if number:
            out.append(number)
        n += 1
    return out


NHS = reserved_range_numbers(6)
"""NHS[5] died on 2024-06-01."""


def make_batch() -> dict[str, pd.DataFrame]:
    """One valid delivery as DataFrames keyed by canonical table name."""
    d = date
    ts = datetime
    return {
        "geography": pd.DataFrame({
            "lsoa_code": ["E01000001", "E01000002", "E01000003"],
            "lsoa_name": ["Bedford 001A", "Bedford 001B", "Luton 001A"],
            "ward_code": ["E05000001", "E05000001", "E05000002"],
            "ward_name": ["Harpur", "Harpur", "Biscot"],
            "la_code": ["E06000055", "E06000055", "E06000032"],
            "la_name": ["Bedford", "Bedford", "Luton"],
            "imd_decile": [7, 3, 1],
        }),
        "practices": pd.DataFrame({
            "practice_code": ["E81001", "E81002"],
            "practice_name": ["Harpur Surgery", "Biscot Medical Centre"],
            "pcn_code": ["U12345", "U12346"],
            "pcn_name": ["Bedford Town PCN", "Luton North PCN"],
            "la_code": ["E06000055", "E06000032"],
            "list_size": [8000, 12000],
        }),
        "people": pd.DataFrame({
            "nhs_number": NHS,
            "birth_year": [1950, 1962, 1985, 2001, 2015, 1938],
            "birth_month": [1, 6, 12, 3, 9, 11],
            "sex": ["female", "male", "female", "male", "female", "male"],
            "ethnicity": ["A", "H", "J", "N", "99", "A"],
            "lsoa_code": ["E01000001", "E01000002", "E01000003", "E01000003", "E01000001", "E01000002"],
            "date_of_death": [None, None, None, None, None, d(2024, 6, 1)],
        }),
        "registrations": pd.DataFrame({
            "nhs_number": NHS,
            "practice_code": ["E81001", "E81001", "E81002", "E81002", "E81001", "E81001"],
            "start_date": [d(2000, 1, 1), d(2005, 5, 5), d(2010, 1, 1), d(2001, 3, 1), d(2015, 9, 1), d(1990, 1, 1)],
            "end_date": [None, None, d(2020, 1, 1), None, None, d(2024, 6, 1)],
        }),
        "clinical_events": pd.DataFrame({
            "event_id": ["EV1", "EV2", "EV3", "EV4", "EV5"],
            "nhs_number": [NHS[0], NHS[0], NHS[1], NHS[2], NHS[5]],
            "event_date": [d(2023, 1, 10), d(2023, 1, 10), d(2022, 7, 1), d(2024, 2, 2), d(2024, 5, 1)],
            "snomed_code": ["38341003", "271649006", "73211009", "195967001", "22298006"],
            "value": [None, 142.0, None, None, None],
            "unit": [None, "mmHg", None, None, None],
        }),
        "medications": pd.DataFrame({
            "issue_id": ["MD1", "MD2"],
            "nhs_number": [NHS[0], NHS[1]],
            "issue_date": [d(2023, 2, 1), d(2023, 3, 1)],
            "dmd_code": ["319740004", "39113611000001102"],
            "quantity": [28.0, 56.0],
        }),
        "ae_attendances": pd.DataFrame({
            "attendance_id": ["AE1", "AE2", "AE3"],
            "nhs_number": [NHS[0], NHS[3], NHS[4]],
            "provider_code": ["RC9", "RC9", "RD8"],
            "site_code": ["RC971", "RC979", None],
            "department_type": [1, 1, 3],
            "arrival": [ts(2024, 1, 5, 10, 0), ts(2024, 1, 6, 23, 30), ts(2024, 2, 1, 9, 15)],
            "departure": [ts(2024, 1, 5, 13, 59), ts(2024, 1, 7, 4, 0), ts(2024, 2, 1, 10, 0)],
            "arrival_mode": ["1048071000000103", "1048031000000100", "1048061000000105"],
            "acuity": ["1077241000000103", "1064911000000105", None],
            "disposal": ["discharged", "admitted", "discharged"],
        }),
        "inpatient_spells": pd.DataFrame({
            "spell_id": ["S1", "S2", "S3"],
            "nhs_number": [NHS[0], NHS[3], NHS[5]],
            "provider_code": ["RC9", "RC9", "RD8"],
            "site_code": ["RC971", "RC979", None],
            "admission_method": ["emergency", "elective", "emergency"],
            "admission_method_code": ["21", "11", "22"],
            "admission_source": ["19", "19", "54"],
            "admission_date": [d(2024, 1, 5), d(2024, 1, 7), d(2024, 5, 20)],
            "discharge_date": [d(2024, 1, 9), d(2024, 1, 7), d(2024, 6, 1)],
            "discharge_method": ["1", "1", "4"],
            "discharge_destination": ["19", "19", "79"],
            "primary_diagnosis": ["I500", "J45", "S720"],
            "treatment_function": ["300", "340", None],
        }),
        "inpatient_diagnoses": pd.DataFrame({
            "spell_id": ["S2", "S2", "S3", "S3"],
            "position": [2, 3, 2, 3],
            "icd10_code": ["I10X", "E119", "W190", "F03X"],
        }),
        "inpatient_procedures": pd.DataFrame({
            "spell_id": ["S3"],
            "position": [1],
            "opcs4_code": ["W461"],
            "procedure_date": [d(2024, 5, 21)],
        }),
        "outpatient_appointments": pd.DataFrame({
            "appointment_id": ["OP1", "OP2"],
            "nhs_number": [NHS[1], NHS[2]],
            "provider_code": ["RC9", "RD8"],
            "treatment_function": ["320", "110"],
            "appointment_date": [d(2023, 4, 4), d(2023, 5, 5)],
            "first_attendance": [True, False],
            "attendance": ["attended", "did_not_attend"],
            "referral_source": ["gp", "consultant"],
        }),
        "referrals": pd.DataFrame({
            "referral_id": ["R1"],
            "nhs_number": [NHS[1]],
            "practice_code": ["E81001"],
            "provider_code": ["RC9"],
            "treatment_function": ["320"],
            "referral_date": [d(2023, 3, 1)],
            "priority": ["routine"],
        }),
        "gp_appointments": pd.DataFrame({
            "appointment_id": ["G1", "G2"],
            "nhs_number": [NHS[0], NHS[2]],
            "practice_code": ["E81001", "E81002"],
            "appointment_date": [d(2024, 1, 2), d(2024, 1, 3)],
            "mode": ["face_to_face", "telephone"],
            "status": ["attended", "did_not_attend"],
        }),
        "mental_health_contacts": pd.DataFrame({
            "contact_id": ["M1"],
            "nhs_number": [NHS[3]],
            "provider_code": ["RWR"],
            "service": ["talking_therapies"],
            "contact_date": [d(2023, 8, 8)],
            "attended": [True],
        }),
        "community_contacts": pd.DataFrame({
            "contact_id": ["C1"],
            "nhs_number": [NHS[0]],
            "provider_code": ["RYV"],
            "service": ["district_nursing"],
            "contact_date": [d(2024, 2, 2)],
        }),
        "social_care_services": pd.DataFrame({
            "service_id": ["SC1"],
            "nhs_number": [NHS[5]],
            "la_code": ["E06000055"],
            "service_type": ["home_care"],
            "start_date": [d(2023, 1, 1)],
            "end_date": [d(2024, 6, 1)],
        }),
        "deaths": pd.DataFrame({
            "nhs_number": [NHS[5]],
            "date_of_death": [d(2024, 6, 1)],
            "underlying_cause": ["I500"],
            "place_of_death": ["hospital"],
        }),
        "aggregate_returns": pd.DataFrame({
            "period": [d(2024, 1, 1), d(2024, 2, 1)],
            "org_code": ["RC9", "RC9"],
            "measure": ["ae_4hr", "ae_4hr"],
            "numerator": [8000.0, 7900.0],
            "denominator": [11000.0, 10800.0],
            "value": [None, None],
        }),
    }


def spoil_done_when(b: dict[str, pd.DataFrame]) -> None:
    """The issue's scenario: a bad NHS number, a future date, an unknown person, a discharge before admission."""
    events = b["clinical_events"]
    events["nhs_number"] = events["nhs_number"].astype(object)
    events.at[0, "nhs_number"] = "9990001009"  # row 1: fails Modulus 11
    events.at[2, "event_date"] = date(2025, 6, 1)  # row 3: after the as-of date 2025-03-31
    b["gp_appointments"].at[1, "nhs_number"] = reserved_range_numbers(1, start=999_900_000)[0]  # row 2: unknown
    b["inpatient_spells"].at[0, "discharge_date"] = date(2024, 1, 1)  # row 1: before admission 2024-01-05


def write_batch(folder: Path, tables: dict[str, pd.DataFrame], fmt: str = "parquet") -> Path:
    """Write tables as canonical files (Parquet with the canonical schema, or CSV) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            schema = TABLE_BY_NAME[name].source_schema()
            schema = pa.schema([f for f in schema if f.name in df.columns])
            pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False), folder / f"{name}.parquet")
    return folder
