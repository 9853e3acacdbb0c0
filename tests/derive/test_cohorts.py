"""Cohort spec tests: the bundled example cohorts and every rule part, on hand-built patients, on every engine."""

from __future__ import annotations

from datetime import date

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from measure_builder import Warehouse
from phm_helpers import ON, built, code, our_temporary_tables
from typer.testing import CliRunner

from placewise.cli import app
from placewise.derive.cohorts import DATASET_AUDIT, DATASET_COLUMNS, counts, dataset, finest_counts, members
from placewise.derive.segments import PEOPLE_TABLE
from placewise.profile import ProfileError, load_profile
from placewise.profile.cohorts import Cohort, Rule, load_cohorts
from placewise.profile.phm import Criterion
from placewise.publish.cohorts import published_counts
from placewise.publish.disclosure import SUPPRESSED_TEXT, load_rule
from placewise.warehouse.audit import AuditTampered, append

PROFILE = load_profile()
COHORTS = load_cohorts(PROFILE)
CENTRAL_BEDS = "E06000056"


def _central_beds_practice(w: Warehouse) -> None:
    """A practice in Central Bedfordshire, which the builder's default practices are not."""
    w.add("practices", practice_code="P4", practice_name="P4", pcn_code="N3", pcn_name="N3", la_code=CENTRAL_BEDS,
          list_size=100)


def _ids(con: ibis.BaseBackend, cohort: Cohort) -> set[str]:
    """The pseudonyms of the cohort's members."""
    p = con.table(PEOPLE_TABLE)
    with members(con, PROFILE, cohort) as inside:
        return set(p.semi_join(inside, "pid").person_id.to_pyarrow().to_pylist())


def _example_warehouse() -> Warehouse:
    """People just inside and just outside each example cohort's rules (reference date 31 March 2024)."""
    w = Warehouse()
    _central_beds_practice(w)
    # Warm Homes: Bedford Borough practice (P1/P2), IMD quintile 1-2 (L1 is decile 1, L2 decile 10), a listed
    # register or at least mild frailty.
    w.person("wh_copd", lsoa="L1")
    w.event("wh_copd", date(2015, 1, 1), code("copd"))
    w.person("wh_chd_p2", lsoa="L3", practice="P2")                        # decile 4: quintile 2
    w.event("wh_chd_p2", date(2015, 1, 1), code("chd"))
    w.person("wh_affluent", lsoa="L2")
    w.event("wh_affluent", date(2015, 1, 1), code("copd"))
    w.person("wh_luton", lsoa="L1", practice="P3")                          # Luton practice
    w.event("wh_luton", date(2015, 1, 1), code("copd"))
    w.person("wh_hypertension_only", lsoa="L1")
    w.event("wh_hypertension_only", date(2015, 1, 1), code("hypertension"))
    w.person("wh_mild_frail", born=(1940, 1), lsoa="L1")                   # 5 deficits: mild
    w.person("wh_fit_old", born=(1940, 1), lsoa="L1")                      # 4 deficits: fit
    frailty = ("efi_falls", "efi_dizziness", "efi_hearing_loss", "efi_vision_problems", "efi_urinary_incontinence")
    for cl in frailty:
        w.event("wh_mild_frail", date(2020, 1, 1), code(cl))
    for cl in frailty[:4]:
        w.event("wh_fit_old", date(2020, 1, 1), code(cl))
    # 16-25 mental health: Central Bedfordshire practice P4, aged 16-25, depression or anxiety code in 12 months
    # (from 1 April 2023) or on the SMI register.
    for pid, born, day, cl in (("ya_depression", (2004, 1), date(2023, 6, 1), "depression"),
                               ("ya_window_first_day", (2004, 1), date(2023, 4, 1), "depression"),
                               ("ya_window_before", (2004, 1), date(2023, 3, 31), "depression"),
                               ("ya_anxiety_on_the_day", (2004, 1), ON, "anxiety"),
                               ("ya_aged_25", (1998, 4), date(2024, 1, 1), "depression"),
                               ("ya_aged_26", (1998, 3), date(2024, 1, 1), "depression"),
                               ("ya_aged_16", (2007, 12), date(2024, 1, 1), "anxiety"),
                               ("ya_aged_15", (2008, 4), date(2024, 1, 1), "anxiety"),
                               ("ya_smi", (2005, 1), date(2021, 1, 1), "smi")):
        w.person(pid, born=born, practice="P4", registered=date(2008, 5, 1))
        w.event(pid, day, code(cl))
    w.person("ya_bedford", born=(2004, 1), practice="P1")
    w.event("ya_bedford", date(2024, 1, 1), code("depression"))
    # Obesity with hypertension: QOF OB_REG (18+, latest BMI in 12 months at least 30) and HYP_REG.
    for pid, bmi, day, htn in (("oh_both", 31.0, date(2024, 1, 1), True), ("oh_bmi_30", 30.0, date(2024, 1, 1), True),
                               ("oh_bmi_29_9", 29.9, date(2024, 1, 1), True),
                               ("oh_no_hypertension", 35.0, date(2024, 1, 1), False),
                               ("oh_bmi_too_old", 35.0, date(2023, 3, 31), True)):
        w.person(pid, born=(1970, 1), practice="P3", lsoa="L3")
        w.event(pid, day, code("bmi"), value=bmi)
        if htn:
            w.event(pid, date(2010, 1, 1), code("hypertension"))
    return w


