"""Logins, sessions, CSRF and API tokens, against the real application and its web store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from placewise.publish.web.auth import SESSION_COOKIE
from placewise.publish.web.demo import DEMO_PASSWORD


def test_the_public_needs_no_login_and_a_wrong_password_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/me").json()["role"] == "public"
    r = client.post("/auth/login", json={"username": "analyst", "password": "not-the-password"})
    assert r.status_code == 401 and r.json() == {"error": "wrong name or password", "status": 401}
    assert SESSION_COOKIE not in client.cookies
    unknown = client.post("/auth/login", json={"username": "nobody", "password": DEMO_PASSWORD})
    assert unknown.status_code == 401 and unknown.json()["error"] == "wrong name or password"


def test_login_sets_an_httponly_samesite_cookie_and_logout_ends_the_session(client: TestClient, login) -> None:
    r = client.post("/auth/login", json={"username": "analyst", "password": DEMO_PASSWORD})
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    csrf = r.json()["csrf_token"]
    assert client.get("/api/v1/me").json()["role"] == "analyst"
    token = client.cookies[SESSION_COOKIE]
    assert client.post("/auth/logout").status_code == 403           # no CSRF token: refused
    assert client.get("/api/v1/me").json()["role"] == "analyst"
    assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set(SESSION_COOKIE, token)                       # the old cookie, replayed
    assert client.get("/api/v1/me").json()["role"] == "public"


def test_a_form_login_redirects_to_a_local_page_only(client: TestClient) -> None:
    r = client.post("/auth/login", data={"username": "analyst", "password": DEMO_PASSWORD, "next": "/explore"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/explore"
    r = client.post("/auth/login", data={"username": "analyst", "password": DEMO_PASSWORD,
                                         "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 200 and r.json()["role"] == "analyst"


def test_a_session_form_post_needs_the_csrf_field_and_a_foreign_origin_is_refused(client: TestClient, login) -> None:
    csrf = login(client, "admin")
    body = {"username": "new.analyst", "password": "a-long-password", "role": "analyst"}
    assert client.post("/api/v1/admin/users", json=body).status_code == 403
    foreign = client.post("/api/v1/admin/users", json=body,
                          headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "cross-origin" in foreign.json()["error"]
    r = client.post("/api/v1/admin/users", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["role"] == "analyst"
    again = client.post("/api/v1/admin/users", json=body, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 422 and "taken" in again.json()["error"]


def test_an_api_token_works_without_a_session_and_a_bad_one_is_refused(client: TestClient, login) -> None:
    csrf = login(client, "admin")
    r = client.post("/api/v1/admin/tokens", json={"username": "analyst", "label": "nightly extract"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    token = r.json()["token"]
    client.cookies.clear()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "analyst" and me["csrf_token"] is None
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer pw_not-a-token"})
    assert bad.status_code == 401 and "API token" in bad.json()["error"]
