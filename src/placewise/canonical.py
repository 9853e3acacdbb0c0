"""The canonical model: every table Placewise reads, defined once.

The synthetic generator writes these tables, the ingest validator checks files against
them and the warehouse creates them from them. Source files carry the raw NHS number in
``nhs_number``; in the warehouse that column is replaced by ``person_id``, a keyed hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

DType = Literal["string", "int", "float", "date", "timestamp", "bool"]
CodeKind = Literal["nhs_number", "snomed", "icd10", "opcs4", "ods", "lsoa", "ons", "dmd", "ethnicity"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bool": pa.bool_(),
}

SQL_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
}

PERSON_KEY = "person_id"
"""The warehouse's pseudonymous person key: HMAC-SHA256 of the NHS number, hex."""

SEXES = ("female", "male", "indeterminate", "unknown")

ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    # NHS Data Dictionary "Ethnic Category" code: (description, ONS 2021 high-level group)
    "A": ("White - British", "White"),
    "B": ("White - Irish", "White"),
    "C": ("White - Any other White background", "White"),
    "D": ("Mixed - White and Black Caribbean", "Mixed"),
    "E": ("Mixed - White and Black African", "Mixed"),
    "F": ("Mixed - White and Asian", "Mixed"),
    "G": ("Mixed - Any other mixed background", "Mixed"),
    "H": ("Asian or Asian British - Indian", "Asian or Asian British"),
    "J": ("Asian or Asian British - Pakistani", "Asian or Asian British"),
    "K": ("Asian or Asian British - Bangladeshi", "Asian or Asian British"),
    "L": ("Asian or Asian British - Any other Asian background", "Asian or Asian British"),
    "M": ("Black or Black British - Caribbean", "Black or Black British"),
    "N": ("Black or Black British - African", "Black or Black British"),
    "P": ("Black or Black British - Any other Black background", "Black or Black British"),
    "R": ("Other ethnic groups - Chinese", "Asian or Asian British"),
    "S": ("Other ethnic groups - Any other ethnic group", "Other ethnic group"),
    "Z": ("Not stated", "Not stated"),
    "99": ("Not known", "Not known"),
}
"""Chinese (R) sits in the Asian group, as in the ONS 2021 Census classification."""

ADMISSION_METHODS: dict[str, str] = {
    # NHS Data Dictionary "Admission Method (Hospital Provider Spell)": code -> group used by indicators
    "11": "elective", "12": "elective", "13": "elective",
    "21": "emergency", "22": "emergency", "23": "emergency", "24": "emergency", "25": "emergency",
    "2A": "emergency", "2B": "emergency", "2C": "emergency", "2D": "emergency", "28": "emergency",
    "31": "maternity", "32": "maternity",
    "81": "transfer",
    "82": "other", "83": "other",
}
"""11-13 elective (waiting list, booked, planned); 21-2D and 28 emergency (21 via the provider's emergency
department, 22 GP, 23 bed bureau, 24 consultant clinic, 25 mental health crisis team, 2A another provider's
emergency department, 2B transfer, 2C baby born at home, 2D other); 31-32 maternity; 81 transfer from another
provider (not emergency); 82-83 births."""

PLACES_OF_RESIDENCE = (
    # NHS Data Dictionary "Admission Source" and "Discharge Destination (Hospital Provider Spell)" share these codes
    "19", "29", "37", "38", "39", "40", "48", "49", "50", "51", "52", "53", "54", "65", "66", "79", "84", "85", "87",
    "88", "98", "99",
)
"""19 usual place of residence, 29 temporary place of residence, 37 court, 38 penal establishment or police
station, 39 penal establishment, 40 police station, 48-53 other NHS hospital provider (48 high security
psychiatric in Scotland, 49 high security psychiatric, 50 medium secure, 51 general ward or emergency department,
52 maternity, 53 mental illness), 54 NHS-run care home, 65 local authority residential accommodation, 66 local
authority foster care, 79 died (discharge only) or born in hospital (admission only), 84 non-NHS run hospital
(medium secure), 85 non-NHS care home, 87 non-NHS run hospital, 88 non-NHS run hospice, 98 not applicable (still in
hospital), 99 not known."""

