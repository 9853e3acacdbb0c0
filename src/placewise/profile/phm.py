"""Population health management as declared objects: the profile's ``phm.yaml``, validated on load.

Three parts, each following a published definition that it names: the electronic Frailty Index
(Clegg et al. 2016), the Cambridge Multimorbidity Score (Payne et al. 2020) and a life-course
segmentation in priority order (Bridges to Health, Lynn et al. 2007). Each is made of
:class:`Criterion` objects, which :mod:`placewise.derive.criteria` compiles to one query.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from placewise.profile.model import Profile, Strict, validate
from placewise.profile.registers import Ages, known_codelists


class Criterion(Strict):
    """A fact about a person's record at the reference date.

    Records from the codelists in the ``months`` months to the date (ever, if none): at least
    ``at_least`` of them, or, with ``value_below``, the highest of the last ``of_last`` daily values (each
    the lowest of its day) below it;
    ``unless`` any of the other criteria holds.
    """

    codelist: list[str] = Field(min_length=1)
    table: Literal["clinical_events", "medications"] = "clinical_events"
    months: int | None = Field(default=None, ge=1)
    at_least: int = Field(default=1, ge=1)
    value_below: float | None = None
    of_last: int = Field(default=1, ge=1, description="value rule: the highest of the last N daily values")
    unless: list[Criterion] = []

    _check = field_validator("codelist")(known_codelists)

    @model_validator(mode="after")
    def _value_on_events(self) -> Criterion:
        """A value rule reads clinical events and takes the latest value, not a count."""
        if self.value_below is not None and (self.table != "clinical_events" or self.at_least != 1):
            raise ValueError("value_below needs table clinical_events and no at_least")
        if self.of_last != 1 and self.value_below is None:
            raise ValueError("of_last applies to a value rule (value_below)")
        return self


class Deficit(Strict):
    """One eFI deficit: present when any of its criteria holds."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    any: list[Criterion] = Field(min_length=1)


class Polypharmacy(Strict):
    """The eFI polypharmacy deficit: at least ``distinct_products`` different products issued in ``months``."""

    distinct_products: int = Field(ge=2)
    months: int = Field(ge=1)


class FrailtyBands(Strict):
    """Upper bounds (inclusive) of the fit, mild and moderate bands; above moderate is severe."""

    fit: float = Field(gt=0, lt=1)
    mild: float = Field(gt=0, lt=1)
    moderate: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _rising(self) -> FrailtyBands:
        """The bands rise."""
        if not self.fit < self.mild < self.moderate:
            raise ValueError("frailty bands must rise: fit < mild < moderate")
        return self


class Frailty(Strict):
    """The electronic Frailty Index: deficits present ÷ number of deficits, for people of ``min_age`` and over."""

    specification: str
    version: str
    min_age: int = Field(ge=0)
    deficits: list[Deficit] = Field(min_length=1)
    polypharmacy: Polypharmacy
    polypharmacy_title: str = "Polypharmacy"
    bands: FrailtyBands
    deviations: list[str] = []

    @property
    def n_deficits(self) -> int:
        """How many deficits the index counts (coded ones and polypharmacy)."""
        return len(self.deficits) + 1


class Condition(Strict):
    """One Cambridge Multimorbidity Score condition: present when any criterion holds and all of ``also`` do."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    weight: float
    rule: str = Field(min_length=1, description="the published rule, in words")
    any: list[Criterion] = []
    also: list[Criterion] = []
    not_available: str | None = Field(default=None, description="why the condition cannot yet be found")

    @model_validator(mode="after")
    def _rule_or_reason(self) -> Condition:
        """A condition has criteria or says why it has none."""
        if not self.any and not self.not_available:
            raise ValueError(f"condition {self.id}: give criteria ('any') or a 'not_available' reason")
        if self.any and self.not_available:
            raise ValueError(f"condition {self.id}: criteria and 'not_available' together")
        return self


class Multimorbidity(Strict):
    """The Cambridge Multimorbidity Score: the sum of the weights of the conditions present."""

    specification: str
    version: str
    min_age: int = Field(ge=0)
    conditions: list[Condition] = Field(min_length=1)
    deviations: list[str] = []


class Activity(Strict):
    """Hospital activity in the ``months`` months to the reference date: at least ``at_least`` of the kind."""

    kind: Literal["emergency_admission", "maternity_admission", "ae_attendance"]
    months: int = Field(ge=1)
    at_least: int = Field(default=1, ge=1)


class Segment(Strict):
    """One segment: a person falls in it if any of its rules holds, in priority order."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    complexity: int = Field(ge=1, description="rank in the volume-against-complexity pyramid (1 the top)")
    ages: Ages | None = Field(default=None, description="people of these ages")
    registers: list[str] = Field(default=[], description="on any of these registers")
    registers_at_least: int | None = Field(default=None, ge=1, description="on this many registers or more")
    efi_bands: list[Literal["fit", "mild", "moderate", "severe"]] = []
    cms_at_least: float | None = None
    any: list[Criterion] = []
    activity: list[Activity] = []
    everyone_else: bool = False

    @model_validator(mode="after")
    def _has_a_rule(self) -> Segment:
        """A segment has a rule, or catches everyone else, not both."""
        rules = bool(self.ages or self.registers or self.registers_at_least or self.efi_bands or self.cms_at_least is not None
                     or self.any or self.activity)
        if rules == self.everyone_else:
            raise ValueError(f"segment {self.id}: give rules or 'everyone_else: true', not both or neither")
        return self


class Segmentation(Strict):
    """Segments in priority order: a person is in the first whose rule holds; the last catches everyone else."""

    specification: str
    segments: list[Segment] = Field(min_length=2)

    @model_validator(mode="after")
    def _last_catches_all(self) -> Segmentation:
        """Exactly the last segment is the catch-all, so everyone lands in exactly one; ids are unique."""
        ids = [s.id for s in self.segments]
        if len(set(ids)) != len(ids):
            raise ValueError(f"segment ids repeat: {ids}")
        if not self.segments[-1].everyone_else or any(s.everyone_else for s in self.segments[:-1]):
            raise ValueError("the last segment, and only the last, must have 'everyone_else: true'")
        return self


class Phm(Strict):
    """The population health management section of a profile."""

    frailty: Frailty
    multimorbidity: Multimorbidity
    segmentation: Segmentation


def load_phm(profile: Profile) -> Phm:
    """The profile's population health management definitions (``phm.yaml``), validated."""
    return validate(profile.folder / "phm.yaml", Phm)