def test_the_example_cohorts(connect):
    con = connect()
    built(_example_warehouse(), con)
    assert _ids(con, COHORTS.get("warm_homes_bedford")) == {"wh_copd", "wh_chd_p2", "wh_mild_frail"}
    assert _ids(con, COHORTS.get("young_adult_mental_health")) == {
        "ya_depression", "ya_window_first_day", "ya_anxiety_on_the_day", "ya_aged_25", "ya_aged_16", "ya_smi"}
    assert _ids(con, COHORTS.get("obesity_hypertension")) == {"oh_both", "oh_bmi_30"}


def test_phm_tables_and_cohorts_leave_no_temporary_table(connect):
    """Building the PHM tables, and counting, cutting and pulling a cohort with a coded-event criterion (whose hits are
    a temporary table), drop every temporary table they make once it is read, rather than at the session's end."""
    con = connect()
    built(_example_warehouse(), con)
    assert our_temporary_tables(con) == set()
    cohort = COHORTS.get("young_adult_mental_health")
    assert any(r.events for r in cohort.walk())
    assert counts(con, PROFILE, cohort, "ics")["n"].to_pylist() == [6]
    assert sum(finest_counts(con, PROFILE, cohort)["n"].to_pylist()) == 6
    assert dataset(con, PROFILE, cohort, "ana", "ya.parquet").num_rows == 6
    assert our_temporary_tables(con) == set()


def test_rule_parts_combine_as_declared(connect):
    w = Warehouse()
    w.person("f_q1", lsoa="L1")
    w.person("m_q1", lsoa="L1", sex="male")
    w.person("f_q5", lsoa="L2")
    w.person("f_q1_chd", lsoa="L1", ethnicity="M")
    w.event("f_q1_chd", date(2015, 1, 1), code("chd"))
    w.person("f_q1_two_hba1c", lsoa="L1")
    for d in (date(2023, 5, 1), date(2024, 2, 1)):
        w.event("f_q1_two_hba1c", d, code("hba1c"), value=50)
    con = connect()
    built(w, con)
    women_deprived = Cohort(id="t", title="t", source="test", sexes=["female"], imd_quintiles=["1"])
    assert _ids(con, women_deprived) == {"f_q1", "f_q1_chd", "f_q1_two_hba1c"}
    not_chd = women_deprived.model_copy(update={"none_of": [Rule(registers=["chd"])]})
    assert _ids(con, not_chd) == {"f_q1", "f_q1_two_hba1c"}
    two_tests = Cohort(id="t2", title="t", source="test",
                       events=[Criterion(codelist=["hba1c"], months=12, at_least=2)])
    assert _ids(con, two_tests) == {"f_q1_two_hba1c"}
    either = Cohort(id="t3", title="t", source="test", segments=["long_term_conditions"],
                    any_of=[Rule(ethnic_groups=["Black or Black British"]), Rule(events=[Criterion(codelist=["chd"])])])
    assert _ids(con, either) == {"f_q1_chd"}
    assert _ids(con, Cohort(id="t4", title="t", source="test", cms_at_least=0.49)) == {"f_q1_chd"}
    assert _ids(con, Cohort(id="t5", title="t", source="test", cms_at_least=0.5)) == set()


