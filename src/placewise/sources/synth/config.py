"""The ``synthetic`` section of an ICS profile: every parameter of the generator, validated."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from placewise.canonical import ADMISSION_METHODS, EC_ACUITIES, EC_ARRIVAL_MODES, ETHNIC_CATEGORIES, PLACES_OF_RESIDENCE

N_AGE_BANDS = 19
"""Five-year bands 0-4 … 85-89 and 90+."""

CONDITIONS = (
    "hypertension", "type2_diabetes", "asthma", "copd", "chd", "heart_failure", "atrial_fibrillation",
    "stroke_tia", "ckd", "dementia", "depression", "smi", "learning_disability", "cancer", "msk", "obesity",
)


class Strict(BaseModel):
    """Unknown fields are errors, so a typo in the YAML is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Normal(Strict):
    """A normal distribution."""

    mean: float
    sd: float = Field(ge=0)


class Codes(Strict):
    """Where the synthetic ONS and ODS code ranges start."""

    lsoa_start: int = Field(ge=900000, le=999000)
    ward_start: int = Field(ge=900000, le=999000)
    pcn_start: int = Field(ge=10000, le=99000)


class PlaceParams(Strict):
    """Demography and deprivation of one Place."""

    practice_prefix: str = Field(pattern=r"^[A-Z]\d{2}$")
    age_shares: list[float] = Field(min_length=N_AGE_BANDS, max_length=N_AGE_BANDS)
    ethnicity: dict[str, float]
    imd_deciles: list[float] = Field(min_length=10, max_length=10)
    onset_shift_years: float = Field(ge=0, description="Onset this much earlier in the most deprived decile")

    @model_validator(mode="after")
    def _known_ethnicity(self) -> PlaceParams:
        """Ethnicity keys are NHS ethnic category codes."""
        unknown = set(self.ethnicity) - set(ETHNIC_CATEGORIES)
        if unknown:
            raise ValueError(f"unknown ethnic category codes {sorted(unknown)}")
        return self


class Movement(Strict):
    """Migration, practice moves and deaths over the history."""

    in_migration_per_year: float = Field(ge=0, lt=0.5)
    out_migration_per_year: float = Field(ge=0, lt=0.5)
    practice_moves_per_year: float = Field(ge=0, lt=0.5)
    crude_death_rate: float = Field(ge=0, lt=0.1)
    mortality_age_slope: float = Field(ge=0)


class Condition(Strict):
    """A long-term condition: true prevalence, share diagnosed and how the hazard varies."""

    prevalence: float = Field(gt=0, lt=1)
    diagnosed: float = Field(default=1.0, gt=0, le=1)
    min_age: float = Field(ge=0)
    max_age: float = 120.0
    age_slope: float = 0.0
    female: float = 0.0
    deprivation: float = 0.0
    ethnic: dict[str, float] = {}
    resolved: float = Field(default=0.0, ge=0, lt=1, description="Share whose condition later resolves")
    recoded_per_year: float = Field(default=0.1, ge=0, description="Further diagnosis codes per year after the first")


class DementiaExpected(Strict):
    """Expected dementia prevalence by age band from 65 (for the diagnosis rate)."""

    bands: list[int]
    rates: list[float]


class FrailtyProblems(Strict):
    """Problems of later life (falls, sensory loss, mobility…) accumulating with age, conditions and deprivation.

    Each person from ``min_age`` has problem j with chance ``1 - exp(-weight_j × λ)``, where ``log λ`` is
    ``log_rate + per_year × (age - 65) + per_condition × conditions + deprivation × dep + sd × z``, z the person's
    lasting need (:attr:`placewise.sources.synth.events.World.need`: some people are frailer than their age and
    conditions say, and the same people use unplanned care more).
    """

    min_age: float = Field(ge=0)
    log_rate: float
    per_year: float
    per_condition: float
    deprivation: float
    sd: float = Field(ge=0)


class CarePlans(Strict):
    """Care plans for people with many problems of later life, recorded in the last ``months`` months."""

    min_problems: int = Field(ge=1)
    share: float = Field(ge=0, le=1)
    months: int = Field(ge=1)


