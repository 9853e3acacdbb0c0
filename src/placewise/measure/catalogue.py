"""The indicator catalogue: declarative definitions over the canonical model, validated on load.

An indicator's numerator and denominator are built from a closed set of building blocks
(persons, events, expected counts, aggregate returns, and criteria over a person's coded
record). Nothing is evaluated from strings: every block is a pydantic model that the
compiler (:mod:`placewise.measure.compile`) turns into an Ibis expression.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from placewise.canonical import TABLE_BY_NAME, Column
from placewise.derive.records import CODE_COLUMN
from placewise.profile import Profile, ProfileError
from placewise.profile.registers import Register, Registers, known_codelists, load_registers
from placewise.yamltext import parse

MeasureType = Literal["proportion", "crude_rate", "dsr", "count", "mean", "median", "ratio", "returned"]
Polarity = Literal["higher_is_better", "lower_is_better", "neutral"]
Frequency = Literal["monthly", "quarterly", "annual", "rolling_12_months"]
Breakdown = Literal["none", "imd_quintile", "ethnic_group", "sex", "age_band", "sex_by_imd_quintile",
                    "ethnic_group_by_imd_quintile"]
CROSS_BREAKDOWNS: dict[str, tuple[str, str]] = {
    "sex_by_imd_quintile": ("sex", "imd_quintile"),
    "ethnic_group_by_imd_quintile": ("ethnic_group", "imd_quintile"),
}
"""Breakdowns by two attributes at once, for the slope index by deprivation within each sex or ethnic group.
A group is named ``<first>|<second>`` (``female|1``); both single breakdowns must be reported too."""
CROSS_SEPARATOR = "|"
BUILTIN_GEOGRAPHIES = ("ics", "place", "pcn", "practice", "provider", "site")
ENGLAND = "england"
"""The national comparator: a returned figure published for England as a whole (``placewise.returns.ENGLAND_CODE``)."""
HOSPITAL_GEOGRAPHIES = ("provider", "site")

EVENT_DATE: dict[str, str] = {
    "clinical_events": "event_date",
    "medications": "issue_date",
    "ae_attendances": "arrival",
    "inpatient_spells": "admission_date",
    "outpatient_appointments": "appointment_date",
    "referrals": "referral_date",
    "gp_appointments": "appointment_date",
    "mental_health_contacts": "contact_date",
    "community_contacts": "contact_date",
    "social_care_services": "start_date",
    "deaths": "date_of_death",
}
"""The date that places an event in a period, by table (overridable per definition)."""

_WINDOW = re.compile(r"^(period|ever|financial_year_to_date|last_(\d+)_months)$")


class CatalogueError(ProfileError):
    """The indicator catalogue is invalid; the message names the file, indicator id and field."""


class Strict(BaseModel):
    """Base for catalogue blocks: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _window(value: str) -> str:
    """Check a window: ``period``, ``ever``, ``financial_year_to_date`` or ``last_N_months`` (to the period end)."""
    if not _WINDOW.match(value):
        raise ValueError(f"window {value!r} must be 'period', 'ever', 'financial_year_to_date' or 'last_N_months'")
    return value


def window_months(window: str) -> int | None:
    """The N of a ``last_N_months`` window, or None for ``period`` and ``ever``."""
    m = _WINDOW.match(window)
    return int(m.group(2)) if m and m.group(2) else None


def _column(table: str, name: str) -> Column:
    """The canonical column ``table.name`` as the warehouse holds it, or a clear error."""
    for c in TABLE_BY_NAME[table].warehouse_columns():
        if c.name == name:
            return c
    raise ValueError(f"table {table} has no column {name!r}")


def _check_filters(table: str, where: dict[str, list[str | int | bool]], duration: Duration | None,
                   followed_by: FollowedBy | None) -> None:
    """Filter columns exist in the table, values are allowed ones, durations run between date columns."""
    for name, values in [*where.items(), *(followed_by.where.items() if followed_by else [])]:
        col = _column(table, name)
        bad = [v for v in values if col.allowed is not None and v not in col.allowed]
        if bad:
            raise ValueError(f"{table}.{name}: {bad} not among allowed values {list(col.allowed or ())}")
    for name in [duration.start, duration.end] if duration else []:
        if _column(table, name).dtype not in ("date", "timestamp"):
            raise ValueError(f"{table}.{name} is not a date or time column")