DISCHARGE_METHODS = ("1", "2", "3", "4", "5", "8", "9")
"""NHS Data Dictionary "Discharge Method (Hospital Provider Spell)": 1 on clinical advice, 2 self-discharge, 3 by a
mental health review tribunal, court or the Home Secretary, 4 died, 5 stillbirth, 8 not applicable (still in
hospital), 9 not known."""

EC_ARRIVAL_MODES: dict[str, str] = {
    # ECDS "Emergency Care Arrival Mode (SNOMED CT)" (NHS England ECDS ETOS)
    "1048031000000100": "Arrival by emergency road ambulance",
    "1048041000000109": "Arrival by emergency road ambulance with medical escort",
    "1048021000000102": "Arrival by non-emergency road ambulance",
    "1048051000000107": "Arrival by helicopter air ambulance",
    "1048081000000101": "Arrival by medical repatriation air ambulance",
    "1048061000000105": "Arrival by public transport",
    "1048071000000103": "Arrival by own transport",
    "1048001000000106": "Arrival by police transport",
    "1047991000000102": "Arrival by prison transport",
}
"""The first five are the ambulance arrivals national measures count."""

EC_ACUITIES: dict[str, str] = {
    # ECDS "Emergency Care Acuity (SNOMED CT)" (NHS England ECDS ETOS), most to least urgent
    "1064891000000107": "Immediate resuscitation level emergency care",
    "1064911000000105": "Very urgent level emergency care",
    "1064901000000108": "Urgent level emergency care",
    "1077241000000103": "Standard level emergency care",
    "1077251000000100": "Low acuity level emergency care",
}


@dataclass(frozen=True)
class Plausible:
    """The clinically plausible range of the value recorded with one code (limits included)."""

    code: str
    measurement: str
    low: float
    high: float
    unit: str


PLAUSIBLE_MEASUREMENTS: tuple[Plausible, ...] = (
    # Deliberately wide: a value outside is a recording or unit error, never a rare patient.
    Plausible("271649006", "systolic blood pressure", 40, 300, "mmHg"),
    Plausible("72313002", "systolic blood pressure", 40, 300, "mmHg"),
    Plausible("271650006", "diastolic blood pressure", 20, 200, "mmHg"),
    Plausible("1091811000000102", "diastolic blood pressure", 20, 200, "mmHg"),
    Plausible("60621009", "body mass index", 10, 150, "kg/m2"),
    Plausible("999791000000106", "HbA1c", 15, 250, "mmol/mol"),
    Plausible("1003671000000109", "HbA1c", 15, 250, "mmol/mol"),
)
"""Plausibility limits of numeric values by SNOMED CT code of the observation; other codes are not checked."""


@dataclass(frozen=True)
class Column:
    """One column of a canonical table and the rules a value must meet."""

    name: str
    dtype: DType
    description: str
    required: bool = True
    code: CodeKind | None = None
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    plausible: tuple[Plausible, ...] = ()
    """Plausible ranges by the code in the table's SNOMED CT column (for a measured value)."""