class DyingShares(Strict):
    """Share of people who die recorded as palliative before death, by the kind of illness of their cause."""

    cancer: float = Field(ge=0, le=1)
    organ_failure: float = Field(ge=0, le=1)
    frailty: float = Field(ge=0, le=1)
    other: float = Field(ge=0, le=1)


class Palliative(Strict):
    """Palliative care records: for people in what the generator knows to be their last months, and for a share of
    the living with advanced illness (the rest of the palliative care register)."""

    dying_share: DyingShares
    cause_kinds: dict[str, Literal["cancer", "organ_failure", "frailty"]] = Field(
        description="ICD-10 prefix of an underlying cause of death -> the kind of illness (else other)")
    lead_days: float = Field(gt=0, description="mean days from the first palliative record to death (exponential)")
    most_days: int = Field(gt=0, description="longest time from the first palliative record to death")
    living_share: float = Field(ge=0, le=1, description="share of the list alive at the end on palliative care")
    living_per_year: float = Field(description="log weight per year of age over 75 of a living person's chance")
    living_conditions: dict[str, float] = Field(description="log weight of each diagnosed condition")
    living_months: int = Field(gt=0, description="the living's first record falls in these months to the end")
    reviews_per_year: float = Field(ge=0, description="later palliative records a year while on the register")

    @field_validator("living_conditions")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        """Only the generator's conditions can weigh a living person's chance."""
        unknown = sorted(set(v) - set(CONDITIONS))
        if unknown:
            raise ValueError(f"unknown conditions {unknown}; known: {', '.join(CONDITIONS)}")
        return v


class AgeShares(Strict):
    """A share by age: ``shares[i]`` from age ``ages[i]`` (ascending) to the next; none below the first."""

    ages: list[int] = Field(min_length=1)
    shares: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _paired(self) -> AgeShares:
        """One share per age, ages ascending, shares between 0 and 1."""
        if len(self.ages) != len(self.shares) or self.ages != sorted(self.ages) or not all(0 <= s <= 1 for s in self.shares):
            raise ValueError("ages ascending, one share (0 to 1) for each")
        return self


class BowelMedicines(Strict):
    """Chronic constipation on repeat laxatives, irritable bowel syndrome coded and treated with antispasmodics, and
    the short courses of both that fall short of a repeat (the Cambridge score's constipation and IBS rules)."""

    constipation: AgeShares = Field(description="People on repeat laxatives at some time, by age")
    ibs: AgeShares = Field(description="People with irritable bowel syndrome coded, by age")
    female_ratio: float = Field(gt=0, description="Women's share over men's, for both conditions")
    repeat_years: float = Field(gt=0, description="Mean length of a spell of repeat laxatives or antispasmodics")
    ibs_antispasmodic_share: float = Field(ge=0, le=1, description="Coded IBS with a spell of repeat antispasmodics")
    uncoded_antispasmodic_share: float = Field(ge=0, le=1, description="Adults on repeat antispasmodics, no IBS code")
    occasional_share: float = Field(ge=0, le=1, description="Adults with one to three issues of either, per kind")


class EverydayMedicines(Strict):
    """Repeat medicines behind the Cambridge score's prescription rules, and epilepsy and alcohol problems, which no
    condition models (alcohol problems more often in men and in deprived areas)."""

    antidepressant_share: float = Field(ge=0, le=1, description="Diagnosed depression on an antidepressant")
    anxiolytic_share: float = Field(ge=0, le=1, description="Diagnosed depression on an anxiolytic or hypnotic too")
    analgesic_share: float = Field(ge=0, le=1, description="Musculoskeletal conditions on a repeat analgesic")
    lithium_share: float = Field(ge=0, le=1, description="Severe mental illness on lithium")
    epilepsy_prevalence: float = Field(ge=0, le=1)
    epilepsy_treated_share: float = Field(ge=0, le=1, description="Epilepsy on an antiepileptic")
    alcohol_problems_prevalence: float = Field(ge=0, le=1, description="Adults with an alcohol problem coded")
    bowel: BowelMedicines


