"""Six primary-care indicators of the BLMK catalogue by practice and month, written in OpenSAFELY's ehrQL.

Run by ``benchmarks/bench_ehrql.py`` with ehrQL's own command line (``ehrql generate-measures``) from its
separate virtual environment: ehrQL is not a Placewise dependency. The tables below are the warehouse's
tables as ``bench_ehrql.py`` exports them (people numbered, pseudonyms dropped); the codes are read from
Placewise's codelists, so both tools count the same records. Each measure follows the catalogue entry of the
same id (``src/placewise/profiles/blmk/indicators.yaml``) and the register it uses (``registers.yaml``):

- the denominator is people registered at the month's end (of the registrations spanning that day, the
  latest start, then the latest end, then the highest practice code), alive then, on the register;
- "the last N months" is the N calendar months ending with the month (months_back in derive/records.py);
- a register's latest diagnosis stands unless a resolved code is dated after it.

Known difference, by definition: the blood-pressure criterion here takes the latest day with a systolic
reading and requires a diastolic reading on that day; Placewise takes the latest day with both. ehrQL cannot
join two event series by date, so where the two are not recorded together the figures can differ.
"""

import datetime
from pathlib import Path

from ehrql import INTERVAL, codelist_from_csv, create_measures, get_parameter, months
from placewise_tables import clinical_events, medications, patients, registrations

CODELISTS = Path(__file__).resolve().parents[2] / "src" / "placewise" / "codelists"
START = datetime.date.fromisoformat(get_parameter("start", default="2023-10-01"))
MONTHS = get_parameter("months", type=int, default=36)
"""The months measured: ``bench_ehrql.py`` passes those ``placewise measure`` covers."""


def codes(*names):
    """Every code of the named Placewise codelists."""
    return sorted({c for n in names for c in codelist_from_csv(CODELISTS / f"{n}.csv", column="code")})


end = INTERVAL.end_date
last_12 = INTERVAL.start_date - months(11)
last_6 = INTERVAL.start_date - months(5)
age = (end - patients.date_of_birth).years

spanning = registrations.where((registrations.start_date <= end)
                               & (registrations.end_date.is_null() | (registrations.end_date >= end)))
practice = spanning.sort_by(spanning.start_date, spanning.end_sort, spanning.practice_code).last_for_patient()
registered = practice.exists_for_patient() & (patients.date_of_death.is_null() | (patients.date_of_death > end))


def events(*names, since=None):
    """Clinical events from the codelists up to the month's end (and from ``since``)."""
    e = clinical_events.where(clinical_events.snomed_code.is_in(codes(*names)) & (clinical_events.date <= end))
    return e if since is None else e.where(e.date >= since)


def issues(*names, since):
    """Medication issues from the codelists from ``since`` to the month's end."""
    return medications.where(medications.dmd_code.is_in(codes(*names)) & (medications.date >= since)
                             & (medications.date <= end))


def diagnosed(diagnosis, resolved=None):
    """A latest diagnosis by the month's end not followed by a resolved code."""
    d = events(diagnosis).date.maximum_for_patient()
    if resolved is None:
        return d.is_not_null()
    r = events(resolved).date.maximum_for_patient()
    return d.is_not_null() & (r.is_null() | (r <= d))


def latest_value(name, since):
    """The latest value in the window, the lowest of that day's."""
    e = events(name, since=since).where(clinical_events.value.is_not_null())
    day = e.date.maximum_for_patient()
    return e.where(e.date == day).value.minimum_for_patient()


hypertension = registered & diagnosed("hypertension", "hypertension_resolved")
diabetes = registered & (age >= 17) & diagnosed("diabetes", "diabetes_resolved")
asthma = (registered & (age >= 6) & diagnosed("asthma", "asthma_resolved")
          & issues("asthma_medication", since=last_12).exists_for_patient())
smi = registered & (diagnosed("smi") | issues("lithium", since=last_6).exists_for_patient())
learning_disability = registered & (age >= 14) & diagnosed("learning_disability")

bp = events("systolic_bp", since=last_12).where(clinical_events.value.is_not_null())
bp_day = bp.date.maximum_for_patient()
systolic = bp.where(bp.date == bp_day).value.minimum_for_patient()
diastolic = (events("diastolic_bp", since=last_12).where(clinical_events.value.is_not_null()
                                                         & (clinical_events.date == bp_day))
             .value.minimum_for_patient())
bp_to_target = ((age <= 79) & (systolic <= 140) & (diastolic <= 90)) | ((age >= 80) & (systolic <= 150)
                                                                        & (diastolic <= 90))

first_asthma = clinical_events.where(clinical_events.snomed_code.is_in(codes("asthma"))).date.minimum_for_patient()
new_asthma = asthma & (first_asthma >= datetime.date(2025, 4, 1)) & (first_asthma <= end)
spirometry = events("spirometry").where((clinical_events.date >= first_asthma - months(3))
                                        & (clinical_events.date <= first_asthma + months(3)))

fy_start = (INTERVAL.start_date - months(3)).to_first_of_year() + months(3)
"""1 April of the financial year the month falls in."""

measures = create_measures()
measures.configure_disclosure_control(enabled=False)  # Placewise's counts are compared before its disclosure rule
measures.define_defaults(intervals=months(MONTHS).starting_on(START), group_by={"practice": practice.practice_code})
measures.define_measure("hypertension_treated_to_target", numerator=hypertension & bp_to_target,
                        denominator=hypertension)
measures.define_measure("diabetes_hba1c_58", numerator=diabetes & (latest_value("hba1c", last_12) <= 58),
                        denominator=diabetes)
measures.define_measure("asthma_saba_over_reliance",
                        numerator=asthma & (issues("saba_relievers", since=last_12).count_for_patient() >= 6),
                        denominator=asthma)
measures.define_measure("asthma_objective_test", numerator=new_asthma & spirometry.exists_for_patient(),
                        denominator=new_asthma)
six_checks = smi
for component in ("bmi", "systolic_bp", "cholesterol", "hba1c", "alcohol_consumption", "smoking_status"):
    six_checks = six_checks & events(component, since=last_12).exists_for_patient()
measures.define_measure("smi_health_checks", numerator=six_checks, denominator=smi)
measures.define_measure("ld_health_checks",
                        numerator=learning_disability & events("ld_health_check", since=fy_start).exists_for_patient(),
                        denominator=learning_disability)
