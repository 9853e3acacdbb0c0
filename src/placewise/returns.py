"""The aggregate returns Placewise reads: each published collection, its measures and what each column holds.

Every return arrives as rows of the canonical ``aggregate_returns`` table (period, org_code, measure,
numerator, denominator, value). This module says, per measure, which columns a row must give and what
they mean; ingest quarantines a row that breaks its measure's rule, naming the row, field and rule, and
``docs/aggregate-returns.md`` is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["proportion", "count", "mean"]
ENGLAND_CODE = "E92000001"
"""The ``org_code`` of a figure for England as a whole (its ONS code): the national comparator."""


@dataclass(frozen=True)
class ReturnMeasure:
    """One measure of a return: a proportion, a count or a mean, with its columns described."""

    id: str
    kind: Kind
    description: str
    numerator: str = ""
    denominator: str = ""
    value: str = ""


@dataclass(frozen=True)
class Return:
    """One published collection: who returns it, for what period, and its measures."""

    id: str
    title: str
    collection: str
    org: str
    period: str
    measures: tuple[ReturnMeasure, ...]
    quarterly: bool = False
    """Periods are quarters of the financial year, ``period`` the first day of April, July, October or January."""


def _prop(id_: str, description: str, numerator: str, denominator: str) -> ReturnMeasure:
    """A proportion: numerator and denominator required (0 ≤ numerator ≤ denominator); or the value alone."""
    return ReturnMeasure(id_, "proportion", description, numerator, denominator,
                         "the published share (0–1), where only the share is printed")


def _count(id_: str, description: str, value: str) -> ReturnMeasure:
    """A count: the value required, a whole number of 0 or more."""
    return ReturnMeasure(id_, "count", description, value=value)


def _mean(id_: str, description: str) -> ReturnMeasure:
    """A mean response time: total minutes over incidents, or the published mean alone."""
    return ReturnMeasure(id_, "mean", description, "total response time of the incidents, minutes",
                         "incidents", "the published mean, minutes, where only the mean is printed")


RETURNS: tuple[Return, ...] = (
    Return("ae", "A&E attendances and emergency admissions", "NHS England monthly A&E statistics (Monthly "
           "Situation Report)", "provider (trust ODS code)", "calendar month", (
               _prop("ae_4hr_type1", "type 1 attendances ending within four hours of arrival",
                     "type 1 attendances within four hours", "type 1 attendances"),
               _prop("ae_4hr_all", "attendances at all department types ending within four hours",
                     "attendances within four hours", "attendances"),
               _count("ae_attendances_all", "attendances at all department types", "attendances"),
               _count("ae_emergency_admissions", "emergency admissions", "admissions"),
           )),
    Return("rtt", "Referral to treatment: incomplete pathways and clock stops", "NHS England Consultant-led "
           "Referral to Treatment Waiting Times (incomplete pathways at the month end; completed pathways, admitted and "
           "non-admitted, in the month)", "provider, or commissioner (CCG/ICB code)",
           "calendar month (incomplete pathways: the snapshot at its end; clock stops: those in it)", (
               _prop("rtt_within_18wk", "incomplete pathways waiting 18 weeks or less",
                     "pathways waiting 18 weeks or less", "all incomplete pathways"),
               _count("rtt_waiting_list", "incomplete pathways (the waiting list)", "pathways"),
               _count("rtt_over_52wk", "incomplete pathways waiting more than 52 weeks", "pathways"),
               _count("rtt_over_65wk", "incomplete pathways waiting more than 65 weeks", "pathways"),
               _count("rtt_clock_stops_admitted", "completed pathways whose clock stopped in the month at an admission "
                      "for treatment (admitted)", "pathways"),
               _count("rtt_clock_stops_non_admitted", "completed pathways whose clock stopped in the month without an "
                      "admission: treatment started in outpatients, or discharged (non-admitted)", "pathways"),
               _prop("rtt_admitted_within_18wk", "admitted completed pathways whose clock stopped within 18 weeks "
                     "of its start", "admitted clock stops within 18 weeks", "admitted clock stops in the month"),
               _prop("rtt_non_admitted_within_18wk", "non-admitted completed pathways whose clock stopped within 18 "
                     "weeks of its start", "non-admitted clock stops within 18 weeks",
                     "non-admitted clock stops in the month"),
           )),
    Return("cwt", "Cancer waiting times", "NHS England Cancer Waiting Times (CWT) monthly provider and "
           "commissioner statistics", "provider, or commissioner", "calendar month", (
               _prop("cancer_fds_28d", "Faster Diagnosis Standard: cancer ruled out or diagnosed within 28 days "
                     "of an urgent referral", "told within 28 days", "people told"),
               _prop("cancer_2ww", "two-week wait: first seen within 14 days of an urgent GP referral for suspected "
                     "cancer (standard retired October 2023)", "seen within 14 days", "people seen"),
               _prop("cancer_31d", "31-day decision to treat to first or subsequent treatment (combined)",
                     "treated within 31 days", "people treated"),
               _prop("cancer_62d", "62-day urgent referral to first treatment (combined routes)",
                     "treated within 62 days", "people treated"),
           )),
    Return("dm01", "Diagnostic waiting times (DM01)", "NHS England Diagnostics Waiting Times and Activity "
           "(DM01), 15 key tests", "provider, or commissioner", "calendar month (waiting list at its end)", (
               _prop("diagnostics_within_6wk", "people waiting for a test who have waited under six weeks",
                     "waiting under six weeks", "total waiting list"),
           )),
    Return("ambsys", "Ambulance response times", "NHS England Ambulance Quality Indicators (AmbSYS); contract "
           "reports where local", "ambulance trust, or commissioner", "calendar month", (
               _mean("ambulance_cat1_mean", "category 1 (life-threatening) mean response time"),
               _mean("ambulance_cat2_mean", "category 2 (emergency) mean response time"),
           )),
    Return("kh03", "General and acute bed occupancy (KH03)", "NHS England Bed Availability and Occupancy "
           "(KH03), a quarterly collection: the average daily number of general and acute beds open overnight and "
           "of those occupied over the quarter", "provider (trust ODS code)", "quarter of the financial year "
           "(averages of the daily counts)", (
               _prop("ga_bed_occupancy", "general and acute beds occupied, of those available (average daily number "
                     "over the quarter)", "occupied G&A beds, average daily number",
                     "available G&A beds, average daily number"),
           ), quarterly=True),
    Return("mhsds", "Mental health standards", "NHS England Mental Health Services Monthly Statistics (MHSDS) and "
           "the Out of Area Placements collection", "mental health provider, or commissioner", "calendar month", (
               _prop("eip_within_2wk", "early intervention in psychosis: referrals starting treatment within two "
                     "weeks", "started treatment within two weeks", "referrals starting treatment"),
               _count("oap_inappropriate_bed_days", "inappropriate adult acute out-of-area placement bed days in the "
                      "month", "bed days"),
           )),
    Return("list_size", "Registered list size", "NHS Digital Patients Registered at a GP Practice",
           "practice", "calendar month", (
               _count("registered_list_size", "people registered", "people"),
           )),
)

MEASURES: dict[str, ReturnMeasure] = {m.id: m for r in RETURNS for m in r.measures}
"""Every known return measure by id; rows of other measures are stored as delivered, unchecked."""
QUARTERLY: frozenset[str] = frozenset(m.id for r in RETURNS if r.quarterly for m in r.measures)
"""Measures returned by quarter: ingest refuses a row whose period is not the first day of a quarter."""


def returns_markdown() -> str:
    """The file format of every return as Markdown, for ``docs/aggregate-returns.md``."""
    out: list[str] = []
    for r in RETURNS:
        out += [f"## {r.title} (`{r.id}`)", "", f"Source: {r.collection}. One row per `org_code` ({r.org}) "
                f"and period ({r.period}); `period` is the first day of the "
                f"{'quarter (1 April, 1 July, 1 October or 1 January)' if r.quarterly else 'month'}.", "",
                "| measure | kind | meaning | numerator | denominator | value |", "|---|---|---|---|---|---|"]
        out += [f"| `{m.id}` | {m.kind} | {m.description} | {m.numerator or '–'} | {m.denominator or '–'} "
                f"| {m.value or '–'} |" for m in r.measures]
        out.append("")
    return "\n".join(out)