class Clinical(Strict):
    """Observations, treatment and checks in primary care."""

    diagnosis_delay_days: int = Field(ge=0)
    bp_readings_per_year: float = Field(gt=0)
    undiagnosed_bp_readings_per_year: float = Field(ge=0)
    normal_bp_readings_per_year: float = Field(ge=0)
    normal_bp_min_age: float = Field(ge=0)
    untreated_systolic: Normal
    untreated_diastolic: Normal
    treatment_effect_systolic: Normal
    treatment_effect_diastolic: Normal
    reading_noise_sd: float = Field(ge=0)
    treated_share: float = Field(ge=0, le=1)
    normal_systolic: Normal
    normal_diastolic: Normal
    issue_interval_days: int = Field(gt=0)
    anticoagulated_share: float = Field(ge=0, le=1)
    spirometry_share_asthma: float = Field(ge=0, le=1)
    spirometry_share_copd: float = Field(ge=0, le=1)
    saba_issues_per_year: float = Field(ge=0)
    saba_overuser_share: float = Field(ge=0, le=1)
    saba_overuser_issues_per_year: float = Field(ge=0)
    ics_share_asthma: float = Field(ge=0, le=1)
    ld_health_check_share: float = Field(ge=0, le=1)
    smi_health_check_share: float = Field(ge=0, le=1)
    bmi_per_year: float = Field(gt=0)
    """BMI recordings per adult-year with no long-term condition and a usual BMI under 30."""
    bmi_per_condition: float
    """Log rate ratio of BMI recording per diagnosed long-term condition (weighed at reviews)."""
    bmi_obese: float
    """Log rate ratio of BMI recording when the usual BMI is 30 or more (weight raised in consultations)."""
    obese_bmi: Normal
    other_bmi: Normal
    bmi_reading_sd: float = Field(ge=0)
    """Spread of one BMI reading about the person's usual BMI."""
    hba1c_per_year: float = Field(ge=0)
    hba1c: Normal
    frailty_min_age: int = Field(ge=0)
    frailty_checks_per_year: float = Field(ge=0)
    frailty_base: float = Field(ge=0)
    frailty_per_condition: float = Field(ge=0)
    frailty_per_year_over_min: float = Field(ge=0)
    frailty_thresholds: list[float] = Field(min_length=3, max_length=3, description="eFI mild, moderate, severe")
    frailty_problems: FrailtyProblems
    care_plan: CarePlans
    palliative: Palliative
    medicines: EverydayMedicines
    resolved_code_share: float = Field(ge=0, le=1, description="Resolutions a clinician records with a resolved code")
    second_reading_share: float = Field(ge=0, le=1, description="Readings repeated the same day after rest")
    second_reading_drop: Normal
    bp_round_to_10_share: float = Field(ge=0, le=1, description="Readings rounded to a multiple of 10 (digit preference)")
    bp_round_to_5_share: float = Field(ge=0, le=1, description="Readings rounded to a multiple of 5")
    dual_therapy_share: float = Field(ge=0, le=1, description="Treated hypertension on a second antihypertensive")
    vka_share: float = Field(ge=0, le=1, description="Anticoagulated people on a vitamin K antagonist, not a DOAC")
    issue_delay_days: int = Field(ge=0, description="A repeat issue comes up to this many days after it is due")
    double_issue_share: float = Field(ge=0, le=1, description="Reliever issues with a second inhaler the same day")
    copd_saba_issues_per_year: float = Field(ge=0)
    smi_component_share: float = Field(ge=0, le=1, description="Each component of an SMI physical health check")
    alcohol_units_share: float = Field(ge=0, le=1, description="Alcohol recorded as units a week, not as a level")


class Stream(Strict):
    """An activity stream: a person's rate varies by age, conditions, deprivation, season and year."""

    rate: float = Field(gt=0)
    age: list[float] = Field(min_length=1)
    per_condition: float = 0.0
    deprivation: float = 0.0
    seasonality: list[float] = Field(min_length=12, max_length=12)
    growth: float = 0.0
    conditions: dict[str, float] = {}
    need: float = Field(0.0, ge=0)
    """How strongly the stream follows each person's lasting need (:attr:`World.need`): the rate is multiplied by
    ``exp(need × z − need² / 2)``, which leaves the stream's mean unchanged and makes people who used it before
    likelier to use it again."""


class Acute(Strict):
    """Providers serving a Place's residents."""

    acute: list[tuple[str, str, float]]
    mental_health: str
    community: str