class AgeRange(Strict):
    """Ages in whole years, both ends inclusive; either end may be open."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        """The lower end does not exceed the upper end."""
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"age min {self.min} exceeds max {self.max}")
        return self


class HasCode(Strict):
    """The person has at least ``at_least`` records from a codelist in the window."""

    type: Literal["has_code"]
    codelist: list[str] = Field(min_length=1)
    table: Literal["clinical_events", "medications", "inpatient_spells"] = "clinical_events"
    window: str = "ever"
    at_least: int = Field(default=1, ge=1)

    _check_window = field_validator("window")(_window)
    _check_codelists = field_validator("codelist")(known_codelists)


class LatestValue(Strict):
    """The latest recorded value from a codelist in the window meets a comparison."""

    type: Literal["latest_value"]
    codelist: list[str] = Field(min_length=1)
    window: str = "last_12_months"
    comparison: Literal["lt", "le", "gt", "ge"]
    threshold: float

    _check_window = field_validator("window")(_window)
    _check_codelists = field_validator("codelist")(known_codelists)


class AgeCriterion(AgeRange):
    """The person's age at the period end lies in the range."""

    type: Literal["age"]


class OnRegister(Strict):
    """The person is on a condition register of the profile (``registers.yaml``) at the period end."""

    type: Literal["on_register"]
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="the register id")


class BloodPressure(Strict):
    """The latest blood pressure in the window is at or below the thresholds (both inclusive).

    The latest date with both a systolic and a diastolic reading; several readings that day: the
    lowest systolic and the lowest diastolic, as the QOF business rules take them.
    """

    type: Literal["blood_pressure"]
    window: str = "last_12_months"
    systolic_at_most: float = Field(gt=0)
    diastolic_at_most: float = Field(gt=0)
    systolic: list[str] = ["systolic_bp"]
    diastolic: list[str] = ["diastolic_bp"]

    _check_window = field_validator("window")(_window)
    _check_codelists = field_validator("systolic", "diastolic")(known_codelists)


class FirstRecord(Strict):
    """The person's first record from the codelists (their diagnosis) is on or after a date."""

    type: Literal["first_record"]
    codelist: list[str] = Field(min_length=1)
    on_or_after: date

    _check_codelists = field_validator("codelist")(known_codelists)


class NearFirstRecord(Strict):
    """A record from ``codelist`` (by the period end) from ``months_before`` months before to ``months_after``
    months after the person's first record from ``first`` (e.g. an objective test around an asthma diagnosis)."""

    type: Literal["near_first_record"]
    codelist: list[str] = Field(min_length=1)
    first: list[str] = Field(min_length=1)
    months_before: int = Field(ge=0)
    months_after: int = Field(ge=0)

    _check_codelists = field_validator("codelist", "first")(known_codelists)


class Cha2ds2Vasc(Strict):
    """The CHA2DS2-VASc stroke risk score at the period end is at least ``at_least``.

    Points as Lip et al. 2010 (:mod:`placewise.derive.scores`): each condition is the person being
    on any of the named registers; age and sex at the period end.
    """

    type: Literal["cha2ds2_vasc"]
    at_least: int = Field(ge=0, le=9)
    congestive_heart_failure: list[str] = ["heart_failure"]
    hypertension: list[str] = ["hypertension"]
    diabetes: list[str] = ["diabetes"]
    stroke: list[str] = ["stroke_tia"]
    vascular: list[str] = ["chd"]

    @property
    def components(self) -> dict[str, list[str]]:
        """Register ids by score component."""
        return {k: getattr(self, k) for k in ("congestive_heart_failure", "hypertension", "diabetes", "stroke",
                                              "vascular")}


