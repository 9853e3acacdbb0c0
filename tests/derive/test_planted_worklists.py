"""The generator's planted worklist cases on a small synthetic BLMK, end to end: synth, ingest, PHM tables, stored
risk scores, every list, then the planted-case check (recall 100%, no planted negative listed); and the planted
cases' own file.

The risk model is not trained here: at scale 0.01 training is slow and can refuse on a group's O/E (by chance at
that size), so, as ``test_worklists.py`` does, scores are stored: the top band is the 5% with the most emergency
admissions in the PHM table's 12 months. The model itself is tested in ``tests/analyse/test_risk.py``; at scale
1.0 ``benchmarks/bench_phm.py --truth`` runs this check on the trained model's scores."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from placewise.analyse.planted import MODEL_DECIDES, cases_with_person_id, planted_recall, report
from placewise.derive.segments import PEOPLE_TABLE, build, latest_month_end
from placewise.derive.worklists import RISK_TABLE, run
from placewise.ingest.load import ingest
from placewise.profile import load_profile
from placewise.profile.worklists import load_worklists
from placewise.sources.synth.generate import generate
from placewise.sources.synth.planted import CASES
from placewise.warehouse import connect
from placewise.warehouse.derived import replace_table

KEY = b"planted-worklist-test-key-0123456789"


@pytest.fixture(scope="module")
def delivery(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1% synthetic BLMK (its planted cases are the same at any scale)."""
    out = tmp_path_factory.mktemp("planted") / "files"
    generate(load_profile(), scale=0.01, seed=1, out=out)
    return out


def test_every_list_has_planted_positives_and_negatives_at_one_practice_per_place(delivery: Path) -> None:
    cases = pq.read_table(delivery / "truth" / "worklist_cases.parquet").to_pylist()
    lists = {w.id for w in load_worklists(load_profile()).worklists}
    assert {c["list_id"] for c in cases} == lists
    for list_id in lists:
        mine = [c for c in cases if c["list_id"] == list_id]
        assert any(c["expected"] for c in mine) and not all(c["expected"] for c in mine), list_id
    assert len({c["practice_code"] for c in cases}) == 4                    # one practice in each BLMK Place
    assert len({c["nhs_number"] for c in cases}) == 4 * len(CASES)
    people = pq.read_table(delivery / "people.parquet", columns=["nhs_number"])["nhs_number"].to_pylist()
    assert len(people) == len(set(people))                                    # planted numbers never collide


def _score_by_past_admissions(con: ibis.BaseBackend) -> None:
    """Stored scores: risk rising with emergency admissions in the last 12 months, the top 5% in the top band."""
    t = con.table(PEOPLE_TABLE).select("person_id", "practice_code", "reference_date", "emergency_admissions")
    t = t.to_pyarrow()
    n = t["emergency_admissions"].to_numpy()
    risk = (n + 1) / (n.max() + 2)
    replace_table(con, RISK_TABLE, pa.table({
        "person_id": t["person_id"], "practice_code": t["practice_code"], "reference_date": t["reference_date"],
        "risk": risk, "high_risk": risk >= np.quantile(risk, 0.95), "model_version": ["admissions"] * len(n)}))


@pytest.mark.slow
def test_every_list_finds_every_planted_case_and_no_planted_negative(delivery: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    ingest(delivery, db, KEY)
    con = connect(str(db))
    profile = load_profile()
    on = latest_month_end(con)
    build(con, profile, on)
    _score_by_past_admissions(con)
    run(con, load_worklists(profile))
    recalls = planted_recall(con, cases_with_person_id(delivery / "truth" / "worklist_cases.parquet", KEY))
    assert all(r.ok for r in recalls), report(recalls)
    by_list = {r.list_id: r for r in recalls}
    assert by_list["diabetes_alerts"].found == 4 * 4                         # 3 boundary positives + the high-risk one
    assert by_list["undiagnosed_hypertension"].negatives == 4 * 5
    gap = by_list[MODEL_DECIDES]
    assert gap.positives == gap.found == 4 and gap.not_top_band == 0 and gap.negatives == 4
    with pytest.raises(ValueError, match="none of the planted people"):     # another key: the check cannot join
        planted_recall(con, cases_with_person_id(delivery / "truth" / "worklist_cases.parquet", b"another-key-0123456789"))