class ReturnsProviders(Strict):
    """The providers whose published returns are synthesised, each with the share of the population it serves."""

    acute: dict[str, float] = Field(min_length=1)
    ambulance: dict[str, float] = Field(min_length=1)
    mental_health: dict[str, float] = Field(min_length=1)

    @model_validator(mode="after")
    def _shares(self) -> ReturnsProviders:
        """Each group's shares are positive and sum to one."""
        for name, shares in (("acute", self.acute), ("ambulance", self.ambulance),
                             ("mental_health", self.mental_health)):
            if min(shares.values()) <= 0 or abs(sum(shares.values()) - 1) > 1e-9:
                raise ValueError(f"returns_providers.{name}: shares must be positive and sum to 1")
        return self


class RttReturn(Strict):
    """The RTT return: what share of its pathways GP referrals are (the rest, other sources, added on top)."""

    gp_referral_share: float = Field(gt=0, le=1)


AeType = Literal["type1", "type2", "type3"]
AE_TYPES: tuple[AeType, ...] = ("type1", "type2", "type3")
"""A&E department types 1, 2 and 3, in that order."""


class Minutes(Strict):
    """Log-normal time in department."""

    median: float = Field(gt=0)
    sigma: float = Field(gt=0)


class Ae(Strict):
    """A&E department types, time in department and disposals."""

    department_type_shares: list[float] = Field(min_length=3, max_length=3)
    arrival_hours: list[float] = Field(min_length=24, max_length=24)
    minutes: dict[AeType, Minutes]
    admitted_minutes_factor: float = Field(ge=1)
    winter_minutes_factor: float = Field(ge=1)
    admitted_share: float = Field(gt=0, lt=1, description="Chance of admission at age 50 outside winter")
    admitted_log_odds_per_decade: float
    admitted_log_odds_per_condition: float = 0.0
    winter_admitted_log_odds: float
    disposal: dict[str, float]
    type3_disposal: dict[str, float]
    ambulance_share: float = Field(gt=0, lt=1, description="Arrivals by ambulance at type 1 and 2, age 50, not admitted")
    ambulance_log_odds_admitted: float
    ambulance_log_odds_per_decade: float
    ambulance_share_type3: float = Field(ge=0, lt=1)
    ambulance_modes: dict[str, float]
    other_modes: dict[str, float]
    acuity: dict[Literal["admitted", "not_admitted", "type3"], dict[str, float]]
    acuity_recorded_type3: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ecds_codes(self) -> Ae:
        """Arrival modes and acuities are ECDS codes."""
        unknown = (set(self.ambulance_modes) | set(self.other_modes)) - set(EC_ARRIVAL_MODES)
        unknown |= {c for shares in self.acuity.values() for c in shares} - set(EC_ACUITIES)
        if unknown:
            raise ValueError(f"not ECDS arrival mode or acuity codes: {sorted(unknown)}")
        return self


class Gp(Strict):
    """GP appointment modes and did-not-attend."""

    modes: dict[str, float]
    dna_rate: float = Field(ge=0, lt=1)
    dna_deprivation: float = 0.0


class Admissions(Strict):
    """Inpatient spells: length of stay, readmissions and diagnoses."""

    emergency_los_mean_days: dict[Literal["under_65", "65_plus"], float]
    elective_day_case_share: float = Field(ge=0, le=1)
    elective_los_mean_days: float = Field(gt=0)
    readmission_30d: dict[Literal["under_65", "65_plus", "after_elective"], float]
    """Chance of an emergency readmission 0 to 29 days after discharge, beyond the person's usual rate."""
    falls_share_65_plus: float = Field(ge=0, le=1, description="Injury from a fall, of emergency spells at 65+")
    other_injury_share_65_plus: float = Field(ge=0, le=1, description="Injury from another cause, at 65+")
    place_of_occurrence_share: float = Field(ge=0, le=1)
    asthma_share_children: float = Field(ge=0, le=1)
    condition_share: dict[str, float]
    """Share of a patient's emergency admissions whose primary diagnosis is the named condition."""
    comorbidity_coded_share: float = Field(ge=0, le=1)
    """Chance that each long-term condition a patient has is coded as a secondary diagnosis."""
    emergency_treatment_functions: dict[str, float]
    elective_treatment_functions: dict[str, float]
    method_codes: dict[Literal["direct", "readmission", "elective"], dict[str, float]]
    admission_source: dict[str, float]
    discharge_destination: dict[str, float]
    self_discharge_share: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _data_dictionary_codes(self) -> Admissions:
        """Method, source and destination codes are NHS Data Dictionary codes."""
        unknown = {c for m in self.method_codes.values() for c in m} - set(ADMISSION_METHODS)
        unknown |= (set(self.admission_source) | set(self.discharge_destination)) - set(PLACES_OF_RESIDENCE)
        if unknown:
            raise ValueError(f"not NHS Data Dictionary codes: {sorted(unknown)}")
        return self