class AllOf(Strict):
    """Every criterion holds."""

    type: Literal["all_of"]
    criteria: list[Criterion] = Field(min_length=1)


class AnyOf(Strict):
    """At least one criterion holds."""

    type: Literal["any_of"]
    criteria: list[Criterion] = Field(min_length=1)


class Not(Strict):
    """The criterion does not hold."""

    type: Literal["not"]
    criterion: Criterion


Criterion = Annotated[HasCode | LatestValue | AgeCriterion | OnRegister | BloodPressure | Cha2ds2Vasc | FirstRecord
                      | NearFirstRecord | AllOf | AnyOf | Not, Field(discriminator="type")]
AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


class Persons(Strict):
    """People registered with a practice of the system at the period end who meet every criterion."""

    kind: Literal["persons"]
    age: AgeRange = AgeRange()
    sex: list[Literal["female", "male", "indeterminate", "unknown"]] = []
    criteria: list[Criterion] = []


class Duration(Strict):
    """A filter on the time between two date or time columns of the event."""

    start: str
    end: str
    unit: Literal["minutes", "days"]
    at_most: float | None = None
    at_least: float | None = None


class DaysBetween(Strict):
    """A value: whole days from one date column to another (e.g. length of stay)."""

    days_between: tuple[str, str]


class AgeAtEvent(Strict):
    """A value: the person's age in whole years at the event."""

    age_at_event: Literal[True]


EventValue = DaysBetween | AgeAtEvent


class FollowedBy(Strict):
    """The event is followed, within some days of its date, by another event of the same table."""

    where: dict[str, list[str | int | bool]] = {}
    within_days: int = Field(ge=1)


class Events(Strict):
    """Rows of one table in the period, filtered declaratively; counted as events or persons."""

    kind: Literal["events"]
    table: str
    date: str | None = Field(default=None, description="date column that places the event; table default")
    where: dict[str, list[str | int | bool]] = {}
    codelist: list[str] = []
    secondary_codelist: list[str] = Field(default=[], description="inpatient spells: a code from these lists in "
                                          "any secondary diagnosis position (inpatient_diagnoses)")
    duration: Duration | None = None
    age: AgeRange = AgeRange()
    followed_by: FollowedBy | None = None
    first_ever: bool = Field(default=False, description="keep only each person's first matching event ever")
    new_after_days: int | None = Field(default=None, ge=1, description="keep only events with no other matching "
                                       "event in the previous N days: the start of a new course")
    count: Literal["events", "persons"] = "events"
    value: EventValue | None = Field(default=None, description="summed (or averaged) instead of counting rows")

    _check_codelists = field_validator("codelist", "secondary_codelist")(known_codelists)

    @model_validator(mode="after")
    def _columns_exist(self) -> Events:
        """Table, columns, allowed values and codelist column are all in the canonical model."""
        if self.table not in EVENT_DATE or self.table == "deaths":
            raise ValueError(f"table {self.table!r} is not an event table; use one of {sorted(EVENT_DATE)}")
        _check_filters(self.table, self.where, self.duration, self.followed_by)
        dates = [self.date_column] + (list(self.value.days_between) if isinstance(self.value, DaysBetween) else [])
        for name in dates:
            if _column(self.table, name).dtype not in ("date", "timestamp"):
                raise ValueError(f"{self.table}.{name} is not a date or time column")
        if self.codelist and self.table not in CODE_COLUMN:
            raise ValueError(f"table {self.table} has no coded column for a codelist")
        if self.secondary_codelist and self.table != "inpatient_spells":
            raise ValueError("secondary_codelist applies to inpatient_spells (their secondary diagnoses)")
        if self.count == "persons" and self.value is not None:
            raise ValueError("a value cannot be summed when counting persons")
        if self.first_ever and (self.table not in ("clinical_events", "medications") or isinstance(
                self.value, DaysBetween) or self.followed_by):
            raise ValueError("first_ever applies to coded primary-care records, with no value but age at event")
        return self

    @property
    def date_column(self) -> str:
        """The date column that places the event in a period."""
        return self.date or EVENT_DATE[self.table]

    @property
    def has_provider(self) -> bool:
        """Whether events carry a provider (and so can be reported by provider)."""
        return self.count == "events" and "provider_code" in TABLE_BY_NAME[self.table].source_schema().names