@dataclass(frozen=True)
class Table:
    """One canonical table: its columns and the rules between columns and tables."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    ordered: tuple[tuple[str, str], ...] = ()
    """Pairs (earlier, later): the later value must not come before the earlier."""
    references: tuple[tuple[str, str, str], ...] = ()
    """(column, table, column): the value must exist in the other table."""
    not_after_death: tuple[str, ...] = ()
    """Date columns that must not fall after the person's date of death."""
    not_future: tuple[str, ...] = field(default=())
    """Date columns that must not lie in the future."""
    activity: str | None = None
    """The date column whose latest value says how far the data run (the measure's reporting range ends in its
    month); a server engine keeps it indexed, so that the latest value is read without a scan."""

    @property
    def has_person(self) -> bool:
        """Whether rows belong to a person (and so carry an NHS number at source)."""
        return any(c.name == "nhs_number" for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")

    def source_schema(self) -> pa.Schema:
        """Arrow schema of the source file (raw NHS number)."""
        return pa.schema([(c.name, ARROW_TYPES[c.dtype]) for c in self.columns])

    def warehouse_columns(self) -> tuple[Column, ...]:
        """Columns as stored in the warehouse: the NHS number becomes the person key."""
        return tuple(
            Column(PERSON_KEY, "string", "Pseudonymous person key (keyed hash of the NHS number)")
            if c.name == "nhs_number"
            else c
            for c in self.columns
        )

    def warehouse_schema(self) -> pa.Schema:
        """Arrow schema of the warehouse table."""
        return pa.schema([(c.name, ARROW_TYPES[c.dtype]) for c in self.warehouse_columns()])


_c = Column
"""Shorthand for a column definition."""


NHS = _c("nhs_number", "string", "NHS number, 10 digits with a Modulus 11 check digit", code="nhs_number")
PROVIDER = _c("provider_code", "string", "ODS code of the provider trust", code="ods")
SITE = _c("site_code", "string", "ODS code of the provider site", code="ods", required=False)
PERSON_REF = (("nhs_number", "people", "nhs_number"),)
PROVIDER_AND_SITE = (PROVIDER, SITE)

TABLES: tuple[Table, ...] = (
    Table(
        "geography",
        "Lower-layer super output areas (2021) with their ward, local authority (Place) and IMD 2019 decile",
        (
            _c("lsoa_code", "string", "ONS LSOA 2021 code", code="lsoa"),
            _c("lsoa_name", "string", "LSOA name"),
            _c("ward_code", "string", "ONS electoral ward code", code="ons"),
            _c("ward_name", "string", "Ward name"),
            _c("la_code", "string", "ONS local authority code: the Place", code="ons"),
            _c("la_name", "string", "Local authority name"),
            _c("imd_decile", "int", "Index of Multiple Deprivation 2019 decile (1 most deprived)", minimum=1, maximum=10),
        ),
        key=("lsoa_code",),
    ),
    Table(
        "practices",
        "GP practices with their Primary Care Network and Place",
        (
            _c("practice_code", "string", "ODS code of the GP practice", code="ods"),
            _c("practice_name", "string", "Practice name"),
            _c("pcn_code", "string", "ODS code of the Primary Care Network", code="ods"),
            _c("pcn_name", "string", "Primary Care Network name"),
            _c("la_code", "string", "ONS code of the Place the practice sits in", code="ons"),
            _c("list_size", "int", "Registered list size at extract", minimum=0),
        ),
        key=("practice_code",),
    ),
    Table(
        "people",
        "Everyone ever registered: demographics and residence",
        (
            NHS,
            _c("birth_year", "int", "Year of birth", minimum=1900),
            _c("birth_month", "int", "Month of birth", minimum=1, maximum=12),
            _c("sex", "string", "Stated sex", allowed=SEXES),
            _c("ethnicity", "string", "NHS ethnic category code", code="ethnicity"),
            _c("lsoa_code", "string", "LSOA 2021 of residence", code="lsoa"),
            _c("date_of_death", "date", "Date of death, if died", required=False),
        ),
        key=("nhs_number",),
        references=(("lsoa_code", "geography", "lsoa_code"),),
        not_future=("date_of_death",),
    ),
    Table(
        "registrations",
        "GP registrations: who was registered where and when",
        (
            NHS,
            _c("practice_code", "string", "ODS code of the practice", code="ods"),
            _c("start_date", "date", "Registration start"),
            _c("end_date", "date", "Registration end (empty while registered)", required=False),
        ),
        key=("nhs_number", "practice_code", "start_date"),
        ordered=(("start_date", "end_date"),),
        references=PERSON_REF + (("practice_code", "practices", "practice_code"),),
        not_after_death=("start_date",),
        not_future=("start_date", "end_date"),
    ),
    Table(
        "clinical_events",
        "Coded primary-care events: diagnoses, observations, procedures, with a value where measured. Each row is "
        "one record of the GP system, keyed by that system's record identifier: two readings under one code on one "
        "day are two rows, and a re-delivered record replaces itself instead of duplicating",
        (
            _c("event_id", "string", "Identifier of the record in the GP system (stable across extracts)"),
            NHS,
            _c("event_date", "date", "Date recorded"),
            _c("snomed_code", "string", "SNOMED CT concept id", code="snomed"),
            _c("value", "float", "Numeric value (blood pressure, BMI, HbA1c…)", required=False,
               plausible=PLAUSIBLE_MEASUREMENTS),
            _c("unit", "string", "Unit of the value", required=False),
        ),
        key=("event_id",),
        references=PERSON_REF,
        not_after_death=("event_date",),
        not_future=("event_date",),
        activity="event_date",
    ),
    Table(
        "medications",
        "Primary-care medication issues. Each row is one issue record of the GP system, keyed by that system's "
        "record identifier: two issues of one product on one day are two rows, and a re-delivered issue replaces "
        "itself instead of duplicating",
        (
            _c("issue_id", "string", "Identifier of the issue record in the GP system (stable across extracts)"),
            NHS,
            _c("issue_date", "date", "Date issued"),
            _c("dmd_code", "string", "dm+d code of the product", code="dmd"),
            _c("quantity", "float", "Quantity issued", minimum=0),
        ),
        key=("issue_id",),
        references=PERSON_REF,
        not_after_death=("issue_date",),
        not_future=("issue_date",),
    ),
    Table(
        "ae_attendances",
        "A&E attendances (ECDS-like)",
        (
            _c("attendance_id", "string", "Attendance identifier"),
            NHS,
            *PROVIDER_AND_SITE,
            _c("department_type", "int", "Emergency care department type (1, 2 or 3)", minimum=1, maximum=3),
            _c("arrival", "timestamp", "Arrival date and time"),
            _c("departure", "timestamp", "Departure (conclusion) date and time"),
            _c("arrival_mode", "string", "ECDS arrival mode (SNOMED CT)", code="snomed",
               allowed=tuple(EC_ARRIVAL_MODES)),
            _c("acuity", "string", "ECDS acuity at initial assessment (SNOMED CT), where assessed", code="snomed",
               required=False, allowed=tuple(EC_ACUITIES)),
            _c("disposal", "string", "How the attendance ended",
               allowed=("admitted", "discharged", "referred", "transferred", "left", "died")),
        ),
        key=("attendance_id",),
        ordered=(("arrival", "departure"),),
        references=PERSON_REF,
        not_after_death=("arrival",),
        not_future=("arrival", "departure"),
    ),
    Table(
        "inpatient_spells",
        "Hospital provider spells (SUS admitted patient care-like), the unit admissions are counted in. The "
        "spell's primary diagnosis is here; its secondary diagnoses are in `inpatient_diagnoses` and its "
        "procedures in `inpatient_procedures`",
        (
            _c("spell_id", "string", "Spell identifier"),
            NHS,
            *PROVIDER_AND_SITE,
            _c("admission_method", "string", "Admission method group: the group of `admission_method_code` "
               "(elective 11-13, emergency 21-2D and 28, maternity 31-32, transfer 81, other 82-83)",
               allowed=("elective", "emergency", "maternity", "transfer", "other")),
            _c("admission_method_code", "string", "NHS Data Dictionary admission method (hospital provider spell)",
               allowed=tuple(ADMISSION_METHODS)),
            _c("admission_source", "string", "NHS Data Dictionary admission source (hospital provider spell): "
               "19 usual place of residence, 51 another NHS provider, 54/65/85 care homes…",
               allowed=PLACES_OF_RESIDENCE),
            _c("admission_date", "date", "Admission date"),
            _c("discharge_date", "date", "Discharge date (empty while in hospital)", required=False),
            _c("discharge_method", "string", "NHS Data Dictionary discharge method: 4 died in hospital, "
               "1 on clinical advice, 2 self-discharge… (empty while in hospital)",
               required=False, allowed=DISCHARGE_METHODS),
            _c("discharge_destination", "string", "NHS Data Dictionary discharge destination: 19 usual place of "
               "residence, 79 died, 54/65/85 care homes… (empty while in hospital)",
               required=False, allowed=PLACES_OF_RESIDENCE),
            _c("primary_diagnosis", "string", "Primary diagnosis of the spell (position 1), ICD-10", code="icd10"),
            _c("treatment_function", "string", "Main treatment function code", required=False),
        ),
        key=("spell_id",),
        ordered=(("admission_date", "discharge_date"),),
        references=PERSON_REF,
        not_after_death=("admission_date",),
        not_future=("admission_date", "discharge_date"),
        activity="admission_date",
    ),
    Table(
        "inpatient_diagnoses",
        "Secondary diagnoses of a spell in coded order, as SUS admitted patient care records them: comorbidities, "
        "and ICD-10 chapter XX external causes (V01-Y98, such as W00-W19 falls) after an injury primary diagnosis "
        "(S00-T98). Position 1, the primary diagnosis, is `inpatient_spells.primary_diagnosis`, so that it is held once",
        (
            _c("spell_id", "string", "Spell identifier"),
            _c("position", "int", "Position in the coded order (2 the first secondary diagnosis)", minimum=2,
               maximum=24),
            _c("icd10_code", "string", "Diagnosis, ICD-10", code="icd10"),
        ),
        key=("spell_id", "position"),
        references=(("spell_id", "inpatient_spells", "spell_id"),),
    ),
    Table(
        "inpatient_procedures",
        "Procedures of a spell in coded order (OPCS-4), as SUS admitted patient care records them",
        (
            _c("spell_id", "string", "Spell identifier"),
            _c("position", "int", "Position in the coded order (1 the primary procedure)", minimum=1, maximum=24),
            _c("opcs4_code", "string", "Procedure, OPCS-4", code="opcs4"),
            _c("procedure_date", "date", "Date of the procedure", required=False),
        ),
        key=("spell_id", "position"),
        references=(("spell_id", "inpatient_spells", "spell_id"),),
        not_future=("procedure_date",),
    ),
    Table(
        "outpatient_appointments",
        "Outpatient appointments",
        (
            _c("appointment_id", "string", "Appointment identifier"),
            NHS,
            PROVIDER,
            _c("treatment_function", "string", "Treatment function (specialty) code"),
            _c("appointment_date", "date", "Appointment date"),
            _c("first_attendance", "bool", "First appointment (true) or follow-up (false)"),
            _c("attendance", "string", "Outcome of the appointment", allowed=("attended", "did_not_attend", "cancelled")),
            _c("referral_source", "string", "Who referred", allowed=("gp", "consultant", "emergency", "other")),
        ),
        key=("appointment_id",),
        references=PERSON_REF,
        not_after_death=("appointment_date",),
        not_future=("appointment_date",),
    ),
    Table(
        "referrals",
        "Referrals from general practice to a provider and specialty",
        (
            _c("referral_id", "string", "Referral identifier"),
            NHS,
            _c("practice_code", "string", "Referring practice", code="ods"),
            PROVIDER,
            _c("treatment_function", "string", "Specialty referred to (treatment function code)"),
            _c("referral_date", "date", "Referral date"),
            _c("priority", "string", "Referral priority", allowed=("routine", "urgent", "two_week_wait")),
        ),
        key=("referral_id",),
        references=PERSON_REF + (("practice_code", "practices", "practice_code"),),
        not_after_death=("referral_date",),
        not_future=("referral_date",),
    ),
    Table(
        "gp_appointments",
        "General practice appointments",
        (
            _c("appointment_id", "string", "Appointment identifier"),
            NHS,
            _c("practice_code", "string", "Practice", code="ods"),
            _c("appointment_date", "date", "Appointment date"),
            _c("mode", "string", "Appointment mode", allowed=("face_to_face", "telephone", "video", "home_visit")),
            _c("status", "string", "Attended or did not attend", allowed=("attended", "did_not_attend")),
        ),
        key=("appointment_id",),
        references=PERSON_REF + (("practice_code", "practices", "practice_code"),),
        not_after_death=("appointment_date",),
        not_future=("appointment_date",),
        activity="appointment_date",
    ),
    Table(
        "mental_health_contacts",
        "Mental health service contacts, including NHS Talking Therapies",
        (
            _c("contact_id", "string", "Contact identifier"),
            NHS,
            PROVIDER,
            _c("service", "string", "Service",
               allowed=("talking_therapies", "community_mental_health", "crisis", "perinatal",
                        "children_and_young_people", "eating_disorders", "inpatient")),
            _c("contact_date", "date", "Contact date"),
            _c("attended", "bool", "Whether the person attended"),
        ),
        key=("contact_id",),
        references=PERSON_REF,
        not_after_death=("contact_date",),
        not_future=("contact_date",),
    ),
    Table(
        "community_contacts",
        "Community health service contacts",
        (
            _c("contact_id", "string", "Contact identifier"),
            NHS,
            PROVIDER,
            _c("service", "string", "Service",
               allowed=("district_nursing", "urgent_community_response", "therapy", "community_matron",
                        "podiatry", "other")),
            _c("contact_date", "date", "Contact date"),
        ),
        key=("contact_id",),
        references=PERSON_REF,
        not_after_death=("contact_date",),
        not_future=("contact_date",),
    ),
    Table(
        "social_care_services",
        "Adult social care services provided by the local authority",
        (
            _c("service_id", "string", "Service identifier"),
            NHS,
            _c("la_code", "string", "ONS code of the local authority", code="ons"),
            _c("service_type", "string", "Service",
               allowed=("home_care", "residential_care", "nursing_care", "reablement", "direct_payment",
                        "day_care", "equipment")),
            _c("start_date", "date", "Service start"),
            _c("end_date", "date", "Service end (empty while open)", required=False),
        ),
        key=("service_id",),
        ordered=(("start_date", "end_date"),),
        references=PERSON_REF,
        not_after_death=("start_date",),
        not_future=("start_date", "end_date"),
    ),
    Table(
        "deaths",
        "Registered deaths",
        (
            NHS,
            _c("date_of_death", "date", "Date of death"),
            _c("underlying_cause", "string", "Underlying cause of death, ICD-10", code="icd10"),
            _c("place_of_death", "string", "Place of death",
               allowed=("hospital", "home", "care_home", "hospice", "other")),
        ),
        key=("nhs_number",),
        references=PERSON_REF,
        not_future=("date_of_death",),
    ),
    Table(
        "aggregate_returns",
        "Published or aggregate statistics: one measure for one period and organisation or geography",
        (
            _c("period", "date", "First day of the period"),
            _c("org_code", "string", "ODS or ONS code of the organisation or geography"),
            _c("measure", "string", "Measure identifier"),
            _c("numerator", "float", "Numerator", required=False),
            _c("denominator", "float", "Denominator", required=False),
            _c("value", "float", "Value, where the return gives one", required=False),
        ),
        key=("period", "org_code", "measure"),
        not_future=("period",),
    ),
)

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
"""Tables in load order: every table comes after the tables it references."""


def table(name: str) -> Table:
    """The canonical table called ``name``, with a clear error for an unknown name."""
    try:
        return TABLE_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown canonical table {name!r}; known: {', '.join(TABLE_BY_NAME)}") from None


def _rules(t: Table, c: Column) -> str:
    """The validation rules of one column, in words, for the data dictionary."""
    rules = ["required" if c.required else "optional"]
    if c.code:
        rules.append(f"code: {c.code}")
    if c.allowed:
        rules.append("one of " + ", ".join(f"`{a}`" for a in c.allowed))
    if c.minimum is not None:
        rules.append(f"≥ {c.minimum:g}")
    if c.maximum is not None:
        rules.append(f"≤ {c.maximum:g}")
    if c.plausible:
        rules.append("plausible range per code: " + ", ".join(sorted(
            {f"{p.measurement} {p.low:g}–{p.high:g} {p.unit}" for p in c.plausible})))
    rules += [f"not before `{a}`" for a, b in t.ordered if b == c.name]
    rules += [f"must exist in `{rt}.{rc}`" for col, rt, rc in t.references if col == c.name]
    if c.name in t.not_after_death:
        rules.append("not after the person's death")
    if c.name in t.not_future:
        rules.append("not in the future")
    return "; ".join(rules)


def data_dictionary_markdown() -> str:
    """The data dictionary of the canonical model as Markdown, generated from the definitions above."""
    out: list[str] = []
    for t in TABLES:
        out += [f"### `{t.name}`", "", t.description + ".", "",
                f"Key: {', '.join(f'`{k}`' for k in t.key)}. File: `{t.name}.parquet` or `{t.name}.csv`.", "",
                "| column | type | description | rules |", "|---|---|---|---|"]
        out += [f"| `{c.name}` | {c.dtype} | {c.description} | {_rules(t, c)} |" for c in t.columns]
        out.append("")
    return "\n".join(out)