class Outpatients(Strict):
    """Outpatient first/follow-up split, outcomes and referral sources."""

    first_share: float = Field(ge=0, le=1)
    dna_rate: float = Field(ge=0, le=1)
    cancelled_rate: float = Field(ge=0, le=1)
    treatment_functions: dict[str, float] = Field(min_length=1)
    referral_source: dict[str, float]


class ReferralsMix(Strict):
    """Referral priorities and specialties."""

    priority: dict[str, float]
    treatment_functions: dict[str, float] = Field(min_length=1)


class Delay(Strict):
    """A log-normal delay in days."""

    median: float = Field(gt=0)
    sigma: float = Field(gt=0)


PATHWAY_OUTCOMES = ("attended", "advice_and_guidance", "did_not_attend", "withdrawn")
"""What a GP referral leads to: a first attendance; returned with advice and guidance (no appointment); did not
attend the first appointment and discharged; withdrawn (patient choice, treated elsewhere, no longer needed)."""


class Pathways(Strict):
    """Referral pathways: a GP referral leads to a first outpatient attendance in its treatment function (or not),
    follow-ups, and for some an elective admission in that treatment function."""

    outcome: dict[Literal["attended", "advice_and_guidance", "did_not_attend", "withdrawn"], float]
    first_missed: dict[Literal["did_not_attend", "cancelled"], float]
    """Chance that an attended first appointment came after one missed (not attended, or cancelled by the hospital)."""
    first_wait_days: dict[str, Delay]
    """Referral to first appointment, by priority."""
    follow_ups_mean: float = Field(ge=0)
    follow_up_interval_days: tuple[int, int]
    queue_sigma: float = Field(default=0.0, ge=0)
    """Log-scale spread of the waits between queues: each provider × treatment function's waits to the first
    appointment and to admission are multiplied by its own log-normal factor (median 1)."""
    practice_attendance_sigma: float = Field(default=0.0, ge=0)
    """Between-practice spread of the chance that a referral reaches a first attendance (log-odds scale): each
    practice has its own effect, drawn once (the rest are returned with advice and guidance, not attended or
    withdrawn, in the outcome's proportions)."""
    practice_admission_sigma: float = Field(default=0.0, ge=0)
    """Between-practice spread of the chance that a first attendance leads to an elective admission (log scale)."""
    clock_stop_at_first: float = Field(ge=0, le=1)
    """Chance that an attended referral not listed for admission has its RTT clock stopped at the first attendance
    (treatment started in clinic, discharge, active monitoring or a decision not to treat); the others' clocks run on
    to the first follow-up, where the decision follows the investigations."""
    admitted_share: dict[str, float]
    """Chance that an attended first appointment leads to an elective admission, by treatment function (others: 0)."""
    admission_wait_days: Delay
    """First attendance to elective admission."""
    longest_wait_weeks: tuple[int, int]
    """Each referral's clock stops by a week drawn between these (first seen a week before it at the latest, and
    admitted by it): providers treat those nearest the longest-wait limit first."""

    @model_validator(mode="after")
    def _shares(self) -> Pathways:
        """Outcome shares cover every outcome; admission shares are chances."""
        if set(self.outcome) != set(PATHWAY_OUTCOMES):
            raise ValueError(f"pathways.outcome needs exactly {list(PATHWAY_OUTCOMES)}")
        if any(not 0 <= v <= 1 for v in [*self.admitted_share.values(), *self.first_missed.values()]):
            raise ValueError("pathways: admitted_share and first_missed are chances between 0 and 1")
        return self


class ServiceMix(Strict):
    """Service shares of a contact stream."""

    services: dict[str, float]
    attended: float = Field(default=1.0, ge=0, le=1)


