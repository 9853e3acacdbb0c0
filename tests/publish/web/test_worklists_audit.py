"""Worklists and re-identification through the API: only the practice's clinician, for direct care; every
login, refusal, person-level read and re-identification audited, one row per call."""

from __future__ import annotations

from fastapi.testclient import TestClient

from placewise.publish.access import AUDIT_TABLE
from placewise.publish.web.demo import DEMO_PASSWORD
from placewise.warehouse import connect

LIST = "diabetes_alerts"


def _audit(client: TestClient, admin: TestClient) -> list[dict]:
    """The web audit, oldest first."""
    return list(reversed(admin.get("/api/v1/admin/audit", params={"limit": 10_000}).json()))


def test_a_clinician_reads_and_reidentifies_their_own_practice_only(client, login, web_warehouse) -> None:
    csrf = login(client, "clinician")
    practice = web_warehouse.practice
    lists = client.get("/api/v1/worklists").json()
    assert LIST in {w["id"] for w in lists}
    r = client.get(f"/api/v1/worklists/{LIST}/practices/{practice}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["practice"] == practice and {row["practice_code"] for row in body["rows"]} <= {practice}
    assert all(row["nhs_number"] is None for row in body["rows"])
    other = client.get(f"/api/v1/worklists/{LIST}/practices/X99999")
    assert other.status_code == 403 and "may not read the worklists of" in other.json()["error"]
    named = client.post(f"/api/v1/worklists/{LIST}/practices/{practice}/reidentify", json={"purpose": "direct_care"},
                        headers={"X-CSRF-Token": csrf})
    assert named.status_code == 200, named.text
    numbers = [row["nhs_number"] for row in named.json()["rows"]]
    assert len(numbers) == len(body["rows"]) and all(n and len(n) == 10 and n.isdigit() for n in numbers)
    research = client.post(f"/api/v1/worklists/{LIST}/practices/{practice}/reidentify", json={"purpose": "research"},
                           headers={"X-CSRF-Token": csrf})
    assert research.status_code == 403 and "not direct care" in research.json()["error"]


def test_an_analyst_is_refused_worklists_and_reidentification(client, login, web_warehouse) -> None:
    csrf = login(client, "analyst")
    path = f"/api/v1/worklists/{LIST}/practices/{web_warehouse.practice}"
    assert client.get(path).status_code == 403
    r = client.post(path + "/reidentify", json={"purpose": "direct_care"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and r.json()["error"] == "the analyst role may not use this endpoint"


def test_audit_rows_equal_the_audited_calls(web_app, web_warehouse) -> None:
    with TestClient(web_app) as admin, TestClient(web_app) as doctor, TestClient(web_app) as anyone:
        admin.post("/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
        before = _audit(admin, admin)
        store = connect(web_warehouse.identity)
        reid_before = store.table(AUDIT_TABLE).count().to_pyarrow().as_py()
        store.disconnect()
        practice = web_warehouse.practice
        calls = [  # (client, method, path, json, expected action, expected outcome)
            (anyone, "POST", "/auth/login", {"username": "clinician", "password": "wrong password"}, "login",
             "refused"),
            (doctor, "POST", "/auth/login", {"username": "clinician", "password": DEMO_PASSWORD}, "login", "granted"),
            (doctor, "GET", f"/api/v1/worklists/{LIST}/practices/{practice}", None, "person_level_read", "granted"),
            (doctor, "GET", f"/api/v1/worklists/{LIST}/practices/X99999", None, "refused", "refused 403"),
            (doctor, "POST", f"/api/v1/worklists/{LIST}/practices/{practice}/reidentify",
             {"purpose": "direct_care"}, "reidentification", "granted"),
            (doctor, "POST", f"/api/v1/worklists/{LIST}/practices/{practice}/reidentify", {"purpose": "audit"},
             "refused", "refused 403"),
            (anyone, "GET", "/api/v1/data-quality", None, "refused", "refused 401"),
            (anyone, "GET", "/api/v1/indicators", None, None, None),           # not audited
        ]
        for c, method, path, body, _, _ in calls:
            csrf = c.get("/api/v1/me").json()["csrf_token"]
            c.request(method, path, json=body, headers={"X-CSRF-Token": csrf} if csrf else {})
        after = _audit(admin, admin)[len(before):]
        after = [a for a in after if not (a["who"] == "admin" and a["action"] == "refused")]
        assert [(a["action"], a["outcome"]) for a in after] == [(a, o) for *_, a, o in calls if a]
        assert after[2]["who"] == "clinician" and practice in after[2]["target"]
        store = connect(web_warehouse.identity)
        reid = store.table(AUDIT_TABLE).order_by("at").to_pyarrow().to_pylist()[reid_before:]
        store.disconnect()
        assert [(r["who"], r["outcome"].split(":")[0]) for r in reid] == [("clinician", "granted"),
                                                                          ("clinician", "refused")]