class ExpectedRate(Strict):
    """Expected prevalence (per 100) in one age band, by sex."""

    age_min: int = Field(ge=0)
    age_max: int | None = None
    female: float = Field(ge=0, le=100)
    male: float = Field(ge=0, le=100)


class Expected(Strict):
    """Expected cases: the registered population at the period end times age- and sex-specific rates."""

    kind: Literal["expected"]
    rates: list[ExpectedRate] = Field(min_length=1)
    source: str


class Aggregate(Strict):
    """One column of a measure in the ``aggregate_returns`` table, summed over the period."""

    kind: Literal["aggregate"]
    measure: str
    column: Literal["numerator", "denominator", "value"]


class Subset(Strict):
    """The numerator is those units of the denominator that also meet extra conditions."""

    kind: Literal["subset"]
    criteria: list[Criterion] = Field(default=[], description="for a persons denominator")
    where: dict[str, list[str | int | bool]] = Field(default={}, description="for an events denominator")
    duration: Duration | None = None
    followed_by: FollowedBy | None = None


Count = Annotated[Persons | Events | Expected | Aggregate, Field(discriminator="kind")]
Numerator = Annotated[Persons | Events | Expected | Aggregate | Subset, Field(discriminator="kind")]


class TrajectoryPoint(Strict):
    """A planned value for the period starting on ``period``."""

    period: date
    value: float


FinancialYear = Annotated[str, Field(pattern=r"^20[0-9]{2}/[0-9]{2}$")]


def _check_financial_year(year: str) -> str:
    """A financial year's two parts are consecutive years (2024/25, not 2024/26)."""
    if (int(year[:4]) + 1) % 100 != int(year[5:]):
        raise ValueError(f"{year!r} is not a financial year (e.g. 2024/25)")
    return year


class YearTarget(Strict):
    """The target for one financial year (``2024/25``), with the guidance that sets it and where it was checked."""

    year: FinancialYear
    value: float
    source: str = Field(min_length=1)
    document: str = Field(default="", description="title of the document that sets the target")
    section: str = Field(default="", description="its section, table or page")
    checked: str = Field(default="", description="the stored copy the figure was checked against")

    _year = field_validator("year")(_check_financial_year)


class UnsetYears(Strict):
    """Financial years with no operating-plan figure held, and why (not found in the guidance, or none set)."""

    first: FinancialYear
    last: FinancialYear
    reason: str = Field(min_length=1)
    none_set: bool = Field(default=False, description="the national guidance for these years was read and sets no "
                           "figure (the report says there is no national target), rather than none being found")

    _years = field_validator("first", "last")(_check_financial_year)

    def covers(self, year: str) -> bool:
        """Whether ``year`` lies in this range."""
        return self.first <= year <= self.last


def financial_year(d: date) -> str:
    """The NHS financial year (April to March) holding ``d``, as ``2024/25``."""
    start = d.year if d.month >= 4 else d.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


