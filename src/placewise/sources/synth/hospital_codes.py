"""The generator's own hospital coding: ICD-10 and OPCS-4 codes as a coder in an English trust assigns them.

This vocabulary belongs to the generator alone: it never reads Placewise's codelists or the indicator
catalogue, so a definition that picks the wrong codes (a fall as a primary diagnosis, a heart failure code
missing from a list) gives a wrong figure that a test can catch. Codes are facts: ICD-10 5th edition (WHO,
as used by the NHS; written without the dot, three-character codes padded with ``X`` as SUS writes them) and
OPCS-4.10 (NHS England; procedure codes chosen to match the diagnosis, terms in the comments are
indicative). Treatment function codes follow the NHS Data Dictionary. The weights are the generator's assumptions: how often a coder picks each code.
"""

from __future__ import annotations

Weighted = dict[str, float]

COMORBIDITY_ICD10: dict[str, Weighted] = {
    # secondary diagnoses a coder records for a patient known to have the condition
    "hypertension": {"I10X": 1.0},
    "type2_diabetes": {"E119": 0.7, "E112": 0.1, "E115": 0.05, "E116": 0.1, "E113": 0.05},
    "asthma": {"J459": 0.85, "J450": 0.15},
    "copd": {"J449": 0.8, "J441": 0.1, "J440": 0.1},
    "chd": {"I251": 0.55, "I259": 0.2, "I252": 0.1, "Z955": 0.15},
    "heart_failure": {"I509": 0.45, "I500": 0.35, "I501": 0.1, "I110": 0.1},
    "atrial_fibrillation": {"I489": 0.55, "I480": 0.2, "I481": 0.1, "I482": 0.15},
    "stroke_tia": {"Z867": 0.4, "I693": 0.4, "G459": 0.2},
    "ckd": {"N183": 0.6, "N184": 0.2, "N185": 0.05, "N189": 0.15},
    "dementia": {"F03X": 0.5, "F000": 0.1, "F001": 0.1, "G309": 0.15, "F019": 0.15},
    "depression": {"F329": 0.7, "F339": 0.2, "F412": 0.1},
    "smi": {"F209": 0.5, "F319": 0.35, "F259": 0.15},
    "learning_disability": {"F79X": 0.6, "F709": 0.25, "F719": 0.15},
    "cancer": {"Z853": 0.2, "Z854": 0.15, "Z858": 0.15, "C509": 0.15, "C61X": 0.15, "C189": 0.1, "C349": 0.1},
    "msk": {"M199": 0.35, "M179": 0.25, "M545": 0.25, "M169": 0.15},
    "obesity": {"E669": 0.85, "E668": 0.15},
}
"""Condition -> ICD-10 codes a coder uses for it in a secondary position, with relative weights."""

EMERGENCY_PRIMARY_ICD10: dict[str, Weighted] = {
    # primary diagnoses of emergency spells caused by the named condition
    "heart_failure": {"I500": 0.4, "I509": 0.3, "I110": 0.1, "J81X": 0.1, "I130": 0.05, "I501": 0.05},
    "copd": {"J441": 0.6, "J440": 0.25, "J449": 0.15},
    "asthma": {"J459": 0.45, "J46X": 0.3, "J450": 0.15, "J451": 0.1},
}
"""I50, I11.0, I13.0 and J81 are the heart failure codes of the NHS Outcomes Framework admission measure."""

OTHER_EMERGENCY_ICD10: Weighted = {
    "R074": 1.0, "J189": 1.0, "N390": 1.0, "R55X": 0.7, "K590": 0.5, "L031": 0.6, "A419": 0.6, "R101": 0.8,
    "J22X": 0.8, "I214": 0.5, "I639": 0.5, "K529": 0.6, "R296": 0.15, "R268": 0.15,
}
"""Primary diagnoses of other emergency spells. R29.6 (repeated falls) and R26.8 (unsteadiness) are falls
recorded without an injury: a definition that counts a W00-W19 cause without an injury primary counts them."""

FALL_INJURY_PRIMARY_ICD10: Weighted = {
    # injuries (S00-T98) that follow a fall in older people, as the primary diagnosis of the spell
    "S720": 0.22, "S721": 0.12, "S722": 0.04, "S525": 0.08, "S422": 0.07, "S320": 0.04, "S324": 0.03,
    "S060": 0.08, "S065": 0.03, "S011": 0.06, "S010": 0.04, "S099": 0.04, "S202": 0.04, "S300": 0.04,
    "S823": 0.03, "T141": 0.02, "T148": 0.02,
}

