"""Hand-made patients in a small YAML file, loaded into an empty warehouse to try a definition on.

An analyst writing an indicator or register describes a few people (born, registered, coded
records, admissions…) instead of building a whole delivery; the spec tests use the same format.
Patient ids are labels made up for the file, not NHS numbers, so they stand as the person key.
A code may be given as a codelist name, which stands for that list's first code.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from placewise import codelists
from placewise.canonical import PERSON_KEY, SEXES, TABLE_BY_NAME, TABLES
from placewise.profile import Profile
from placewise.warehouse import ensure_tables
from placewise.yamltext import parse


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Registration(_Strict):
    """A further registration with a practice."""

    practice: str = Field(pattern="^P[123]$")
    start: date
    end: date | None = None


class Event(_Strict):
    """A coded primary-care record (a codelist name stands for its first code)."""

    date: date
    code: str
    value: float | None = None


class Medication(_Strict):
    """A medication issue (a codelist name stands for its first code)."""

    date: date
    code: str


class Spell(_Strict):
    """An inpatient spell; ``secondary`` lists ICD-10 codes in positions 2, 3…"""

    admitted: date
    discharged: date | None = None
    method: str = "emergency"
    diagnosis: str = "R69"
    secondary: list[str] = []
    died: bool = False


class Patient(_Strict):
    """One hand-made person and their records."""

    id: str = Field(min_length=1)
    born: str = Field(pattern=r"^\d{4}-\d{2}$", description="year and month of birth, YYYY-MM")
    sex: str = "female"
    ethnicity: str = "A"
    imd_decile: int = Field(default=5, ge=1, le=10)
    practice: str = Field(default="P1", pattern="^P[123]$")
    registered: date = date(2000, 1, 1)
    left: date | None = None
    died: date | None = None
    note: str = ""
    registrations: list[Registration] = []
    events: list[Event] = []
    medications: list[Medication] = []
    spells: list[Spell] = []
    rows: dict[str, list[dict[str, Any]]] = Field(default={}, description="rows of any other table")


class PatientsFile(_Strict):
    """A file of hand-made patients, optionally with the period end to look at and published returns."""

    period_end: date | None = None
    patients: list[Patient] = Field(min_length=1)
    aggregate_returns: list[dict[str, Any]] = Field(default=[], description="rows of published statistics")


class PatientsError(ValueError):
    """The patients file is unreadable or invalid; the message names the file, patient and field."""


def read_patients(path: Path) -> PatientsFile:
    """Read and validate a patients file."""
    try:
        raw = parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PatientsError(f"{path}: patients file not found") from None
    except yaml.YAMLError as e:
        raise PatientsError(f"{path}: not valid YAML: {e}") from None
    return parse_patients(raw, str(path))


def parse_patients(raw: object, where: str) -> PatientsFile:
    """Validate parsed YAML as a patients file; errors name the patient and field."""
    try:
        pf = PatientsFile.model_validate(raw)
    except ValidationError as e:
        lines = [f"{where}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]
        raise PatientsError("invalid patients file\n" + "\n".join(lines)) from None
    for p in pf.patients:
        if p.sex not in SEXES:
            raise PatientsError(f"{where}: patient {p.id}: sex {p.sex!r} is not one of {SEXES}")
        for table in p.rows:
            if table not in TABLE_BY_NAME or not TABLE_BY_NAME[table].has_person:
                raise PatientsError(f"{where}: patient {p.id}: rows: {table!r} is not a table of a person's records")
    ids = [p.id for p in pf.patients]
    if len(set(ids)) != len(ids):
        raise PatientsError(f"{where}: patient ids must be unique")
    return pf


def _code(code: str) -> str:
    """A codelist name stands for its first code; anything else is a code."""
    return codelists.codes(code)[0] if code in codelists.names() else code


def _world(profile: Profile) -> tuple[dict[str, str], dict[str, tuple[str, str]], tuple[str, str] | None]:
    """The Places the practices sit in (code → name), each practice's (PCN, Place), and the acute provider and
    site that hand-made admissions and hospital rows are recorded at: P1 and P2 (PCN N1) in the profile's first
    Place, P3 (PCN N2) in its second (the first again if it has one); its first acute provider with a site."""
    first, second = (profile.ics.places * 2)[:2]
    places = {first.code: first.name, second.code: second.name}
    practices = {"P1": ("N1", first.code), "P2": ("N1", first.code), "P3": ("N2", second.code)}
    hospital = next(((p.code, p.sites[0].code) for p in profile.ics.providers if p.kind == "acute" and p.sites), None)
    return places, practices, hospital


def table_rows(pf: PatientsFile, profile: Profile) -> dict[str, list[dict[str, Any]]]:
    """Rows of every warehouse table the patients need, with a practice and LSOA geography around them."""
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in TABLES}
    ids = itertools.count(1)
    places, practices, hospital = _world(profile)
    if hospital is None and any(p.spells or p.rows for p in pf.patients):
        raise PatientsError("hospital records need an acute provider with a site in the profile (ics.yaml)")
    provider, site = hospital or ("", "")
    for place, name in places.items():
        for decile in range(1, 11):
            rows["geography"].append(dict(lsoa_code=f"{place}-{decile}", lsoa_name=f"{name} {decile}",
                                          ward_code=place, ward_name=name, la_code=place, la_name=name,
                                          imd_decile=decile))
    for code, (pcn, place) in practices.items():
        rows["practices"].append(dict(practice_code=code, practice_name=code, pcn_code=pcn, pcn_name=pcn,
                                      la_code=place, list_size=100))
    rows["aggregate_returns"] = list(pf.aggregate_returns)
    for p in pf.patients:
        year, month = (int(x) for x in p.born.split("-"))
        rows["people"].append({PERSON_KEY: p.id, "birth_year": year, "birth_month": month, "sex": p.sex,
                               "ethnicity": p.ethnicity, "lsoa_code": f"{practices[p.practice][1]}-{p.imd_decile}",
                               "date_of_death": p.died})
        regs = [Registration(practice=p.practice, start=p.registered, end=p.left), *p.registrations]
        rows["registrations"] += [{PERSON_KEY: p.id, "practice_code": r.practice, "start_date": r.start,
                                   "end_date": r.end} for r in regs]
        rows["clinical_events"] += [{"event_id": f"E{next(ids)}", PERSON_KEY: p.id, "event_date": e.date,
                                     "snomed_code": _code(e.code), "value": e.value, "unit": None} for e in p.events]
        rows["medications"] += [{"issue_id": f"M{next(ids)}", PERSON_KEY: p.id, "issue_date": m.date,
                                 "dmd_code": _code(m.code), "quantity": 1.0} for m in p.medications]
        for s in p.spells:
            spell_id = f"S{next(ids)}"
            rows["inpatient_spells"].append({
                "spell_id": spell_id, PERSON_KEY: p.id, "provider_code": provider, "site_code": site,
                "admission_method": s.method, "admission_method_code": "21" if s.method == "emergency" else "11",
                "admission_source": "19", "admission_date": s.admitted, "discharge_date": s.discharged,
                "discharge_method": None if s.discharged is None else "4" if s.died else "1",
                "discharge_destination": None if s.discharged is None else "79" if s.died else "19",
                "primary_diagnosis": _code(s.diagnosis), "treatment_function": "300"})
            rows["inpatient_diagnoses"] += [{"spell_id": spell_id, "position": i, "icd10_code": _code(c)}
                                            for i, c in enumerate(s.secondary, start=2)]
        for table, items in p.rows.items():
            key = TABLE_BY_NAME[table].key[0]
            for r in items:
                extra = {"provider_code": provider} if "provider_code" in TABLE_BY_NAME[table].source_schema().names else {}
                rows[table].append({key: f"R{next(ids)}", **extra, **r, PERSON_KEY: p.id})
    return rows


def load_patients(con: ibis.BaseBackend, pf: PatientsFile, profile: Profile) -> ibis.BaseBackend:
    """Create the warehouse tables in an empty connection and insert the patients' rows, in the profile's Places."""
    ensure_tables(con)
    for name, items in table_rows(pf, profile).items():
        if not items:
            continue
        schema = TABLE_BY_NAME[name].warehouse_schema()
        unknown = sorted({k for r in items for k in r} - set(schema.names))
        if unknown:
            raise PatientsError(f"table {name} has no column(s) {unknown}")
        con.insert(name, pa.table({f.name: pa.array([r.get(f.name) for r in items], f.type) for f in schema},
                                  schema=schema))
    return con