class Target(Strict):
    """A standing target value, targets by financial year, a trajectory by period, with their sources."""

    value: float | None = None
    years: list[YearTarget] = Field(default=[], description="targets that change by financial year")
    since: str | None = Field(default=None, pattern=r"^20[0-9]{2}/[0-9]{2}$",
                              description="first financial year the standing value applies to")
    until: str | None = Field(default=None, pattern=r"^20[0-9]{2}/[0-9]{2}$",
                              description="last financial year the standing value applies to (a retired standard)")
    trajectory: list[TrajectoryPoint] = []
    source: str
    unset: list[UnsetYears] = Field(default=[], description="years with no plan figure held, and why")

    def unset_reason(self, year: str) -> str:
        """Why no operating-plan figure is held for ``year``; empty when the profile gives no reason."""
        return next((u.reason for u in self.unset if u.covers(year)), "")

    def none_set(self, year: str) -> bool:
        """Whether the profile declares that the national guidance for ``year`` sets no figure for it."""
        return any(u.none_set and u.covers(year) for u in self.unset)

    def stands_in(self, year: str) -> bool:
        """Whether the standing value applies in financial ``year``: there is one, and ``year`` lies within its
        ``since`` and ``until``."""
        return (self.value is not None and (self.since is None or year >= self.since)
                and (self.until is None or year <= self.until))

    def for_period(self, period_end: date) -> YearTarget | None:
        """The target for the financial year holding ``period_end``: that year's own, else the standing value."""
        fy = financial_year(period_end)
        own = next((y for y in self.years if y.year == fy), None)
        if own is not None or self.value is None or not self.stands_in(fy):
            return own
        return YearTarget(year=fy, value=self.value, source=self.source)

    @model_validator(mode="after")
    def _something(self) -> Target:
        """A target states a value or a trajectory."""
        if self.value is None and not self.trajectory and not self.years:
            raise ValueError("a target needs a value, targets by year or a trajectory")
        if self.until is not None and (self.value is None or (self.since or self.until) > self.until):
            raise ValueError(f"until {self.until!r} needs a standing value and must not be before since")
        return self


class NoTarget(Strict):
    """Why an indicator has no target: no national standard is published for it, or no local figure is held."""

    label: str = Field(min_length=1, max_length=30, description="a few words for the summary's Target column")
    reason: str = Field(min_length=1, description="the sentence on the indicator's page, with its source")


