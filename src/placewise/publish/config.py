"""The report's sections of the ICS profile, validated: programmes, assurance matrix, report settings.

``programmes.yaml``: the Health Services Strategy delivery programmes and their KPIs, with
baselines by Place and targets. ``assurance.yaml``: the NHS England operating targets
(the Joint Forward Plan's Appendix D assurance matrix) with outturns and actions.
``report.yaml``: the report's own settings (the disclosure rule is the profile's ``disclosure.yaml``).
``core20plus5.yaml``: NHS England's Core20PLUS5 clinical areas mapped onto the catalogue (report and web pages).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from placewise.measure import Catalogue
from placewise.profile import Profile

Polarity = Literal["higher_is_better", "lower_is_better", "neutral", "unclear"]


class Strict(BaseModel):
    """Base for report configuration: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Baseline(Strict):
    """A KPI's baseline for one geography, as the source prints it."""

    geography: str
    value: float | None = None
    period: str | None = None
    doubtful: bool = Field(default=False, description="printed value known to be wrong; shown but not used")
    note: str = ""


class Kpi(Strict):
    """A programme KPI with its baselines by geography and its target."""

    kpi: str
    detail: str = ""
    unit: str
    polarity: Polarity
    polarity_inferred: bool = False
    baselines: list[Baseline] = Field(min_length=1)
    target_value: float | None = None
    target_text: str
    target_date: str | None = None
    source: str = Field(min_length=1, description="seed file and lines")
    latest_value: float | None = Field(default=None, description="latest outturn, where recorded")
    latest_period: str | None = None
    indicator: str | None = Field(default=None, description="catalogue indicator that measures this KPI")
    breakdown: Literal["none", "imd_quintile_gap"] = Field(default="none", description="which of its rows")


class Programme(Strict):
    """One of the Health Services Strategy delivery programmes."""

    number: int = Field(ge=1)
    name: str
    focus: str
    exec_lead: str
    kpis: list[Kpi] = []
    source: str = Field(min_length=1)


class Programmes(Strict):
    """The delivery programmes, numbered from 1 without gaps."""

    source_document: str
    programmes: list[Programme] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered(self) -> Programmes:
        """Programme numbers run 1, 2, 3… in order."""
        numbers = [p.number for p in self.programmes]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"programmes: numbers must run 1..{len(numbers)} in order, not {numbers}")
        return self


class AssuranceTarget(Strict):
    """One line of the assurance matrix: an NHS England target, the outturn, met or not, actions."""

    id: str = Field(pattern=r"^\d+[a-z]?$")
    area: str
    target: str
    target_value: float | None = None
    target_unit: str = ""
    target_date: str
    polarity: Polarity
    baseline_value: float | None = None
    outturn_value: float | None = None
    outturn_unit: str = ""
    outturn_date: str | None = None
    met: Literal["yes", "no", "unknown"]
    actions: str = ""
    source: str = Field(min_length=1)
    note: str = ""
    indicator: str | None = Field(default=None, description="catalogue indicator that measures this target")

    @model_validator(mode="after")
    def _met_has_evidence(self) -> AssuranceTarget:
        """A yes or no needs both a target value and an outturn."""
        if self.met != "unknown" and (self.target_value is None or self.outturn_value is None):
            raise ValueError(f"target {self.id}: met is {self.met!r} but the target value or outturn is missing")
        return self


class Assurance(Strict):
    """The assurance matrix."""

    source_document: str
    as_at: date
    targets: list[AssuranceTarget] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Assurance:
        """Target ids are unique."""
        ids = [t.id for t in self.targets]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"targets: duplicate id(s) {dupes}")
        return self


class NamedProvider(Strict):
    """A provider named as it was when historical data were published (since merged or renamed)."""

    code: str = Field(pattern=r"^[A-Z0-9]{3}$")
    name: str


class PlaceProviders(Strict):
    """Each Place's main providers, in order: a Place report shows their returned standards (RTT, cancer,
    diagnostics, ambulance, beds, mental health), which are published by provider, not by Place."""

    source: str
    names: dict[str, str] = Field(default={}, description="provider code -> name, for providers the ICS profile "
                                  "does not list")
    places: dict[str, list[str]] = Field(description="Place code -> its main providers' codes, first preferred")


class ReportSettings(Strict):
    """Settings of the integrated performance report."""

    title: str
    months_shown: int = Field(ge=6, description="periods shown on SPC charts")
    rebase: dict[str, list[date]] = Field(
        default={}, description="indicator id -> first periods of new SPC segments (declared process changes)")
    historical_providers: list[NamedProvider] = Field(
        default=[], description="names of providers in historical returns that the ICS profile no longer lists")
    reference_groups: dict[Literal["sex", "ethnic_group", "age_band"], str] = Field(
        default={}, description="breakdown -> the group every other group's gap is measured against")
    england_sources: dict[str, str] = Field(
        default={}, description="indicator id -> where its England comparator (geography E92000001) comes from")
    place_providers: PlaceProviders | None = None


def load_programmes(profile: Profile) -> Programmes:
    """The profile's delivery programmes (``programmes.yaml``)."""
    return profile.section("programmes", Programmes)


def load_assurance(profile: Profile) -> Assurance:
    """The profile's assurance matrix (``assurance.yaml``)."""
    return profile.section("assurance", Assurance)


def load_settings(profile: Profile) -> ReportSettings:
    """The profile's report settings (``report.yaml``)."""
    return profile.section("report", ReportSettings)


class Core20Area(Strict):
    """One clinical area of Core20PLUS5 and the catalogue indicators that measure it."""

    name: str
    indicators: list[str]


class Core20Plus5(Strict):
    """The Core20PLUS5 approach as the profile maps it onto the catalogue (``core20plus5.yaml``)."""

    source: str
    core: str
    areas: list[Core20Area]


def load_core20(profile: Profile, catalogue: Catalogue) -> Core20Plus5:
    """The profile's Core20PLUS5 mapping; every indicator it names must be in the catalogue."""
    c = profile.section("core20plus5", Core20Plus5)
    known = {i.id for i in catalogue.indicators}
    unknown = [i for a in c.areas for i in a.indicators if i not in known]
    if unknown:
        raise ValueError(f"{profile.folder / 'core20plus5.yaml'}: indicators not in the catalogue: {unknown}")
    return c