class MentalHealth(ServiceMix):
    """Mental health services; NHS Talking Therapies as courses of sessions, not single contacts."""

    sessions_per_course: float = Field(ge=1, description="Mean sessions in a Talking Therapies course")
    session_interval_days: tuple[int, int] = Field(description="Days between sessions (least, most)")


class SocialCare(Strict):
    """Social care service mix and durations."""

    services: dict[str, float]
    mean_duration_days: float = Field(gt=0)
    open_share: float = Field(ge=0, le=1)


class Deaths(Strict):
    """Underlying causes and places of death."""

    condition_causes: dict[str, tuple[str, float]]
    other_causes: list[str] = Field(min_length=1)
    other_weight: float = Field(gt=0)
    place: dict[str, float]


class StepChange(Strict):
    """A genuine shift on a date: part of one category moves to another."""

    place: str | None
    date: dt.date
    share: float = Field(gt=0, le=1)
    description: str


class AeTypeShift(StepChange):
    """Part of one A&E department type's attendances moves to another type (1, 2 or 3)."""

    kind: Literal["ae_type_shift"]
    from_type: int = Field(ge=1, le=3)
    to_type: int = Field(ge=1, le=3)


class GpModeShift(StepChange):
    """Part of one GP appointment mode moves to another mode."""

    kind: Literal["gp_mode_shift"]
    from_mode: str
    to_mode: str


class CalibrationTarget(Strict):
    """A calibration target: figure, source and tolerance."""

    measure: str
    geography: str
    """The ICS's short name (the whole ICS) or a Place code."""
    target: float
    tolerance: float = Field(gt=0)
    relative: bool = False
    count: bool = False
    """A count that grows with the scale (people, referrals a month): target and tolerance are for scale 1.0."""
    source: str


class Synthetic(Strict):
    """All parameters of the synthetic population for one ICS profile."""

    default_end_date: dt.date
    registered_per_resident: float = Field(ge=1)
    residents_per_lsoa: int = Field(gt=100)
    lsoas_per_ward: int = Field(gt=0)
    lsoas_per_msoa: int = Field(gt=0)
    codes: Codes
    female_share_by_band: list[float] = Field(min_length=N_AGE_BANDS, max_length=N_AGE_BANDS)
    places: dict[str, PlaceParams]
    practice_size_sigma: float = Field(ge=0)
    home_practice_share: float = Field(ge=0, le=1)
    referral_multipliers: dict[str, float]
    referral_practice_sigma: float = Field(ge=0)
    practice_quality_sigma: float = Field(ge=0)
    movement: Movement
    conditions: dict[str, Condition]
    dementia_expected_rates: DementiaExpected
    clinical: Clinical
    age_bands: list[int]
    activity: dict[str, Stream]
    providers_by_place: dict[str, Acute]
    returns_providers: ReturnsProviders
    rtt_return: RttReturn
    ae: Ae
    gp: Gp
    admissions: Admissions
    outpatients: Outpatients
    referrals_mix: ReferralsMix
    pathways: Pathways
    mental_health: MentalHealth
    community: ServiceMix
    social_care: SocialCare
    deaths: Deaths
    step_changes: list[Annotated[AeTypeShift | GpModeShift, Field(discriminator="kind")]]
    calibration: list[CalibrationTarget]

    @model_validator(mode="after")
    def _consistent(self) -> Synthetic:
        """All sixteen conditions are present, named conditions exist and age multipliers match the bands."""
        missing = set(CONDITIONS) - set(self.conditions)
        if missing:
            raise ValueError(f"conditions missing: {sorted(missing)}")
        for name, s in self.activity.items():
            if len(s.age) != len(self.age_bands):
                raise ValueError(f"activity.{name}.age needs {len(self.age_bands)} multipliers")
        unknown = set(self.admissions.condition_share) - set(CONDITIONS)
        if unknown:
            raise ValueError(f"admissions.condition_share names unknown conditions {sorted(unknown)}")
        if set(self.providers_by_place) != set(self.places):
            raise ValueError("providers_by_place must name exactly the Places in places")
        if set(self.pathways.first_wait_days) != set(self.referrals_mix.priority):
            raise ValueError("pathways.first_wait_days must name exactly the priorities of referrals_mix.priority")
        return self
