"""Re-identification: only a practice's clinician, for direct care, for that practice; every attempt audited."""

from __future__ import annotations

import contextlib
import sys
from datetime import date
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from placewise.codelists import codes
from placewise.derive.segments import build
from placewise.derive.worklists import run
from placewise.profile import load_profile
from placewise.profile.worklists import load_worklists
from placewise.publish.access import AUDIT_TABLE, AccessRefused, AuditTampered, Requester, reidentify, verify_audit
from placewise.warehouse import table_names
from placewise.warehouse.identity import IdentityError, key_from_env, new_key, nhs_numbers, open_store, record_links

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "measure"))
from measure_builder import Warehouse

NHS = {"a1": "9990000018", "a2": "9990000026", "b1": "9990000034"}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def setup(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A warehouse with one diabetes list run (two patients at P1, one at P3) and a linked identity store.

    On PostgreSQL the warehouse and the identity store are two databases of the run's server.
    """
    w = Warehouse()
    for p, practice in (("a1", "P1"), ("a2", "P1"), ("b1", "P3")):
        w.person(p, born=(1960, 1), practice=practice, lsoa="L3" if practice == "P3" else "L1")
        w.event(p, date(2010, 1, 1), codes("type2_diabetes")[0])      # no HbA1c: on the diabetes alerts list
    if request.param == "duckdb":
        wh, store_url = w.load(ibis.duckdb.connect()), str(tmp_path / "identity.duckdb")
    else:
        wh, store_url = w.load(ibis.connect(request.getfixturevalue("postgres_url"))), _another_database(request)
    build(wh, load_profile(), date(2024, 3, 31))
    done = run(wh, load_worklists(load_profile()), ["diabetes_alerts"])["diabetes_alerts"]
    key = new_key()
    monkeypatch.setenv("PLACEWISE_IDENTITY_KEY", key)
    store = open_store(store_url)
    record_links(store, key_from_env(), pa.table({"nhs_number": list(NHS.values()), "person_id": list(NHS)}))
    return wh, store, key_from_env(), done.run_id


def _another_database(request: pytest.FixtureRequest) -> str:
    """A second fresh database on the run's PostgreSQL server, for the identity store."""
    import psycopg

    server = request.getfixturevalue("postgres_server")
    name = f"identity{abs(hash(request.node.nodeid))}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_a_clinician_of_the_practice_stating_direct_care_gets_that_practices_rows_only(setup):
    wh, store, fernet, run_id = setup
    got = reidentify(wh, store, fernet, Requester("dr.a", "clinician", "P1", "direct_care"), run_id, "P1")
    assert dict(zip(got["person_id"].to_pylist(), got["nhs_number"].to_pylist())) == {"a1": NHS["a1"],
                                                                                      "a2": NHS["a2"]}


@pytest.mark.parametrize("requester, practice, reason", [
    (Requester("ana", "analyst", "P1", "direct_care"), "P1", "role 'analyst' may not re-identify"),
    (Requester("dr.a", "clinician", "P1", "direct_care"), "P3", "a clinician of P1 may not re-identify patients of P3"),
    (Requester("dr.a", "clinician", "P1", "research"), "P1", "purpose 'research' is not direct care"),
])
def test_refusals_are_clear_and_audited(setup, requester, practice, reason):
    wh, store, fernet, run_id = setup
    with pytest.raises(AccessRefused, match=reason):
        reidentify(wh, store, fernet, requester, run_id, practice)
    audit = store.table(AUDIT_TABLE).to_pyarrow().to_pylist()
    assert len(audit) == 1 and audit[0]["rows"] == 0 and audit[0]["outcome"].startswith("refused: ")
    assert (audit[0]["who"], audit[0]["role"], audit[0]["requested_practice"]) == (requester.who, requester.role,
                                                                                   practice)


def test_the_audit_count_equals_the_calls(setup):
    wh, store, fernet, run_id = setup
    calls = [(Requester("dr.a", "clinician", "P1", "direct_care"), "P1"),
             (Requester("ana", "analyst", "P1", "direct_care"), "P1"),
             (Requester("dr.b", "clinician", "P3", "direct_care"), "P3"),
             (Requester("dr.b", "clinician", "P3", "direct_care"), "P1")]
    for r, practice in calls:
        with contextlib.suppress(AccessRefused):
            reidentify(wh, store, fernet, r, run_id, practice)
    audit = store.table(AUDIT_TABLE).order_by("at").to_pyarrow().to_pylist()
    assert len(audit) == len(calls)
    assert [(a["who"], a["outcome"].split(":")[0], a["rows"]) for a in audit] == [
        ("dr.a", "granted", 2), ("ana", "refused", 0), ("dr.b", "granted", 1), ("dr.b", "refused", 0)]
    assert {a["list_id"] for a in audit} == {"diabetes_alerts"}


def test_the_link_is_encrypted_and_needs_the_key(setup, monkeypatch):
    wh, store, _, _ = setup
    assert "identity_link" not in table_names(wh)                    # the warehouse holds no link
    stored = store.table("identity_link").to_pyarrow().to_pylist()
    assert not any(n in r["nhs_number_encrypted"] for r in stored for n in NHS.values())
    from cryptography.fernet import Fernet
    with pytest.raises(IdentityError, match="does not open"):
        nhs_numbers(store, Fernet(new_key().encode()), ["a1"])
    monkeypatch.delenv("PLACEWISE_IDENTITY_KEY")
    with pytest.raises(IdentityError, match="analytics role does not hold it"):
        key_from_env()


def test_record_links_adds_only_new_pseudonyms(setup):
    _, store, fernet, _ = setup
    assert record_links(store, fernet, pa.table({"nhs_number": ["9990000042", NHS["a1"]],
                                                 "person_id": ["c1", "a1"]})) == 1
    assert store.table("identity_link").count().to_pyarrow().as_py() == 4


def _raw(store: ibis.BaseBackend, sql: str) -> None:
    """Run one SQL statement on the store as any client could (DuckDB hands back its connection: left open)."""
    cursor = store.raw_sql(sql)
    if store.name == "postgres":
        cursor.close()


def test_the_audit_is_append_only(setup):
    """PostgreSQL refuses any change to an audit row; on either engine a changed row stops re-identification."""
    wh, store, fernet, run_id = setup
    dr = Requester("dr.a", "clinician", "P1", "direct_care")
    reidentify(wh, store, fernet, dr, run_id, "P1")
    with pytest.raises(AccessRefused):
        reidentify(wh, store, fernet, Requester("ana", "analyst", "P1", "direct_care"), run_id, "P1")
    assert verify_audit(store) == 2
    edit = f"UPDATE {AUDIT_TABLE} SET who = 'someone else' WHERE seq = 1"
    if store.name == "postgres":
        for sql in (edit, f"DELETE FROM {AUDIT_TABLE}", f"TRUNCATE {AUDIT_TABLE}"):
            with pytest.raises(Exception, match="append-only"):
                _raw(store, sql)
        assert verify_audit(store) == 2
        return
    _raw(store, edit)
    with pytest.raises(AuditTampered, match=r"row 1 .* does not match the hash chain"):
        reidentify(wh, store, fernet, dr, run_id, "P1")


def test_removing_the_newest_audit_rows_stops_reidentification(setup):
    """DuckDB cannot refuse a DELETE: the head anchored beside the store shows the newest rows are gone."""
    wh, store, fernet, run_id = setup
    if store.name == "postgres":
        pytest.skip("PostgreSQL refuses the DELETE itself (test_the_audit_is_append_only)")
    dr = Requester("dr.a", "clinician", "P1", "direct_care")
    for _ in range(3):
        reidentify(wh, store, fernet, dr, run_id, "P1")
    _raw(store, f"DELETE FROM {AUDIT_TABLE} WHERE seq = 3")          # the chain of rows 1-2 is still valid
    with pytest.raises(AuditTampered, match=r"sequence 3 is gone .*the newest rows have been removed"):
        verify_audit(store)
    with pytest.raises(AuditTampered):
        reidentify(wh, store, fernet, dr, run_id, "P1")

