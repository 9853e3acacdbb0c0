"""Cohorts as declared objects: the profile's ``cohorts.yaml`` (or a :class:`Cohort` built in Python), validated.

A cohort is a rule over the person-level PHM tables: attributes (age, sex, Place, practice, IMD
quintile, ethnic group), registers, segments, eFI bands, the Cambridge score, and coded events in
windows (:class:`placewise.profile.phm.Criterion`), combined with ``any_of`` and ``none_of``.
:mod:`placewise.derive.cohorts` compiles each cohort once to a query that runs on every engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, model_validator

from placewise.profile.model import Profile, ProfileError, Strict, validate
from placewise.profile.phm import Criterion, load_phm
from placewise.profile.registers import Ages, load_registers

Band = Literal["fit", "mild", "moderate", "severe"]
Quintile = Literal["1", "2", "3", "4", "5", "Unknown"]


class Rule(Strict):
    """Every condition given holds (and at least one is given); ``any_of`` needs one sub-rule, ``none_of`` none."""

    ages: Ages | None = Field(default=None, description="age in whole years at the reference date")
    sexes: list[Literal["female", "male", "indeterminate", "unknown"]] = []
    places: list[str] = Field(default=[], description="ONS codes: the Place of the registered practice")
    practices: list[str] = Field(default=[], description="ODS codes of practices")
    imd_quintiles: list[Quintile] = []
    ethnic_groups: list[str] = []
    registers: list[str] = Field(default=[], description="on every one of these registers")
    segments: list[str] = Field(default=[], description="in one of these segments")
    efi_bands: list[Band] = Field(default=[], description="in one of these eFI bands (ages the eFI covers)")
    cms_at_least: float | None = Field(default=None, description="Cambridge Multimorbidity Score at least")
    events: list[Criterion] = Field(default=[], description="every one of these holds at the reference date")
    any_of: list[Rule] = []
    none_of: list[Rule] = []

    @model_validator(mode="after")
    def _not_empty(self) -> Rule:
        """A rule says something: an empty rule would silently select everyone."""
        if not any(getattr(self, f) not in (None, []) for f in Rule.model_fields):
            raise ValueError("a cohort rule needs at least one condition")
        return self

    def walk(self) -> Iterator[Rule]:
        """This rule and every rule nested in it."""
        yield self
        for r in (*self.any_of, *self.none_of):
            yield from r.walk()


class Cohort(Rule):
    """A named cohort: who it is for, where its definition comes from, and its rule."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    source: str = Field(min_length=1, description="the programme, guidance or paper the definition follows")
    notes: list[str] = Field(default=[], description="deviations and caveats shown with every output")


class Cohorts(Strict):
    """Every cohort of the profile."""

    cohorts: list[Cohort] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Cohorts:
        """Cohort ids are unique."""
        ids = [c.id for c in self.cohorts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"cohort ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
        return self

    def get(self, cohort_id: str) -> Cohort:
        """The cohort with this id, or a clear error naming the known ones."""
        for c in self.cohorts:
            if c.id == cohort_id:
                return c
        raise KeyError(f"no cohort {cohort_id!r}; known: {', '.join(c.id for c in self.cohorts)}")


def check(cohort: Cohort, profile: Profile) -> Cohort:
    """The cohort, if every register, segment and Place it names exists in the profile; else a ValueError naming it."""
    regs = load_registers(profile)
    known = {"register": {r.id for r in regs.registers} if regs else set(),
             "segment": {s.id for s in load_phm(profile).segmentation.segments},
             "Place": {p.code for p in profile.ics.places}}
    for rule in cohort.walk():
        for kind, named in (("register", rule.registers), ("segment", rule.segments), ("Place", rule.places)):
            unknown = sorted(set(named) - known[kind])
            if unknown:
                raise ValueError(f"cohort {cohort.id}: unknown {kind}(s) {unknown}; known: "
                                   f"{', '.join(sorted(known[kind]))}")
    return cohort


def load_cohorts(profile: Profile) -> Cohorts:
    """The profile's cohorts (``cohorts.yaml``), validated and checked against its registers, segments and Places."""
    path = profile.folder / "cohorts.yaml"
    cohorts = validate(path, Cohorts)
    for c in cohorts.cohorts:
        try:
            check(c, profile)
        except ValueError as e:
            raise ProfileError(f"{path}: {e}") from None
    return cohorts
