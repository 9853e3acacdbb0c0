"""Reading the history from a hand-built warehouse: every change of the registered population classified."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pytest

from placewise.analyse.planning.config import SETTINGS
from placewise.analyse.planning.history import mid_years, read_history
from placewise.canonical import TABLES
from placewise.warehouse import connect

BED, LUT = "E06000055", "E06000032"
PLACES = (BED, LUT)


def _person(rows: dict, pid: str, born: tuple[int, int], sex: str, regs: list[tuple[str, date, date | None]],
            died: date | None = None) -> None:
    """A person with their registrations."""
    rows["people"].append(dict(person_id=pid, birth_year=born[0], birth_month=born[1], sex=sex, ethnicity="A",
                               lsoa_code="L1", date_of_death=died))
    for practice, start, end in regs:
        rows["registrations"].append(dict(person_id=pid, practice_code=practice, start_date=start, end_date=end))


def _warehouse(path: Path | str) -> ibis.BaseBackend:
    """Mid-years 2022, 2023 and 2024 (activity from June 2022 to July 2024); two Places, one practice each."""
    rows: dict[str, list[dict]] = {t.name: [] for t in TABLES}
    rows["geography"] = [dict(lsoa_code="L1", lsoa_name="L1", ward_code="W1", ward_name="W1", la_code=BED,
                              la_name="Bedford", imd_decile=5)]
    rows["practices"] = [dict(practice_code="P1", practice_name="P1", pcn_code="N1", pcn_name="N1", la_code=BED,
                              list_size=1),
                         dict(practice_code="P3", practice_name="P3", pcn_code="N3", pcn_name="N3", la_code=LUT,
                              list_size=1)]
    _person(rows, "A", (1950, 1), "female", [("P1", date(2000, 1, 1), None)])
    _person(rows, "B", (1940, 3), "male", [("P1", date(2000, 1, 1), date(2022, 12, 1))], died=date(2022, 12, 1))
    _person(rows, "C", (1990, 5), "female", [("P1", date(2000, 1, 1), date(2023, 3, 1))])
    _person(rows, "D", (1985, 1), "male", [("P1", date(2000, 1, 1), date(2023, 8, 31)), ("P3", date(2023, 9, 1), None)])
    _person(rows, "E", (2023, 1), "female", [("P3", date(2023, 2, 1), None)])
    _person(rows, "F", (1970, 6), "male", [("P3", date(2024, 1, 10), None)])
    for i, (on, status) in enumerate([(date(2022, 6, 1), "attended"), (date(2022, 8, 1), "attended"),
                                      (date(2023, 8, 1), "attended"), (date(2023, 9, 1), "did_not_attend"),
                                      (date(2024, 7, 15), "attended")]):
        rows["gp_appointments"].append(dict(appointment_id=f"G{i}", person_id="A", practice_code="P1",
                                            appointment_date=on, mode="face_to_face", status=status))
    rows["ae_attendances"].append(dict(attendance_id="AE1", person_id="D", provider_code="RC9", site_code=None,
                                       department_type=1, arrival=datetime(2024, 1, 1, 10),
                                       departure=datetime(2024, 1, 1, 12), disposal="discharged"))
    rows["inpatient_spells"].append(dict(spell_id="S2", person_id="A", provider_code="RC9", site_code=None,
                                         admission_method="emergency", admission_date=date(2023, 10, 1),
                                         discharge_date=date(2023, 10, 3), primary_diagnosis="S720",
                                         treatment_function="300"))
    rows["inpatient_diagnoses"].append(dict(spell_id="S2", position=2, icd10_code="W010"))  # the fall, as PHOF C29
    rows["inpatient_spells"].append(dict(spell_id="S1", person_id="A", provider_code="RC9", site_code=None,
                                         admission_method="emergency", admission_date=date(2023, 1, 10),
                                         discharge_date=date(2023, 1, 15), primary_diagnosis="R69",
                                         treatment_function="300"))
    con = connect(path)
    for t in TABLES:
        schema = t.warehouse_schema()
        con.create_table(t.name, schema=ibis.Schema.from_pyarrow(schema))
        if rows[t.name]:
            con.insert(t.name, pa.table({f.name: pa.array([r.get(f.name) for r in rows[t.name]], f.type)
                                         for f in schema}, schema=schema))
    return con


def test_mid_years_need_a_whole_year() -> None:
    assert mid_years(date(2021, 10, 1), date(2026, 9, 30)) == tuple(date(y, 6, 30) for y in range(2022, 2027))
    with pytest.raises(ValueError, match="no whole year"):
        mid_years(date(2024, 1, 1), date(2025, 3, 1))


def test_every_change_classified(tmp_path: Path) -> None:
    con = _warehouse(tmp_path / "w.duckdb")
    h = read_history(con, PLACES)
    assert h.mid_years == (date(2022, 6, 30), date(2023, 6, 30), date(2024, 6, 30))
    assert h.population.sum(axis=(2, 3)).tolist() == [[4, 0], [2, 1], [1, 3]]
    expected = np.zeros_like(h.deaths)
    expected[0, 0, 1, 82] = 1  # B, 82 on 30 June 2022
    np.testing.assert_array_equal(h.deaths, expected)
    expected = np.zeros_like(h.deaths)
    expected[0, 0, 0, 32] = 1  # C left
    expected[1, 0, 1, 38] = 1  # D moved from Bedford to Luton
    np.testing.assert_array_equal(h.out_migration, expected)
    expected = np.zeros_like(h.deaths)
    expected[1, 1, 1, [39, 54]] = 1  # D arrived in Luton, and F
    np.testing.assert_array_equal(h.in_migration, expected)
    assert h.births.tolist() == [[[0, 0], [1, 0]], [[0, 0], [0, 0]]]
    # The identity holds in the data: change = births - deaths + in - out, every Place and year.
    change = np.diff(h.population.sum(axis=(2, 3)), axis=0)
    flows = h.births.sum(-1) - h.deaths.sum(axis=(2, 3)) + h.in_migration.sum(axis=(2, 3)) \
        - h.out_migration.sum(axis=(2, 3))
    np.testing.assert_array_equal(change, flows)


def test_activity_by_setting_for_those_registered_at_the_start_of_the_year(tmp_path: Path) -> None:
    h = read_history(_warehouse(tmp_path / "w.duckdb"), PLACES)
    gp, ae = SETTINGS.index("gp_appointments"), SETTINGS.index("ae_attendances")
    adm, days = SETTINGS.index("emergency_admissions"), SETTINGS.index("emergency_bed_days")
    falls = SETTINGS.index("falls_admissions")
    assert h.activity.sum() == 1 + 1 + 1 + (1 + 5) + (1 + 2 + 1)
    assert h.activity[0, gp, 0, 0, 72] == 1 and h.activity[1, gp, 0, 0, 73] == 1
    assert h.activity[1, ae, 0, 1, 38] == 1  # D was in Bedford at the start of the year
    assert h.activity[0, adm, 0, 0, 72] == 1 and h.activity[0, days, 0, 0, 72] == 5
    assert h.activity[0, falls].sum() == 0  # R69 is not a fall
    assert h.activity[1, adm, 0, 0, 73] == 1 and h.activity[1, days, 0, 0, 73] == 2 and h.activity[1, falls, 0, 0, 73] == 1


@pytest.mark.postgres
def test_same_history_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    duck = read_history(_warehouse(tmp_path / "w.duckdb"), PLACES)
    pg = read_history(_warehouse(postgres_url), PLACES)
    assert pg.mid_years == duck.mid_years
    for name in ("population", "deaths", "out_migration", "in_migration", "births", "activity"):
        np.testing.assert_array_equal(getattr(pg, name), getattr(duck, name))
