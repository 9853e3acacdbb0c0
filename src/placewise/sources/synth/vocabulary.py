"""The generator's own primary-care coding: SNOMED CT concepts and dm+d products as GP records hold them.

Like :mod:`placewise.sources.synth.hospital_codes`, this vocabulary belongs to the generator alone and never
reads Placewise's codelists: it is how clinicians in the synthetic practices code, not what any indicator
looks for. So it includes codes outside the usual indicator lists (history-of codes, symptoms, prediabetes,
early CKD stages), several diagnosis codes per condition, and resolved codes. A wrong or narrow definition
then gives a measurably wrong register, which the register-versus-truth test catches.

Codes are facts. SNOMED CT concept ids are from the SNOMED CT UK edition (NHS England, TRUD); dm+d virtual
medicinal products (VMPs) from the NHS dictionary of medicines and devices. Cited sources where a code was
looked up: the anticoagulant VMPs as listed in OpenEyes' anticoagulant migration (github.com/openeyes/openeyes,
``m170908_141900_tag_known_anticoagulant_meds``); salbutamol VMPs from OpenCodelists' dm+d tests
(github.com/opensafely-core/opencodelists); inhaled corticosteroid VMPs from a public UK dm+d ICS list; ramipril and amlodipine VMPs from public dm+d extracts quoted in
open repositories; hypertension resolved (162659009) from the NHS primary care domain cluster HYPRES_COD as
used in OpenSAFELY studies. The others are recalled from the same releases; every id passes the SNOMED CT
Verhoeff check (a test checks this), but terms are indicative. The weights are the generator's assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

Weighted = dict[str, float]

DIAGNOSIS: dict[str, Weighted] = {
    # condition -> diagnosis codes a clinician records, with how often each is chosen
    "hypertension": {"59621000": 0.45, "38341003": 0.35, "1201005": 0.06, "10725009": 0.04, "429457004": 0.05,
                     "371125006": 0.03, "78975002": 0.02},
    "type2_diabetes": {"44054006": 0.72, "73211009": 0.1, "313436004": 0.08, "81531005": 0.05, "237599002": 0.05},
    "asthma": {"195967001": 0.6, "389145006": 0.08, "370218001": 0.07, "370219009": 0.05, "233678006": 0.07,
               "266361008": 0.03, "195977004": 0.04, "370221004": 0.03, "57607007": 0.03},
    "copd": {"13645005": 0.76, "185086009": 0.1, "87433001": 0.08, "195951007": 0.06},
    "chd": {"53741008": 0.3, "414545008": 0.2, "22298006": 0.2, "194828000": 0.2, "413838009": 0.05,
            "401303003": 0.05},
    "heart_failure": {"84114007": 0.6, "42343007": 0.2, "85232009": 0.1, "703272007": 0.05, "446221000": 0.05},
    "atrial_fibrillation": {"49436004": 0.7, "282825002": 0.12, "440059007": 0.05, "426749004": 0.05,
                            "5370000": 0.05, "314208002": 0.03},
    "stroke_tia": {"230690007": 0.4, "266257000": 0.3, "422504002": 0.15, "432504007": 0.1, "274100004": 0.05},
    "ckd": {"433144002": 0.3, "700378005": 0.3, "700379002": 0.15, "431857002": 0.1, "433146000": 0.03,
            "709044004": 0.12},
    "dementia": {"52448006": 0.5, "26929004": 0.25, "429998004": 0.15, "312991009": 0.05, "230270009": 0.05},
    "depression": {"35489007": 0.45, "370143000": 0.2, "310495003": 0.15, "310496002": 0.1, "310497006": 0.05,
                   "66344007": 0.05},
    "smi": {"58214004": 0.35, "13746004": 0.35, "69322001": 0.15, "68890003": 0.15},
    "learning_disability": {"110359009": 0.7, "86765009": 0.2, "41040004": 0.1},
    "cancer": {"363346000": 0.3, "254837009": 0.2, "399068003": 0.15, "363406005": 0.1, "363358000": 0.1,
               "372244006": 0.15},
    "msk": {"396275006": 0.5, "239873007": 0.2, "239872002": 0.1, "69896004": 0.1, "279039007": 0.1},
    "obesity": {"414916001": 0.7, "238136002": 0.2, "408512008": 0.1},
}

ONLY_NON_DIAGNOSTIC: dict[str, tuple[float, Weighted]] = {
    # condition -> (share of diagnosed people recorded only this way, codes): a symptom, history-of or
    # observation code a clinician used instead of a diagnosis; no register built on diagnosis codes finds them
    "hypertension": (0.03, {"24184005": 0.7, "161501007": 0.3}),      # raised blood pressure; history of hypertension
    "asthma": (0.03, {"161527007": 1.0}),                              # history of asthma
    "depression": (0.06, {"394924000": 1.0}),                          # symptoms of depression
    "ckd": (0.04, {"431855005": 0.5, "431856006": 0.5}),               # CKD stage 1 or 2 only, though stage 3
}

OUTSIDE_CONDITION: dict[str, tuple[float, Weighted]] = {
    # codes in the records of people who do NOT have the condition (share of adults), near misses for a definition
    "type2_diabetes": (0.04, {"714628002": 1.0}),                      # prediabetes
    "hypertension": (0.02, {"24184005": 1.0}),                         # a raised reading, not hypertension
}

RESOLVED: dict[str, str] = {
    # condition -> its resolved code (QOF *RES_COD clusters hold these concepts)
    "hypertension": "162659009",       # hypertension resolved
    "asthma": "162660004",             # asthma resolved
    "type2_diabetes": "315051004",     # diabetes resolved
    "atrial_fibrillation": "196371000000102",  # atrial fibrillation resolved
}

SYSTOLIC: Weighted = {"271649006": 0.8, "72313002": 0.15, "163030003": 0.05}
DIASTOLIC_OF: dict[str, str] = {"271649006": "271650006", "72313002": "1091811000000102", "163030003": "163031004"}
"""Each systolic code and the diastolic code recorded with it: a reading is a pair on the same date."""

BMI = "60621009"
HBA1C: Weighted = {"999791000000106": 0.9, "1003671000000109": 0.1}
SPIROMETRY = "127783003"
EFI_SCORE = "713636003"
FRAILTY_GRADES = ("925831000000107", "925861000000102", "925791000000100")
"""Mild, moderate and severe frailty."""
LD_HEALTH_CHECK = "401184000"
SMI_HEALTH_CHECK = "1366341000000104"
SMOKING: Weighted = {"266919005": 0.55, "8517006": 0.3, "77176002": 0.15}
"""Never smoked, ex-smoker, smoker."""
CHOLESTEROL: Weighted = {"1005671000000105": 0.55, "994351000000103": 0.3, "1017161000000104": 0.1,
                        "1083761000000106": 0.05}
"""Serum cholesterol, serum total cholesterol, plasma total cholesterol, serum fasting total cholesterol."""
ALCOHOL_INTAKE = "160573003"
"""Alcohol intake, recorded with a value in units a week."""
ALCOHOL_LEVEL: Weighted = {"105542008": 0.35, "228276006": 0.25, "43783005": 0.2, "160593006": 0.12, "86933000": 0.08}
"""Drinking recorded as a level instead: teetotaller, occasional, moderate, within limits, heavy drinker."""


@dataclass(frozen=True)
class Medicine:
    """A class of medicine: its products (VMPs) at realistic strengths and how it is issued."""

    products: Weighted
    interval_days: int
    """Days between repeat issues (a 28- or 56-day supply); inhalers are issued as needed instead."""
    quantity: float
    """Quantity on one issue (tablets, capsules or inhalers)."""


MEDICINES: dict[str, Medicine] = {
    "antihypertensive": Medicine({
        "319283006": 0.22, "319284000": 0.1,            # amlodipine 5mg, 10mg tablets
        "318900007": 0.04, "318901006": 0.12, "318902004": 0.1, "318903009": 0.06,  # ramipril 1.25-10mg capsules
        "317919004": 0.08,                                # bendroflumethiazide 2.5mg tablets
    }, 56, 56.0),
    "doac": Medicine({
        "703907006": 0.12, "703908001": 0.38,             # apixaban 2.5mg, 5mg tablets
        "19842111000001101": 0.08, "19842211000001107": 0.22,  # rivaroxaban 15mg, 20mg tablets
        "13532811000001109": 0.03, "19469811000001101": 0.04,  # dabigatran 110mg, 150mg capsules
        "29903311000001108": 0.05,                        # edoxaban 30mg tablets
    }, 56, 56.0),
    "vitamin_k_antagonist": Medicine({
        "319736008": 0.2, "319733000": 0.45, "319734006": 0.25, "319735007": 0.1,  # warfarin 0.5, 1, 3, 5mg
    }, 28, 112.0),
    "saba": Medicine({
        "39113611000001102": 0.65, "39112711000001103": 0.25, "35936411000001109": 0.1,  # salbutamol 100 micrograms
        # per dose: pressurised CFC free, breath actuated CFC free, breath actuated
    }, 0, 1.0),
    "ics": Medicine({
        "35908111000001105": 0.45, "35907911000001107": 0.15,  # beclometasone 100 micrograms, pressurised, breath actuated
        "35912411000001100": 0.25, "15374611000001106": 0.15,  # budesonide 200 micrograms, dry powder, pressurised
    }, 56, 1.0),
    # dm+d products looked up in the GM-SDE medicine code sets (github.com/UoM-Data-Science-Platforms/gm-sde) and
    # PINCER's lithium list (opensafely/pincer-measures); the generator's own choice of common products.
    "antidepressant": Medicine({
        "39704111000001102": 0.35, "321987003": 0.25, "321949006": 0.2,   # sertraline 50mg, citalopram 20mg tablets,
        "321745007": 0.2,                                                  # fluoxetine 20mg capsules, amitriptyline 10mg
    }, 28, 28.0),
    "anxiolytic_hypnotic": Medicine({"42139411000001100": 0.6, "321196004": 0.4}, 28, 28.0),  # zopiclone 7.5mg, diazepam 2mg
    "analgesic": Medicine({
        "322236009": 0.35, "322341003": 0.35, "322623000": 0.2, "42010411000001105": 0.1,  # paracetamol 500mg,
    }, 28, 100.0),                                                # co-codamol 30/500mg, tramadol 50mg, codeine 30mg
    "antiepileptic": Medicine({
        "323054005": 0.4, "322957006": 0.25, "322982006": 0.25, "322864007": 0.1,  # levetiracetam 500mg, sodium
    }, 56, 112.0),                                                # valproate 500mg, lamotrigine 100mg, carbamazepine 200mg
    "lithium": Medicine({"13177001000001108": 1.0}, 28, 56.0),    # lithium carbonate 400mg modified-release tablets
    # common products of BNF 1.6 and 1.2 by the LUCK study's shares (Shafe et al., Ther Adv Gastroenterol 2011)
    "laxative": Medicine({
        "3591211000001105": 0.35, "317574008": 0.3, "317548002": 0.25,  # macrogol compound sachets, lactulose
        "317512004": 0.05, "317544000": 0.05,                           # solution, senna 7.5mg, bisacodyl 5mg, docusate
    }, 28, 30.0),
    "antispasmodic": Medicine({
        "317161009": 0.55, "317117001": 0.2,               # mebeverine 135mg tablets, hyoscine butylbromide 10mg tablets
        "14610311000001100": 0.15, "317148009": 0.1,       # peppermint oil 0.2ml capsules, alverine 60mg capsules
    }, 28, 84.0),
}

FRAILTY_PROBLEMS: dict[str, tuple[float, Weighted]] = {
    # problem of later life -> (how readily it accumulates, relative to the others; the codes a clinician records).
    # Symptoms, sensory loss, function and social circumstances that GP records hold for older people, beside the
    # long-term conditions above; terms as in the SNOMED CT UK edition.
    "falls": (1.0, {"161898004": 0.7, "1912002": 0.3}),                 # falls; fall
    "dizziness": (0.6, {"404640003": 1.0}),                             # dizziness
    "hearing_loss": (1.0, {"15188001": 1.0}),                           # hearing loss
    "visual_impairment": (0.8, {"397540003": 1.0}),                     # visual impairment
    "urinary_incontinence": (0.8, {"165232002": 1.0}),                  # urinary incontinence
    "memory": (0.5, {"386807006": 1.0}),                                # memory impairment
    "mobility": (0.9, {"8510008": 0.5, "165251008": 0.5}),              # reduced mobility; walking aid use
    "housebound": (0.3, {"160689007": 1.0}),                            # housebound
    "lives_alone": (0.8, {"105529008": 1.0}),                           # lives alone
    "care": (0.4, {"184156005": 0.5, "160774006": 0.5}),                # has a caregiver; home help attends
    "insomnia": (0.6, {"193462001": 1.0}),                              # insomnia
    "dyspnoea": (0.6, {"267036007": 1.0}),                              # dyspnoea
    "anaemia": (0.5, {"271737000": 1.0}),                               # anaemia
    "hypothyroidism": (0.5, {"40930008": 1.0}),                         # hypothyroidism
    "osteoporosis": (0.5, {"64859006": 1.0}),                           # osteoporosis
    "hip_fracture": (0.25, {"5913000": 1.0}),                           # fracture of neck of femur
    "weight_loss": (0.35, {"89362005": 1.0}),                           # weight loss
    "syncope": (0.4, {"271594007": 0.5, "45007003": 0.5}),              # syncope; low blood pressure
    "tremor": (0.15, {"26079004": 0.7, "49049000": 0.3}),               # tremor; Parkinson's disease
    "leg_ulcer": (0.25, {"95344007": 0.6, "399912005": 0.4}),           # ulcer of lower limb; pressure ulcer
    "urinary_infection": (0.5, {"68566005": 1.0}),                      # urinary tract infection
    "aortic_stenosis": (0.2, {"60573004": 1.0}),                        # aortic valve stenosis
    "peripheral_vascular": (0.2, {"400047006": 1.0}),                   # peripheral vascular disease
    "peptic_ulcer": (0.15, {"13200003": 1.0}),                          # peptic ulcer
    "podiatry": (0.5, {"185303007": 1.0}),                              # seen by podiatrist
    "disability": (0.3, {"21134002": 1.0}),                             # disability
    "osteoarthritis": (0.8, {"396275006": 1.0}),                        # osteoarthritis
}

EPILEPSY: Weighted = {"84757009": 0.6, "352818000": 0.15, "230381009": 0.15, "193000002": 0.1}
"""Epilepsy; tonic-clonic, focal and temporal lobe epilepsy."""

IRRITABLE_BOWEL: Weighted = {"10743008": 0.6, "197125005": 0.15, "440630006": 0.15, "440544005": 0.1}
"""Irritable bowel syndrome; with diarrhoea; characterised by constipation; by alternating bowel habit."""

ALCOHOL_PROBLEMS: Weighted = {"15167005": 0.45, "66590003": 0.35, "7200002": 0.2}
"""Alcohol misuse; alcohol dependence; alcohol problem drinking."""

CARE_PLAN: Weighted = {
    "792871000000101": 0.45,   # has anticipatory care plan
    "811871000000107": 0.25,   # health and social care plan agreed
    "326321000000103": 0.1,    # social care plan
    "734163000": 0.2,          # care plan (the generic record artefact: not every care-plan search looks for it)
}
"""How a care plan for a frail older person is recorded."""

PALLIATIVE_ENTRY: Weighted = {
    "526631000000108": 0.28,   # on end of life care register
    "414937009": 0.14,         # on gold standards palliative care framework
    "103735009": 0.14,         # palliative care
    "201511000000105": 0.1,    # under care of palliative care service
    "306237005": 0.07,         # referral to palliative care service
    "514591000000108": 0.08,   # completion of DS1500 terminal illness medical report
    "162608008": 0.05,         # terminal illness - late stage
    "713603004": 0.14,         # advance care planning (not every register search looks for it)
}
"""How a practice first records that a person is approaching the end of life."""

PALLIATIVE_REVIEW: Weighted = {
    "713673000": 0.3,          # has end of life care plan
    "871021000000106": 0.2,    # prescription of palliative care anticipatory medication
    "850951000000107": 0.2,    # under care of palliative care specialist nurse
    "845721000000108": 0.1,    # gold standards framework prognostic indicator stage B - months prognosis
    "511401000000102": 0.05,   # last days of life
    "385763009": 0.15,         # hospice care
}
"""Later records of palliative care: plans, anticipatory medicines, specialist nursing, prognosis, hospice."""
