"""Every endpoint × every role: the declared allow or deny, enumerated from the application's routes."""

from __future__ import annotations

import itertools

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from placewise.publish.web.roles import ROLES, allowed_roles

EVERYONE = set(ROLES)
EXPECTED = {
    "login": EVERYONE,
    "logout": EVERYONE,
    "me": EVERYONE,
    "indicators": EVERYONE,
    "indicator": EVERYONE,
    "indicator_data": EVERYONE,
    "fingertips_csv": EVERYONE,
    "areas": EVERYONE,
    "data_quality": {"analyst", "place_lead", "admin"},
    "list_users": {"admin"},
    "add_user": {"admin"},
    "issue_token": {"admin"},
    "audit_log": {"admin"},
    "model_cards": EVERYONE,
    "reload": {"admin"},
    # pages (publish/web/pages.py)
    "home_page": EVERYONE,
    "login_page": EVERYONE,
    "explore_page": EVERYONE,
    "quality_page": {"analyst", "place_lead", "admin"},
    "board_page": EVERYONE,
    "areas_page": EVERYONE,
    "profile_page": EVERYONE,
    "inequalities_page": EVERYONE,
    "population_page": EVERYONE,
    "worklists_page": {"clinician"},
    "reidentify_page": {"clinician"},
    "worklists": EVERYONE,
    "worklist": {"clinician"},
    "reidentify_worklist": {"clinician"},
    "referral_feedback_api": EVERYONE,
    "referrals_page": EVERYONE,
    "referral_unit_page": EVERYONE,
}
"""The access every endpoint is meant to have (by route name): a new endpoint must be added here."""
_names = itertools.count()


FRAMEWORK = {"openapi", "static"}
"""Routes that are not endpoints of ours: the OpenAPI document and the pages' stylesheet (public by design)."""


def _routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of the application, checking that nothing else is routed but the framework's own."""
    contexts = list(iter_route_contexts(app.routes))
    others = {c.name for c in contexts if not isinstance(c.route, APIRoute)}
    assert others <= FRAMEWORK, f"routes outside the role matrix: {sorted(others - FRAMEWORK)}"
    return [c.route for c in contexts if isinstance(c.route, APIRoute)]


def test_every_route_declares_exactly_the_expected_roles(web_app: FastAPI) -> None:
    declared = {r.name: set(allowed_roles(r.endpoint) or ()) for r in _routes(web_app)}
    assert set(declared) == set(EXPECTED), "a route is missing from EXPECTED, or EXPECTED names a removed route"
    assert declared == EXPECTED


def _call(client: TestClient, route: APIRoute, csrf: str | None, indicator: str, practice: str):
    """Call a route with valid parameters (and the session's CSRF token on a change)."""
    method = min(route.methods - {"HEAD"})
    path = route.path_format.replace("{indicator_id}", indicator).replace("{list_id}", "diabetes_alerts")\
        .replace("{practice}", practice).replace("{level}", "practice").replace("{code}", practice)
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    body = {
        "login": {"username": "analyst", "password": "wrong password"},
        "add_user": {"username": f"matrix.user{next(_names)}", "password": "a-long-password", "role": "analyst"},
        "issue_token": {"username": "analyst", "label": "role matrix"},
        "reidentify_worklist": {"purpose": "direct_care"},
    }.get(route.name)
    form = {"reidentify_page": {"purpose": "direct_care"}}.get(route.name)
    return client.request(method, path, json=body, data=form, headers=headers, follow_redirects=False)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_admitted_or_refused_as_declared(web_app: FastAPI, client: TestClient, login, web_warehouse,
                                                      role: str) -> None:
    csrf = None if role == "public" else login(client, role)
    indicator = client.get("/api/v1/indicators").json()[0]["id"]
    outcomes = {}
    for route in sorted(_routes(web_app), key=lambda r: r.name == "logout"):   # log out last
        r = _call(client, route, csrf, indicator, web_warehouse.practice)
        outcomes[route.name] = r.status_code
        page = r.headers.get("content-type", "").startswith("text/html") or r.status_code == 303
        if page:  # a page refuses the public by sending them to sign in, others with a page saying why
            refused = r.status_code == 403 or r.headers.get("location", "").startswith("/login?next=")
        else:
            refused = r.status_code in (401, 403) and r.json()["error"] != "wrong name or password"
        assert refused != (role in EXPECTED[route.name]), (route.name, role, r.status_code, r.text)
        if refused and not page:
            assert r.status_code == (401 if role == "public" else 403) and r.json()["error"]
    assert all(s < 500 for s in outcomes.values()), outcomes