def test_counts_and_dataset_agree_with_the_members(connect):
    con = connect()
    built(_example_warehouse(), con)
    cohort = COHORTS.get("warm_homes_bedford")
    c = counts(con, PROFILE, cohort, "place", "imd_quintile").to_pandas()
    assert c.n.sum() == 3 and c.population.sum() == con.table(PEOPLE_TABLE).count().to_pyarrow().as_py()
    bedford = c[c.geography_code == "E06000055"].set_index("group")
    assert bedford.n.to_dict() == {"1": 2, "2": 1, "5": 0}
    ics = counts(con, PROFILE, cohort, "ics", "age_band").to_pandas().set_index("group")
    assert ics.n.to_dict() == {"45-64": 2, "75-84": 1} | {g: 0 for g in ics.index if g not in ("45-64", "75-84")}
    d = dataset(con, PROFILE, cohort, "ana", "warm.parquet")
    assert d.column_names == DATASET_COLUMNS
    assert d["person_id"].to_pylist() == ["wh_chd_p2", "wh_copd", "wh_mild_frail"]
    assert d["efi_band"].to_pylist() == [None, None, "mild"]


def test_every_dataset_pull_is_audited(connect):
    """Who, when, which cohort and definition, how many rows and where to: one audit row per pull, chained."""
    con = connect()
    built(_example_warehouse(), con)
    warm, obese = COHORTS.get("warm_homes_bedford"), COHORTS.get("obesity_hypertension")
    for who, cohort, to in (("ana", warm, "a.parquet"), ("ben", obese, "b.csv"), ("ana", warm, "c.csv")):
        dataset(con, PROFILE, cohort, who, to)
    with pytest.raises(ValueError, match="say who is pulling it"):
        dataset(con, PROFILE, warm, " ", "d.csv")
    audit = con.table(DATASET_AUDIT.table).order_by("seq").to_pyarrow().to_pylist()
    assert [(a["who"], a["cohort_id"], a["rows"], a["destination"], a["seq"]) for a in audit] == [
        ("ana", "warm_homes_bedford", 3, "a.parquet", 1), ("ben", "obesity_hypertension", 2, "b.csv", 2),
        ("ana", "warm_homes_bedford", 3, "c.csv", 3)]
    assert audit[0]["definition"] == audit[2]["definition"] != audit[1]["definition"]
    assert {a["reference_date"] for a in audit} == {con.table(PEOPLE_TABLE).reference_date.max().to_pyarrow().as_py()}
    assert audit[0]["at"] <= audit[1]["at"] <= audit[2]["at"]


def test_a_truncated_dataset_audit_refuses_further_pulls(tmp_path):
    """On a DuckDB file the newest audit rows can be deleted; the anchored head shows it and pulls stop."""
    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
    built(_example_warehouse(), con)
    warm = COHORTS.get("warm_homes_bedford")
    dataset(con, PROFILE, warm, "ana", "a.csv")
    dataset(con, PROFILE, warm, "eve", "b.csv")
    con.disconnect()
    db = str(tmp_path / "w.duckdb")
    r = CliRunner().invoke(app, ["audit", "verify", "--db", db, "--store", ""])
    assert r.exit_code == 0 and "cohort_dataset_audit: 2 rows, chain and anchored head intact" in r.output, r.output
    con = ibis.duckdb.connect(db)
    con.raw_sql(f"DELETE FROM {DATASET_AUDIT.table} WHERE who = 'eve'")
    with pytest.raises(AuditTampered, match="sequence 2 is gone"):
        dataset(con, PROFILE, warm, "eve", "c.csv")
    assert con.table(DATASET_AUDIT.table).count().to_pyarrow().as_py() == 1
    con.disconnect()
    r = CliRunner().invoke(app, ["audit", "verify", "--db", db, "--store", ""])
    assert r.exit_code == 1 and "the newest rows have been removed" in r.output, r.output


