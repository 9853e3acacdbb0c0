"""Capacity, workforce and estates from projected activity, per run.

- Beds: occupied bed days / 365 / target occupancy, for each target (85% and 92%).
- Theatre sessions: elective admissions × surgical share / cases per session.
- Clinic sessions: outpatient attendances / attendances per session.
- GP clinical WTE: GP appointments / appointments per clinical WTE a year.
- NHS provider workforce: the establishment (WTE in post plus vacancies) grows with an activity
  index (settings weighted by their share of staff time) less productivity growth; the gap is the
  requirement less the WTE in post today.
- Estates: beds against the recorded bed base where the profile has one, otherwise against what
  the base year needed (the growth to be housed).
"""

from __future__ import annotations

import numpy as np

from placewise.analyse.planning.config import SETTINGS, Capacity, Workforce

DAYS = 365.0


def _s(name: str) -> int:
    """Index of a setting."""
    return SETTINGS.index(name)


def beds(activity: np.ndarray, occupancy: float) -> np.ndarray:
    """General and acute beds [year, run, Place] at a target occupancy, from emergency and elective bed days."""
    days = activity[:, :, _s("emergency_bed_days")] + activity[:, :, _s("elective_bed_days")]
    return days / DAYS / occupancy


def sessions_and_wte(activity: np.ndarray, draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Theatre sessions, clinic sessions and GP clinical WTE [year, run, Place] for each run's parameters."""
    col = (None, slice(None), None)
    return {
        "theatre_sessions": activity[:, :, _s("elective_admissions")] * draws["surgical_share_of_elective"][col]
        / draws["cases_per_theatre_session"][col],
        "clinic_sessions": activity[:, :, _s("outpatient_attendances")] / draws["attendances_per_clinic_session"][col],
        "gp_clinical_wte": activity[:, :, _s("gp_appointments")] / draws["appointments_per_gp_clinical_wte"][col],
    }


def workforce(activity: np.ndarray, workforce: Workforce, productivity: np.ndarray,
              years: np.ndarray, base_year: int) -> dict[str, np.ndarray]:
    """NHS provider WTE required, the gap against WTE in post, and the vacancy rate if in post stays [year, run]."""
    system = activity.sum(axis=-1)
    weights = np.array([workforce.setting_weights.get(s, 0.0) for s in SETTINGS])
    base = np.where(system[0] > 0, system[0], 1.0)
    index = (system / base[None] * weights).sum(axis=-1)
    establishment = workforce.wte_in_post.value + workforce.vacancy_wte.value
    required = establishment * index / (1 + productivity[None, :]) ** (years - base_year)[:, None]
    gap = required - workforce.wte_in_post.value
    return {"nhs_wte_required": required, "nhs_wte_gap": gap, "nhs_vacancy_rate": gap / required}


def bed_gap(needed: np.ndarray, capacity: Capacity, places: tuple[str, ...]) -> np.ndarray:
    """Beds to add [year, run, Place]: against the Place's recorded bed base, else against the base year's need."""
    recorded = np.array([capacity.bed_capacity[p].value if p in capacity.bed_capacity else np.nan for p in places])
    return np.where(np.isnan(recorded), needed - needed[:1], needed - recorded)
