"""The planning section of an ICS profile (``planning.yaml``), validated on load.

Every uncertain parameter is an :class:`Interval`: an 80% interval (10th to 90th percentile) with
its source. Facts copied from ONS or the BLMK papers carry their citation; approximations say so.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal, get_args

from pydantic import Field, model_validator

from placewise.profile import Profile, ProfileError
from placewise.profile.model import Strict

AGES = 91
"""Single years of age 0..89 and the open group 90+."""
SEXES = ("female", "male")


class Interval(Strict):
    """An 80% interval: ``low`` is the 10th and ``high`` the 90th percentile.

    ``lognormal`` parameters are positive multipliers (the principal value is the geometric mean);
    ``normal`` ones may be negative (the principal value is the midpoint).
    """

    low: float
    high: float
    distribution: Literal["lognormal", "normal"] = "normal"
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        """Low below high, and positive for a lognormal."""
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.distribution == "lognormal" and self.low <= 0:
            raise ValueError("a lognormal interval needs a positive low")
        return self


class Fact(Strict):
    """A single figure copied from a published source."""

    value: float
    source: str = Field(min_length=3)


class National(Strict):
    """National schedules (ONS) the local rates are scaled from."""

    life_expectancy_female: Fact
    life_expectancy_male: Fact
    gompertz_slope: Fact
    infant_mortality: Fact
    total_fertility_rate: Fact
    mean_age_at_birth: Fact
    sd_age_at_birth: Fact
    males_per_100_female_births: Fact


class Demography(Strict):
    """Uncertainty in the components of change, as multipliers of the locally observed rates."""

    mortality_improvement: Interval
    mortality_level: Interval
    fertility_level: Interval
    migration_level: Interval


class Communal(Strict):
    """The communal-establishment population: a share by age band of the base population.

    As in ONS subnational projections, numbers under ``rate_from_age`` are held fixed; from that age the
    share is applied to the projected population.
    """

    band_lowers: list[int] = Field(min_length=1)
    shares: list[float] = Field(min_length=1)
    rate_from_age: int = Field(ge=0, le=90)
    source: str

    @model_validator(mode="after")
    def _bands(self) -> Communal:
        """One share per band; bands start at 0 and rise."""
        if len(self.shares) != len(self.band_lowers) or self.band_lowers[0] != 0 or \
                sorted(self.band_lowers) != self.band_lowers or any(not 0 <= s < 1 for s in self.shares):
            raise ValueError("communal: one share in [0, 1) per band; bands start at 0 and rise")
        return self


class Completions(Strict):
    """New dwellings a year over a span of years (inclusive), with the plan it comes from."""

    first: int
    last: int
    per_year: float = Field(ge=0)
    source: str

    @model_validator(mode="after")
    def _span(self) -> Completions:
        """The span runs forwards."""
        if self.last < self.first:
            raise ValueError(f"completions {self.first}-{self.last}: last year before first")
        return self


class Housing(Strict):
    """A Place's dwelling stock and its planned completions."""

    stock_year: int
    stock: float = Field(gt=0)
    stock_source: str
    vacancy: float = Field(ge=0, lt=1, description="share of dwellings not occupied by a household")
    completions: list[Completions] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> Housing:
        """Spans of completions do not overlap."""
        spans = sorted((c.first, c.last) for c in self.completions)
        if any(b[0] <= a[1] for a, b in pairwise(spans)):
            raise ValueError("completions: spans of years overlap")
        return self


class HousingUncertainty(Strict):
    """Uncertainty in how much of the plan is built, and in household size."""

    delivery: Interval
    household_size_change: Interval


Setting = Literal["gp_appointments", "ae_attendances", "emergency_admissions", "emergency_bed_days", "falls_admissions",
                  "elective_admissions", "elective_bed_days", "outpatient_attendances", "community_contacts",
                  "mental_health_contacts", "social_care_starts"]
SETTINGS: tuple[Setting, ...] = get_args(Setting)
"""Every setting of care the demand model covers; each is defined over warehouse tables in ``history``."""


class Adjustment(Strict):
    """A scenario's change to one setting's activity for an age range, reached by ``full_by`` (phased in)."""

    setting: Setting
    min_age: int = Field(default=0, ge=0, le=90)
    change: Interval = Field(description="proportional change in activity at full effect (negative avoids)")
    full_by: int


class Scenario(Strict):
    """A named planning scenario: the population variant and changes to activity."""

    description: str
    population: Literal["housing_led", "trend"]
    adjustments: list[Adjustment] = []


class Capacity(Strict):
    """Conversion of activity into beds, sessions and clinical time."""

    occupancy_targets: list[float] = Field(min_length=1)
    occupancy_source: str
    surgical_share_of_elective: Interval
    cases_per_theatre_session: Interval
    attendances_per_clinic_session: Interval
    appointments_per_gp_clinical_wte: Interval
    bed_capacity: dict[str, Fact] = Field(default_factory=dict,
                                          description="recorded general and acute beds by Place code, where known")


class Workforce(Strict):
    """NHS staff in post and vacancies, and how demand and productivity move the requirement."""

    wte_in_post: Fact
    vacancy_wte: Fact
    vacancy_rate: Fact
    setting_weights: dict[str, float]
    weights_source: str
    productivity_growth: Interval

    @model_validator(mode="after")
    def _weights(self) -> Workforce:
        """Weights name known settings and sum to one."""
        unknown = set(self.setting_weights) - set(SETTINGS)
        if unknown:
            raise ValueError(f"setting_weights: unknown settings {sorted(unknown)}")
        if abs(sum(self.setting_weights.values()) - 1) > 1e-9:
            raise ValueError("setting_weights must sum to 1")
        return self


class Planning(Strict):
    """The whole planning section."""

    horizon: int = Field(ge=2000, le=2100)
    national: National
    demography: Demography
    communal: Communal
    housing: dict[str, Housing]
    housing_uncertainty: HousingUncertainty
    growth: dict[str, Interval] = Field(description="non-demographic growth a year, by setting")
    capacity: Capacity
    workforce: Workforce
    scenarios: dict[str, Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> Planning:
        """Growth is given for every setting and for no other."""
        if set(self.growth) != set(SETTINGS):
            raise ValueError(f"growth: give exactly the settings {', '.join(SETTINGS)}")
        return self


def load_planning(profile: Profile) -> Planning:
    """The profile's validated planning section; every Place needs a dwelling trajectory."""
    planning = profile.section("planning", Planning)
    missing = [p.code for p in profile.ics.places if p.code not in planning.housing]
    unknown = sorted(set(planning.housing) - set(profile.place_by_code))
    if missing or unknown:
        raise ProfileError(f"{profile.folder / 'planning.yaml'}: housing: Places without a dwelling trajectory "
                           f"{missing}, unknown Places {unknown}")
    return planning