def test_a_tampered_trail_leaves_the_warehouse_and_the_identity_store_closed(tmp_path):
    """``audit verify`` stopped by a changed warehouse trail closes the identity store it had opened as well: the same
    process can then open both files with another configuration, which DuckDB refuses while a connection is open."""
    db, store = str(tmp_path / "w.duckdb"), str(tmp_path / "store.duckdb")
    con = ibis.duckdb.connect(db)
    for who in ("ana", "eve"):
        append(con, DATASET_AUDIT, {"who": who, "cohort_id": "c", "definition": "d", "reference_date": ON, "rows": 1,
                                    "destination": "a.csv"})
    con.raw_sql(f"UPDATE {DATASET_AUDIT.table} SET who = 'ben' WHERE who = 'eve'")
    con.disconnect()
    r = CliRunner().invoke(app, ["audit", "verify", "--db", db, "--store", store])
    assert r.exit_code == 1 and "does not match the hash chain" in r.output, r.output
    for path in (db, store):
        with duckdb.connect(path, read_only=True) as c:
            assert c.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] >= 1


def _finest(rows: list[tuple[str, str, str, int, int]]) -> pd.DataFrame:
    """A finest_counts frame: (Place, IMD quintile, sex, n, population) rows, one practice per Place."""
    return pd.DataFrame([{"la_code": la, "pcn_code": f"N{la}", "practice_code": f"P{la}", "imd_quintile": q,
                          "ethnic_group": "White", "sex": sex, "age_band": "20-29", "n": n, "population": pop}
                         for la, q, sex, n, pop in rows])


def test_published_counts_pass_the_disclosure_rule():
    rule = load_rule(PROFILE)
    frame = _finest([("A", "1", "female", 3, 100), ("A", "2", "female", 40, 200), ("B", "1", "female", 52, 300),
                     ("B", "2", "female", 62, 400), ("C", "1", "female", 70, 500), ("C", "2", "female", 80, 600)])
    t = published_counts(frame, rule, "place", "imd_quintile", "QHG").set_index(["geography_code", "group"])
    assert t.loc[("A", "1"), "people_in_cohort"] == SUPPRESSED_TEXT == t.loc[("A", "1"), "percent"]
    hidden = set(t.index[t.people_in_cohort == SUPPRESSED_TEXT])
    assert hidden == {("A", "1"), ("A", "2"), ("B", "1"), ("B", "2")}   # the 3 cannot be recovered by subtraction
    assert t.loc[("Total", "Total"), "people_in_cohort"] == "305"   # 307 rounded to 5
    assert t.loc[("C", "2"), "people_in_cohort"] == "80" and t.loc[("C", "2"), "percent"] == "13.3"
    with pytest.raises(ValueError, match="not published"):   # practices by group: whole population only
        published_counts(frame, rule, "practice", "imd_quintile", "QHG")
    with pytest.raises(ValueError, match="not published"):
        published_counts(frame, rule, "lsoa", "none", "QHG")


