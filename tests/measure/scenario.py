"""A hand-made warehouse whose indicator counts are worked out by hand in the tests (see comments)."""

from __future__ import annotations

from datetime import date, datetime

from measure_builder import Warehouse

from placewise.codelists import codes


def code(name: str) -> str:
    """The first code of a codelist."""
    return codes(name)[0]


def scenario() -> Warehouse:
    """People p1..p13 and u1 with records chosen so that every expected count can be worked by hand."""
    w = Warehouse()
    htn, sbp, dbp = code("hypertension"), code("systolic_bp"), code("diastolic_bp")
    # Hypertension register: p1-p7, p9, p10, p11.
    w.person("p1", born=(1950, 6))                          # 73 at 31 Mar 2024
    w.person("p2", born=(1940, 1))                          # 84
    w.person("p3", born=(1960, 1))                          # 64
    w.person("p4", born=(1960, 1))
    w.person("p5", born=(1960, 1))
    w.person("p6", born=(1960, 1), died=date(2024, 3, 15))
    w.person("p7", born=(1960, 1), left=date(2024, 2, 15))
    w.person("p8", born=(1960, 1))                          # no hypertension
    w.person("p9", born=(1960, 1))
    w.person("p10", born=(1974, 1), lsoa="L3", practice="P3", sex="male")   # 50, Luton, IMD quintile 2
    w.person("p11", born=(1970, 1), left=date(2024, 1, 31))                 # moves to P2 in February
    w.register("p11", "P2", date(2024, 2, 1))
    for p in ("p1", "p2", "p3", "p4", "p5", "p6", "p7", "p10", "p11"):
        w.event(p, date(2020, 1, 1), htn)
    w.event("p9", date(2024, 3, 20), htn)                   # first LTC record, aged 64, in March
    bp = {"p1": (date(2024, 2, 1), 130, 80), "p2": (date(2024, 1, 10), 145, 85),
          "p3": (date(2024, 1, 10), 145, 85), "p4": (date(2022, 12, 1), 130, 80),
          "p6": (date(2024, 1, 5), 130, 80), "p10": (date(2024, 3, 1), 120, 70)}
    for p, (on, s, d) in bp.items():
        w.event(p, on, sbp, s)
        w.event(p, on, dbp, d)
    w.event("p5", date(2024, 3, 1), sbp, 150)               # two readings on the latest day: lowest counts
    w.event("p5", date(2024, 3, 1), sbp, 135)
    w.event("p5", date(2024, 3, 1), dbp, 80)
    w.event("p5", date(2023, 6, 1), sbp, 170)               # older reading, ignored
    # A&E: type 1 at RC9 (240 and 241 minutes), type 1 at RD8, a type 3 at RC9, and an unregistered visitor.
    w.person("u1", born=(1980, 1), left=date(2023, 1, 1))
    w.attendance("p1", datetime(2024, 3, 2, 10), 240)
    w.attendance("p2", datetime(2024, 3, 2, 11), 241)
    w.attendance("p3", datetime(2024, 3, 3, 9), 100, provider="RD8", site="RD816")
    w.attendance("p1", datetime(2024, 3, 4, 9), 60, dept=3)
    w.attendance("u1", datetime(2024, 3, 5, 9), 30, provider="RD8", site="RD816")
    # Spells: p1's emergency admissions 3-5 March and 20-26 March (a readmission); p3's elective in January.
    w.spell("p1", date(2024, 3, 3), date(2024, 3, 5))
    w.spell("p1", date(2024, 3, 20), date(2024, 3, 26))
    w.spell("p3", date(2024, 1, 10), date(2024, 1, 12), method="elective")
    # Asthma: p12 six SABA issues in Apr-Sep 2023; p13 five then, plus one in March 2023.
    w.person("p12", born=(1990, 1), lsoa="L2", sex="male")
    w.person("p13", born=(1990, 1))
    w.event("p12", date(2023, 6, 1), code("asthma"))       # first LTC record, aged 33, IMD quintile 5
    w.event("p13", date(2019, 1, 1), code("depression"))
    w.event("p13", date(2023, 5, 1), code("asthma"))
    saba = code("saba_relievers")
    for m in range(4, 10):
        w.medication("p12", date(2023, m, 15), saba)
    for m in range(4, 9):
        w.medication("p13", date(2023, m, 15), saba)
    w.medication("p13", date(2023, 3, 15), saba)
    # Dementia: p2 (female, 84).
    w.event("p2", date(2022, 5, 1), code("dementia"))
    # Talking therapies: p10 twice, p3 once, in the quarter January-March 2024.
    for i, (p, on) in enumerate([("p10", date(2024, 2, 1)), ("p10", date(2024, 3, 1)), ("p3", date(2024, 1, 9))]):
        w.add("mental_health_contacts", contact_id=f"M{i}", person_id=p, provider_code="RWK",
              service="talking_therapies", contact_date=on, attended=True)
    # Published A&E returns for March 2024 (and one outside the range).
    w.aggregate(date(2024, 3, 1), "RC9", "ae_4hr_type1", 90, 100)
    w.aggregate(date(2024, 3, 1), "RD8", "ae_4hr_type1", 80, 100)
    w.aggregate(date(2023, 3, 1), "RD8", "ae_4hr_type1", 1, 1)
    return w
