"""Case-finding worklists as declared objects: the profile's ``worklists.yaml``, validated on load.

Each list names its clinical source and version and is one of a closed set of rule kinds, with its
thresholds, windows and codelists as data; :mod:`placewise.derive.worklists` compiles each kind.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from placewise.profile.model import Profile, Strict, validate
from placewise.profile.registers import known_codelists


class ListBase(Strict):
    """What every list declares: id, title, its clinical source and version, and caveats shown on every row."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    source: str = Field(min_length=1, description="the clinical guidance or rule the list follows")
    version: str = Field(min_length=1)
    caveats: list[str] = []


class DiabetesAlerts(ListBase):
    """On the diabetes register with the latest HbA1c above a threshold, rising, or none in the window."""

    kind: Literal["diabetes_alerts"]
    on_register: str
    hba1c: list[str]
    above: float
    rise_at_least: float
    months: int = Field(ge=1)

    _check = field_validator("hba1c")(known_codelists)


class UndiagnosedHypertension(ListBase):
    """Not on the hypertension register, with a raised latest blood pressure in the window."""

    kind: Literal["undiagnosed_hypertension"]
    on_register: str
    systolic: list[str]
    diastolic: list[str]
    systolic_at_least: float
    diastolic_at_least: float
    months: int = Field(ge=1)

    _check = field_validator("systolic", "diastolic")(known_codelists)


class HypertensionNotToTarget(ListBase):
    """On the hypertension register with the latest same-day blood pressure above the age-specific target."""

    kind: Literal["hypertension_not_to_target"]
    on_register: str
    systolic: list[str]
    diastolic: list[str]
    older_from_age: int
    under: tuple[float, float] = Field(description="target systolic, diastolic (at or below) under that age")
    older: tuple[float, float] = Field(description="target systolic, diastolic from that age")
    months: int = Field(ge=1)

    _check = field_validator("systolic", "diastolic")(known_codelists)


class AfNotAnticoagulated(ListBase):
    """On the AF register, CHA2DS2-VASc at least ``min_score``, no anticoagulant issued in the window."""

    kind: Literal["af_not_anticoagulated"]
    on_register: str
    min_score: int
    components: dict[Literal["congestive_heart_failure", "hypertension", "diabetes", "stroke", "vascular"], list[str]]
    anticoagulants: list[str]
    months: int = Field(ge=1)

    _check = field_validator("anticoagulants")(known_codelists)


class HealthCheckDue(ListBase):
    """On a register, of the minimum age, with no health check recorded in the window."""

    kind: Literal["health_check_due"]
    on_register: str
    min_age: int = Field(default=0, ge=0)
    check: list[str]
    months: int = Field(ge=1)

    _check = field_validator("check")(known_codelists)


class RelieverOveruse(ListBase):
    """On the asthma register with at least ``at_least`` reliever issues in the window."""

    kind: Literal["reliever_overuse"]
    on_register: str
    relievers: list[str]
    at_least: int = Field(ge=1)
    months: int = Field(ge=1)

    _check = field_validator("relievers")(known_codelists)


class SevereFrailtyFall(ListBase):
    """Severe eFI band with a fall recorded in the window, and no care plan recorded in the window (if listed)."""

    kind: Literal["severe_frailty_fall"]
    falls: list[str]
    falls_icd10: list[str] = []
    care_plan: list[str] = []
    months: int = Field(ge=1)

    _check = field_validator("falls", "falls_icd10", "care_plan")(known_codelists)


class HighRiskGap(ListBase):
    """In the top band of admission risk and on at least one of the other lists."""

    kind: Literal["high_risk_gap"]
    lists: list[str] = Field(min_length=1)


Worklist = Annotated[DiabetesAlerts | UndiagnosedHypertension | HypertensionNotToTarget | AfNotAnticoagulated
                     | HealthCheckDue | RelieverOveruse | SevereFrailtyFall | HighRiskGap, Field(discriminator="kind")]


class Worklists(Strict):
    """Every case-finding list of the profile."""

    worklists: list[Worklist] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids(self) -> Worklists:
        """Ids are unique; a combining list names only lists declared before it."""
        seen: list[str] = []
        for w in self.worklists:
            if w.id in seen:
                raise ValueError(f"worklist id {w.id!r} repeats")
            if isinstance(w, HighRiskGap) and set(w.lists) - set(seen):
                raise ValueError(f"worklist {w.id}: unknown or later lists {sorted(set(w.lists) - set(seen))}")
            seen.append(w.id)
        return self

    def get(self, list_id: str) -> Worklist:
        """The list with this id, or a clear error naming the known ones."""
        for w in self.worklists:
            if w.id == list_id:
                return w
        raise KeyError(f"no worklist {list_id!r}; known: {', '.join(w.id for w in self.worklists)}")


def load_worklists(profile: Profile) -> Worklists:
    """The profile's worklists (``worklists.yaml``), validated."""
    return validate(profile.folder / "worklists.yaml", Worklists)