class Indicator(Strict):
    """One indicator: what it counts, how the value is formed, and how it is reported."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    definition: str
    domain: str
    measure: MeasureType
    per: int = Field(default=1, ge=1, description="multiplier: 100 for a percentage, 100000 for a rate")
    numerator: Numerator
    denominator: Count | None = None
    polarity: Polarity
    target: Target | None = None
    no_target: NoTarget | None = Field(default=None, description="why there is no target, where none is published")
    standard_source: str
    specification: str = Field(min_length=1, description="the published definition followed, by name")
    version: str = Field(min_length=1, description="its version or date")
    deviations: list[str] = Field(default=[], description="every deliberate departure from the specification")
    frequency: Frequency
    geographies: list[str] = Field(min_length=1)
    breakdowns: list[Breakdown] = ["none"]

    @model_validator(mode="after")
    def _consistent(self) -> Indicator:
        """Measure type, numerator, denominator, geographies and breakdowns fit together."""
        needs_den = self.measure in ("proportion", "crude_rate", "dsr", "ratio")
        if self.target is not None and self.no_target is not None:
            raise ValueError("no_target: an indicator with a target cannot also say why it has none")
        if self.measure == "returned":
            return self._check_returned()
        if needs_den and self.denominator is None:
            raise ValueError(f"denominator: a {self.measure} needs a denominator")
        if not needs_den and self.denominator is not None:
            raise ValueError(f"denominator: a {self.measure} has none (the count of units is kept)")
        if isinstance(self.numerator, Subset):
            self._check_subset()
        if isinstance(self.numerator, Expected):
            raise ValueError("numerator: expected counts can only be a denominator")
        if self.measure in ("mean", "median") and not (
            isinstance(self.numerator, Events) and self.numerator.value is not None
        ):
            raise ValueError("numerator: a mean or median needs events with a value")
        if self.measure == "dsr":
            if not isinstance(self.denominator, Persons) or isinstance(self.numerator, (Aggregate, Subset)):
                raise ValueError("a directly standardised rate needs events or persons over a persons denominator")
            if "age_band" in self.breakdowns:
                raise ValueError("breakdowns: a directly standardised rate cannot be broken down by age band")
        for cross, parts in CROSS_BREAKDOWNS.items():
            missing = [p for p in parts if cross in self.breakdowns and p not in self.breakdowns]
            if missing:
                raise ValueError(f"breakdowns: {cross} needs {' and '.join(missing)} reported too, so that disclosure "
                                 "control can protect its cells against both totals")
        self._check_geographies()
        return self

    def _check_returned(self) -> Indicator:
        """A returned figure reads aggregate returns only, by ICS, provider or a profile grouping."""
        parts = [p for p in (self.numerator, self.denominator) if p is not None]
        if not all(isinstance(p, Aggregate) for p in parts):
            raise ValueError("numerator: a returned figure reads aggregate returns only")
        bad = [g for g in self.geographies if g in BUILTIN_GEOGRAPHIES and g not in ("ics", "provider")]
        if bad:
            raise ValueError(f"geographies: returns are reported by ics, provider or a grouping, not {bad}")
        if self.breakdowns != ["none"]:
            raise ValueError("breakdowns: aggregate returns have no breakdowns")
        return self

    @property
    def is_returned(self) -> bool:
        """Whether the figure is read from aggregate returns (published statistics)."""
        return self.measure == "returned"

    @property
    def sums_values(self) -> bool:
        """Whether it is a rate whose numerator sums a value per event (bed days: the days of each spell), so that its
        variance is a compound Poisson sum's, the sum of the squared values, not the number of events'."""
        return self.measure == "crude_rate" and isinstance(self.numerator, Events) and self.numerator.value is not None

    @property
    def follow_up_days(self) -> int:
        """Days after a period's end that its events are followed up (``followed_by``); 0 if none."""
        days = [f.within_days for p in (self.numerator, self.denominator)
                if isinstance(p, (Events, Subset)) and (f := p.followed_by)]
        return max(days, default=0)

    def _check_subset(self) -> None:
        """A subset numerator refines the kind of denominator it sits on."""
        num, den = self.numerator, self.denominator
        assert isinstance(num, Subset)
        if isinstance(den, Persons) and (num.where or num.duration or num.followed_by):
            raise ValueError("numerator: a subset of persons takes criteria only")
        if isinstance(den, Events):
            if num.criteria:
                raise ValueError("numerator: a subset of events takes where, duration or followed_by only")
            _check_filters(den.table, num.where, num.duration, num.followed_by)
        if not isinstance(den, (Persons, Events)):
            raise ValueError("numerator: a subset needs a persons or events denominator")

    def _check_geographies(self) -> None:
        """Hospital geographies need provider-level units on both sides; aggregates have no practice."""
        parts = [p for p in (self.numerator, self.denominator) if p is not None and not isinstance(p, Subset)]
        hospital = all(isinstance(p, Aggregate) or (isinstance(p, Events) and p.has_provider) for p in parts)
        aggregate = any(isinstance(p, Aggregate) for p in parts)
        if aggregate and not all(isinstance(p, Aggregate) for p in parts):
            raise ValueError("numerator and denominator: aggregate returns cannot be mixed with person-level data")
        for g in self.geographies:
            if g in HOSPITAL_GEOGRAPHIES and not hospital:
                raise ValueError(f"geographies: {g} needs events with a provider on both sides")
            if aggregate and g not in ("ics", "provider", ENGLAND):
                raise ValueError(f"geographies: aggregate returns are reported by ics, provider and england only, "
                                 f"not {g}")
            if g == ENGLAND and not aggregate:
                raise ValueError("geographies: england is a published comparator, read from aggregate returns only")
        if aggregate and self.breakdowns != ["none"]:
            raise ValueError("breakdowns: aggregate returns have no breakdowns")


