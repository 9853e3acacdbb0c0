"""Load and validate an ICS profile: a folder of YAML files, one per section.

``ics.yaml`` holds the core (Places, reporting groupings, providers); other sections
(``synthetic.yaml``, ``indicators.yaml``…) are validated by the module that owns them
through :meth:`Profile.section`.
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from placewise.yamltext import parse

BUNDLED = "blmk"
M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A profile file is missing, unreadable or invalid; the message names file and field."""


class Strict(BaseModel):
    """Base for profile models: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Place(Strict):
    """A Place: a local authority area with its resident population."""

    code: str = Field(pattern=r"^E0[6-9]\d{6}$", description="ONS local authority code")
    name: str
    short_name: str = Field(min_length=2, max_length=12)
    population: int = Field(gt=0, description="Resident population")
    population_source: str
    pcns: int = Field(gt=0, description="Number of Primary Care Networks")
    practices: int = Field(gt=0, description="Number of GP practices")


class Grouping(Strict):
    """A reporting geography built from whole Places (Care Alliance, legacy CCG…)."""

    code: str
    name: str
    kind: str = Field(description="e.g. care_alliance, legacy_ccg")
    places: list[str] = Field(min_length=1, description="ONS codes of the member Places")


class Site(Strict):
    """A hospital site of a provider trust."""

    code: str = Field(pattern=r"^[A-Z0-9]{5}$")
    name: str
    place: str = Field(description="ONS code of the Place the site is in")


class Provider(Strict):
    """An NHS trust that provides care to the ICS's population."""

    code: str = Field(pattern=r"^[A-Z0-9]{3}$")
    name: str
    kind: str = Field(pattern=r"^(acute|mental_health|community|ambulance)$")
    sites: list[Site] = []


class Ics(Strict):
    """The core of a profile: the system, its Places, groupings and providers."""

    code: str
    name: str
    short_name: str
    places: list[Place] = Field(min_length=1)
    groupings: list[Grouping] = []
    providers: list[Provider] = []

    @model_validator(mode="after")
    def _places_known(self) -> Ics:
        """Every grouping and site names Places that the profile defines."""
        known = {p.code for p in self.places}
        for g in self.groupings:
            unknown = set(g.places) - known
            if unknown:
                raise ValueError(f"grouping {g.code} names unknown Places {sorted(unknown)}")
        for p in self.providers:
            for s in p.sites:
                if s.place not in known:
                    raise ValueError(f"site {s.code} of provider {p.code} is in unknown Place {s.place}")
        return self


def _read_yaml(path: Path) -> object:
    """Parse one YAML file, naming the file in any error."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: profile file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProfileError(f"{path}: not valid YAML: {e}") from None


def validate(path: Path, model: type[M]) -> M:
    """Validate a YAML file against a model; errors name the file and each field path."""
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as e:
        lines = [
            f"{path}: {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in e.errors()
        ]
        raise ProfileError("invalid profile\n" + "\n".join(lines)) from None


class Profile:
    """An ICS profile folder, validated on load."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ics = validate(folder / "ics.yaml", Ics)

    def section(self, name: str, model: type[M]) -> M:
        """Load and validate ``<name>.yaml`` from the profile folder."""
        return validate(self.folder / f"{name}.yaml", model)

    @cached_property
    def place_by_code(self) -> dict[str, Place]:
        """Places keyed by ONS code."""
        return {p.code: p for p in self.ics.places}


def load_profile(name_or_path: str | Path = BUNDLED) -> Profile:
    """Load a bundled profile by name, or a profile folder by path."""
    path = Path(name_or_path)
    if not path.is_dir():
        bundled = resources.files("placewise") / "profiles" / str(name_or_path)
        if not bundled.is_dir():
            raise ProfileError(f"{name_or_path}: no such profile folder or bundled profile")
        path = Path(str(bundled))
    return Profile(path)
