"""A tiny builder of hand-made warehouses for the measurement tests (DuckDB or PostgreSQL)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import ibis
import pyarrow as pa

from placewise.canonical import TABLES
from placewise.warehouse.engines import engine_for

PLACES = {"E06000055": "Bedford Borough", "E06000032": "Luton"}
PRACTICES = {  # practice: (pcn, place)
    "P1": ("N1", "E06000055"),
    "P2": ("N1", "E06000055"),
    "P3": ("N2", "E06000032"),
}
LSOAS = {"L1": ("E06000055", 1), "L2": ("E06000055", 10), "L3": ("E06000032", 4)}  # lsoa: (place, IMD decile)


class Warehouse:
    """Rows for each canonical warehouse table, filled with sensible defaults, loaded in one call."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._ids = itertools.count(1)
        for code, (place, decile) in LSOAS.items():
            self.rows["geography"].append(dict(lsoa_code=code, lsoa_name=code, ward_code="W" + code,
                                               ward_name=code, la_code=place, la_name=PLACES[place],
                                               imd_decile=decile))
        for code, (pcn, place) in PRACTICES.items():
            self.rows["practices"].append(dict(practice_code=code, practice_name=code, pcn_code=pcn,
                                               pcn_name=pcn, la_code=place, list_size=100))

    def person(self, pid: str, *, born: tuple[int, int] = (1970, 1), sex: str = "female", ethnicity: str = "A",
               lsoa: str = "L1", practice: str = "P1", registered: date = date(2000, 1, 1),
               left: date | None = None, died: date | None = None) -> str:
        """Add a person registered with one practice; returns the person id."""
        self.rows["people"].append(dict(person_id=pid, birth_year=born[0], birth_month=born[1], sex=sex,
                                        ethnicity=ethnicity, lsoa_code=lsoa, date_of_death=died))
        self.rows["registrations"].append(dict(person_id=pid, practice_code=practice, start_date=registered,
                                               end_date=left))
        return pid

    def register(self, pid: str, practice: str, start: date, end: date | None = None) -> None:
        """Add a further registration for a person."""
        self.rows["registrations"].append(dict(person_id=pid, practice_code=practice, start_date=start,
                                               end_date=end))

    def event(self, pid: str, on: date, code: str, value: float | None = None) -> None:
        """Add a coded primary-care event."""
        self.rows["clinical_events"].append(dict(event_id=f"E{next(self._ids)}", person_id=pid, event_date=on,
                                                 snomed_code=code, value=value, unit=None))

    def medication(self, pid: str, on: date, code: str) -> None:
        """Add a medication issue."""
        self.rows["medications"].append(dict(issue_id=f"M{next(self._ids)}", person_id=pid, issue_date=on,
                                             dmd_code=code, quantity=1.0))

    def spell(self, pid: str, admitted: date, discharged: date | None, *, method: str = "emergency",
              diagnosis: str = "R69", provider: str = "RC9", site: str | None = "RC971", died: bool = False,
              secondary: tuple[str, ...] = ()) -> None:
        """Add an inpatient spell, with secondary diagnoses in positions 2, 3…"""
        spell_id = f"S{next(self._ids)}"
        self.rows["inpatient_spells"].append(dict(
            spell_id=spell_id, person_id=pid, provider_code=provider, site_code=site,
            admission_method=method, admission_method_code="21" if method == "emergency" else "11",
            admission_source="19", admission_date=admitted, discharge_date=discharged,
            discharge_method=None if discharged is None else "4" if died else "1",
            discharge_destination=None if discharged is None else "79" if died else "19",
            primary_diagnosis=diagnosis, treatment_function="300"))
        for position, code in enumerate(secondary, start=2):
            self.rows["inpatient_diagnoses"].append(dict(spell_id=spell_id, position=position, icd10_code=code))

    def attendance(self, pid: str, arrival: datetime, minutes: int, *, dept: int = 1, provider: str = "RC9",
                   site: str | None = "RC971") -> None:
        """Add an A&E attendance lasting ``minutes``."""
        from datetime import timedelta
        self.rows["ae_attendances"].append(dict(
            attendance_id=f"A{next(self._ids)}", person_id=pid, provider_code=provider, site_code=site,
            department_type=dept, arrival=arrival, departure=arrival + timedelta(minutes=minutes),
            arrival_mode="1048071000000103", disposal="discharged"))

    def gp_appointment(self, pid: str, on: date, status: str = "attended", practice: str = "P1") -> None:
        """Add a GP appointment."""
        self.rows["gp_appointments"].append(dict(appointment_id=f"G{next(self._ids)}", person_id=pid,
                                                 practice_code=practice, appointment_date=on, mode="face_to_face",
                                                 status=status))

    def aggregate(self, period: date, org: str, measure: str, numerator: float, denominator: float) -> None:
        """Add an aggregate return row."""
        self.rows["aggregate_returns"].append(dict(period=period, org_code=org, measure=measure,
                                                   numerator=numerator, denominator=denominator, value=None))

    def add(self, table: str, **fields: Any) -> None:
        """Add a row to any table, with an identifier in the table's key column when one is not given."""
        self.rows[table].append(fields)

    def arrow(self, name: str, schema: pa.Schema) -> pa.Table:
        """One table's rows as Arrow, in the canonical warehouse schema."""
        rows = self.rows.get(name, [])
        return pa.table({f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}, schema=schema)

    def load(self, con: ibis.BaseBackend) -> ibis.BaseBackend:
        """Write every canonical table, with its rows, to ``con`` through its engine."""
        engine = engine_for(con)
        for t in TABLES:
            engine.replace_table(t.name, self.arrow(t.name, t.warehouse_schema()))
        return con
