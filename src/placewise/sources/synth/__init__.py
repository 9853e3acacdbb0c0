"""The synthetic population generator (``placewise synth``): a calibrated, deterministic synthetic ICS.

How it works, in the order the data are made (all parameters are in the profile's ``synthetic.yaml``):

1. Geography: synthetic LSOAs (``E019…``, about ``residents_per_lsoa`` each) grouped into wards, with
   IMD deciles in the proportions given per Place and deprived areas clustered together.
2. Practices: the profile's number per Place, each serving a block of neighbouring LSOAs (so practices
   differ in deprivation), grouped into the profile's PCNs; list sizes are the registrations open at the end.
3. People: the end-date registered population from each Place's age–sex pyramid and ethnicity mix (exact
   proportions, no sampling noise), plus those who died or left during the window; registrations from birth,
   arrival or earlier, with practice moves. NHS numbers are a seeded draw from the range reserved for testing,
   999 000 0000–999 999 9999 (909,091 valid numbers); a scale needing more people is refused, naming the largest
   that fits (about 0.69 for BLMK with five years of history).
4. Long-term conditions: a hazard rising with age (Gompertz), deprivation, sex and ethnic group; onset
   earlier in deprived areas by a Place-specific shift; the base rate is solved so that true prevalence matches
   the profile, and a share stays undiagnosed (dementia, hypertension, AF).
5. Primary care: diagnosis codes, blood pressure that falls once treatment starts, medication issues,
   spirometry, HbA1c, BMI, frailty scores and annual health checks, with practice-level variation in care.
6. Activity: person-level rates (age, multimorbidity, deprivation, named conditions) spread over a daily
   calendar with seasonality, growth and step changes; A&E admissions open emergency spells; readmissions.

``calibration`` then measures the figures in ``synthetic.yaml``'s ``calibration`` list from the written files.
Codes come from the generator's own vocabulary (``vocabulary.py``, ``hospital_codes.py``), never from
Placewise's codelists, and each person's true state is written to ``truth/person_state.parquet`` (``truth.py``).
"""

from placewise.sources.synth.calibrate import calibration
from placewise.sources.synth.generate import generate

__all__ = ["calibration", "generate"]