class Catalogue(Strict):
    """The whole catalogue: shared settings and the indicators."""

    age_bands: list[int] = Field(min_length=1, description="lower bounds of the reporting age bands")
    indicators: list[Indicator] = Field(min_length=1)
    ics_code: str = ""
    groupings: dict[str, dict[str, list[str]]] = {}
    """Grouping kind → grouping code → member Place codes (filled from the profile on load)."""
    registers: Registers | None = None
    """The profile's condition registers (filled from the profile on load)."""

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        """Ids are unique and age bands ascend from 0."""
        ids = [i.id for i in self.indicators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"indicators: duplicate id(s) {dupes}")
        if self.age_bands[0] != 0 or sorted(set(self.age_bands)) != self.age_bands:
            raise ValueError("age_bands: lower bounds must start at 0 and strictly ascend")
        return self

    def register(self, register_id: str) -> Register:
        """The condition register with this id."""
        if self.registers is None:
            raise KeyError(f"no register {register_id!r}: the catalogue was loaded without registers")
        return self.registers.get(register_id)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id."""
        for i in self.indicators:
            if i.id == indicator_id:
                return i
        raise UnknownIndicator(f"no indicator {indicator_id!r} in the catalogue")


class UnknownIndicator(KeyError, ValueError):
    """An indicator id the catalogue does not define (a KeyError for lookups, a ValueError for the command line)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _error_lines(path: Path, raw: object, err: ValidationError) -> list[str]:
    """Each validation error as 'file: indicator <id>: field.path: message'."""
    items = raw.get("indicators") if isinstance(raw, dict) else None
    lines = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int) and isinstance(items, list):
            item = items[loc[1]] if loc[1] < len(items) else {}
            ident = item.get("id", f"#{loc[1] + 1}") if isinstance(item, dict) else f"#{loc[1] + 1}"
            where = f"indicator {ident}: " + (".".join(str(p) for p in loc[2:]) or "(indicator)")
        lines.append(f"{path}: {where}: {e['msg']}")
    return lines


def criteria_of(ind: Indicator) -> list[Criterion]:
    """Every criterion in the indicator's numerator and denominator, nested ones included."""
    out: list[Criterion] = []
    todo: list[Criterion] = [c for part in (ind.numerator, ind.denominator)
                             for c in getattr(part, "criteria", None) or []]
    while todo:
        c = todo.pop()
        out.append(c)
        todo += getattr(c, "criteria", None) or ([c.criterion] if isinstance(c, Not) else [])
    return out


def registers_named(c: Criterion) -> list[str]:
    """The register ids a criterion refers to (not those of criteria nested in it)."""
    if isinstance(c, OnRegister):
        return [c.name]
    if isinstance(c, Cha2ds2Vasc):
        return [r for regs in c.components.values() for r in regs]
    return []


def parse_catalogue(path: Path, groupings: dict[str, dict[str, list[str]]], ics_code: str,
                    registers: Registers | None = None) -> Catalogue:
    """Read and validate a catalogue file; geographies may also name the profile's grouping kinds."""
    try:
        raw = parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"{path}: catalogue file not found") from None
    except yaml.YAMLError as e:
        raise CatalogueError(f"{path}: not valid YAML: {e}") from None
    try:
        cat = Catalogue.model_validate({**(raw or {}), "groupings": groupings, "ics_code": ics_code,
                                        "registers": registers})
    except ValidationError as e:
        raise CatalogueError("invalid indicator catalogue\n" + "\n".join(_error_lines(path, raw, e))) from None
    known = {*BUILTIN_GEOGRAPHIES, ENGLAND, *groupings}
    for ind in cat.indicators:
        bad = [g for g in ind.geographies if g not in known]
        if bad:
            raise CatalogueError(f"{path}: indicator {ind.id}: geographies: unknown {bad}; known: {sorted(known)}")
        ids = {r.id for r in registers.registers} if registers else set()
        named = {n for c in criteria_of(ind) for n in registers_named(c)}
        missing = sorted(named - ids)
        if missing:
            raise CatalogueError(f"{path}: indicator {ind.id}: on_register: unknown register(s) {missing}; "
                                 f"known: {sorted(ids)}")
    return cat


def load_catalogue(profile: Profile) -> Catalogue:
    """The profile's indicator catalogue (``indicators.yaml``), validated against its geographies."""
    groupings: dict[str, dict[str, list[str]]] = {}
    for g in profile.ics.groupings:
        groupings.setdefault(g.kind, {})[g.code] = list(g.places)
    return parse_catalogue(profile.folder / "indicators.yaml", groupings, profile.ics.code, load_registers(profile))
