"""Condition registers as declared objects: the profile's ``registers.yaml``, validated on load.

A register follows a published rule set (the QOF business rules for most) and says which:
diagnosis codelists, the resolved codelists whose later record removes a person, an age rule,
a cut-off date for the diagnosis, and where the rule needs them a recent medication or a
latest recorded value. :mod:`placewise.derive.registers` compiles each one to a query.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from placewise import codelists
from placewise.profile.model import Profile, Strict, validate


def known_codelists(names: list[str]) -> list[str]:
    """Every name is a bundled codelist."""
    unknown = [n for n in names if n not in codelists.names()]
    if unknown:
        raise ValueError(f"unknown codelist(s) {unknown}; known: {', '.join(codelists.names())}")
    return names


class Ages(Strict):
    """Age in whole years at the reference date, both ends inclusive; either end may be open."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Ages:
        """The lower end does not exceed the upper end."""
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"age min {self.min} exceeds max {self.max}")
        return self


class Recent(Strict):
    """A record from the codelists in the ``months`` months up to and including the reference date."""

    codelist: list[str] = Field(min_length=1)
    table: Literal["clinical_events", "medications"] = "medications"
    months: int = Field(ge=1)

    _check = field_validator("codelist")(known_codelists)


class Latest(Strict):
    """The latest recorded value from the codelists (lowest of that day) is at least a threshold."""

    codelist: list[str] = Field(min_length=1)
    months: int | None = Field(default=None, ge=1, description="look back this many months; none: ever")
    at_least: float

    _check = field_validator("codelist")(known_codelists)


class Register(Strict):
    """One condition register: who is on it at a reference date, and the rule it follows."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    specification: str = Field(min_length=1, description="the published rule followed, e.g. QOF business rules")
    version: str = Field(min_length=1)
    diagnosis: list[str] = Field(default=[], description="codelists of a diagnosis")
    resolved: list[str] = Field(default=[], description="codelists whose record after the latest diagnosis removes")
    age: Ages = Ages()
    diagnosed_on_or_after: date | None = Field(default=None, description="the latest diagnosis is on or after this")
    requires: Recent | None = Field(default=None, description="also needed, e.g. asthma drugs in 12 months")
    or_recent: Recent | None = Field(default=None, description="an alternative way on, e.g. lithium in 6 months")
    latest: Latest | None = Field(default=None, description="a latest value instead of (or beside) a diagnosis")
    deviations: list[str] = Field(default=[], description="every deliberate departure from the specification")

    _check_diagnosis = field_validator("diagnosis", "resolved")(known_codelists)

    @model_validator(mode="after")
    def _has_a_rule(self) -> Register:
        """A register needs a diagnosis or a latest value; resolved codes need a diagnosis."""
        if not self.diagnosis and self.latest is None:
            raise ValueError("a register needs diagnosis codelists or a latest value")
        if self.resolved and not self.diagnosis:
            raise ValueError("resolved codelists need diagnosis codelists")
        return self


class Registers(Strict):
    """Every register of the profile."""

    registers: list[Register] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Registers:
        """Register ids are unique."""
        ids = [r.id for r in self.registers]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"registers: duplicate id(s) {dupes}")
        return self

    def get(self, register_id: str) -> Register:
        """The register with this id."""
        for r in self.registers:
            if r.id == register_id:
                return r
        raise KeyError(f"no register {register_id!r}; known: {', '.join(r.id for r in self.registers)}")


def load_registers(profile: Profile) -> Registers | None:
    """The profile's registers (``registers.yaml``), validated; None for a profile that declares none."""
    path = profile.folder / "registers.yaml"
    return validate(path, Registers) if path.exists() else None