def test_no_cohort_count_comes_back_from_runs_by_different_geographies():
    """Runs by practice, PCN, Place and for the ICS are cut from one decision. Decided table by table, practice P1's
    3 came back: the run by practice hid it with the smallest other practice (P3, in another Place) and printed P2,
    and the run by Place printed A = 53, so P1 = 53 - 50."""
    rule = load_rule(PROFILE)
    frame = pd.DataFrame([{"la_code": la, "pcn_code": f"N{pr}", "practice_code": pr, "imd_quintile": "1",
                           "ethnic_group": "White", "sex": "female", "age_band": "20-29", "n": n, "population": pop}
                          for la, pr, n, pop in (("A", "P1", 3, 100), ("A", "P2", 50, 200), ("B", "P3", 40, 300),
                                                 ("B", "P4", 70, 400))])
    printed: dict[str, set[str]] = {}
    for by in ("practice", "pcn", "place", "ics"):
        for r in published_counts(frame, rule, by, "none", "QHG").itertuples():
            geo = {"QHG": "Total"}.get(r.geography_code, r.geography_code.removeprefix("N"))
            printed.setdefault(geo, set()).add(r.people_in_cohort)
    assert all(len(v) == 1 for v in printed.values()), printed     # each count printed (or hidden) the same way
    assert printed["P1"] == {SUPPRESSED_TEXT}
    unknown = [g for g, v in printed.items() if v == {SUPPRESSED_TEXT}]
    sums = [(["P1", "P2"], "A"), (["P3", "P4"], "B"), (["A", "B"], "Total"), (["P1", "P2", "P3", "P4"], "Total")]
    a = np.array([[(1 if g in parts else -1 if g == whole else 0) for g in unknown] for parts, whole in sums], float)
    rank = np.linalg.matrix_rank(a)
    for i, g in enumerate(unknown):
        assert np.linalg.matrix_rank(np.vstack([a, np.eye(len(unknown))[i]])) > rank, f"{g} is recovered"


def test_cohorts_are_validated_against_the_profile(tmp_path):
    for f in PROFILE.folder.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "cohorts.yaml").write_text(
        "cohorts:\n  - {id: x, title: X, source: test, registers: [gout]}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"cohorts.yaml: cohort x: unknown register\(s\) \['gout'\]"):
        load_cohorts(load_profile(tmp_path))
    (tmp_path / "cohorts.yaml").write_text("cohorts:\n  - {id: x, title: X, source: test}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="at least one condition"):
        load_cohorts(load_profile(tmp_path))
    (tmp_path / "cohorts.yaml").write_text(
        "cohorts:\n  - {id: x, title: X, source: test, events: [{codelist: [nonsense]}]}\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="unknown codelist"):
        load_cohorts(load_profile(tmp_path))


def test_cohort_command_end_to_end(tmp_path):
    db = tmp_path / "w.duckdb"
    con = ibis.duckdb.connect(str(db))
    built(_example_warehouse(), con)
    con.disconnect()
    runner = CliRunner()
    out, data = tmp_path / "counts.csv", tmp_path / "people.parquet"
    r = runner.invoke(app, ["cohort", "--db", str(db), "--cohort", "obesity_hypertension", "--by", "place",
                            "--out", str(out), "--dataset", str(data)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out, dtype=str)
    assert table.set_index("geography_code").loc["E06000032", "people_in_cohort"] == SUPPRESSED_TEXT   # 2 people
    assert pq.read_table(data)["person_id"].to_pylist() == ["oh_bmi_30", "oh_both"]
    assert "audited as" in r.output
    # Practices are published for their whole population (disclosure.yaml): counted through the same rule.
    practices = tmp_path / "practices.csv"
    r = runner.invoke(app, ["cohort", "--db", str(db), "--cohort", "obesity_hypertension", "--by", "practice",
                            "--out", str(practices)])
    assert r.exit_code == 0, r.output
    shown = pd.read_csv(practices, dtype=str).people_in_cohort
    assert not shown[shown != SUPPRESSED_TEXT].astype(int).between(1, 7).any()
    r = runner.invoke(app, ["cohort", "--db", str(db), "--cohort", "nope"])
    assert r.exit_code == 2 and "warm_homes_bedford" in r.output
    r = runner.invoke(app, ["cohort", "--db", str(db)])
    assert r.exit_code == 0 and "young_adult_mental_health" in r.output