FALL_EXTERNAL_CAUSE_ICD10: Weighted = {
    # W00-W19 falls; the fourth character is the place of occurrence (0 home, 1 residential institution, 9 unspecified)
    "W010": 0.14, "W019": 0.06, "W060": 0.06, "W061": 0.03, "W100": 0.08, "W109": 0.03, "W180": 0.12,
    "W181": 0.05, "W189": 0.05, "W190": 0.18, "W191": 0.08, "W199": 0.12,
}

OTHER_INJURY_CAUSE_ICD10: Weighted = {
    # injuries in older people from causes other than a fall (not counted by PHOF C29)
    "W220": 0.3, "W229": 0.1, "X590": 0.3, "X599": 0.1, "V892": 0.2,
}

PLACE_OF_OCCURRENCE_ICD10: Weighted = {"Y929": 0.6, "Y920": 0.4}
"""A place-of-occurrence code a coder sometimes adds after the external cause."""

ELECTIVE_PRIMARY: dict[str, tuple[float, str, Weighted]] = {
    # elective primary diagnosis -> (relative frequency, treatment function, OPCS-4 primary procedures with weights)
    "H251": (1.4, "130", {"C712": 1.0}),            # senile nuclear cataract: phacoemulsification of lens
    "M171": (0.6, "110", {"W401": 0.7, "W411": 0.3}),  # primary knee arthrosis: total knee replacement
    "M161": (0.6, "110", {"W371": 0.5, "W381": 0.3, "W391": 0.2}),  # primary hip arthrosis: total hip replacement
    "K802": (0.5, "100", {"J183": 1.0}),            # gallstones: cholecystectomy
    "K409": (0.6, "100", {"T202": 0.7, "T201": 0.3}),  # inguinal hernia: primary repair
    "Z511": (1.5, "800", {"X352": 1.0}),            # chemotherapy session: intravenous chemotherapy
    "N185": (0.4, "361", {"X403": 1.0}),            # kidney failure: renal dialysis
    "K573": (0.6, "301", {"H229": 1.0}),            # diverticular disease: diagnostic colonoscopy
    "D126": (0.6, "301", {"H201": 0.6, "H229": 0.4}),  # colon polyp: snare resection or colonoscopy
    "C509": (0.4, "103", {"B282": 0.6, "B274": 0.4}),  # breast cancer: excision of breast
    "N40X": (0.3, "101", {"M651": 1.0}),            # prostatic hyperplasia: transurethral resection of prostate
    "J350": (0.2, "120", {"F341": 1.0}),            # chronic tonsillitis: tonsillectomy
    "N920": (0.3, "502", {"Q181": 1.0}),            # heavy menstruation: hysteroscopy
    "L905": (0.3, "330", {"S062": 1.0}),            # skin lesion: excision of lesion of skin
    # medical specialties' elective and day-case work: OPCS-4 chapter G (upper digestive tract), K (heart) and E
    # (respiratory tract)
    "K219": (0.4, "301", {"G459": 0.6, "G451": 0.4}),  # reflux disease: diagnostic upper GI endoscopy, with biopsy
    "K30X": (0.3, "301", {"G459": 0.6, "G451": 0.4}),  # dyspepsia: diagnostic upper GI endoscopy, with biopsy
    "I209": (0.4, "320", {"K634": 0.75, "K751": 0.25}),  # angina: coronary arteriography; angioplasty and stent
    "I251": (0.2, "320", {"K634": 0.6, "K751": 0.4}),  # chronic ischaemic heart disease: the same
    "R91X": (0.2, "340", {"E499": 0.6, "E491": 0.4}),  # abnormal lung imaging: diagnostic fibreoptic bronchoscopy
}

EMERGENCY_PROCEDURES: dict[str, Weighted] = {
    # emergency primary diagnosis prefix -> OPCS-4 procedures (hip fracture fixation, cardiac catheter…)
    "S720": {"W461": 0.5, "W471": 0.3, "W241": 0.2},
    "S721": {"W241": 0.7, "W191": 0.3},
    "I214": {"K751": 0.7, "K634": 0.3},
}
EMERGENCY_PROCEDURE_SHARE = 0.75
"""Share of emergency spells with one of the diagnoses above that have the procedure recorded."""
