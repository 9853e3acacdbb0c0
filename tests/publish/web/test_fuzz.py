"""Fuzzing the live server from the committed OpenAPI document (Schemathesis): no 5xx for any role, and
every error is a JSON object with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
SCHEMA = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))
EXAMPLES = 12
"""Generated requests per operation and role."""


def _operations() -> list:
    """Every operation of the document."""
    return [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.mark.slow
@pytest.mark.parametrize("role", ["public", "analyst", "clinician", "admin"])
def test_no_request_from_the_document_gets_a_server_error(web_app, web_server, role: str) -> None:
    auth = web_app.state.web.auth
    headers = {} if role == "public" else {"Authorization": f"Bearer {auth.issue_token(role, 'fuzzing')}"}
    seen: dict[int, int] = {}
    for operation in _operations():
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(base_url=web_server, headers={**(case.headers or {}), **headers}, timeout=60)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
            if response.status_code >= 400:
                body = response.json()
                assert isinstance(body["error"], str) and body["error"] and body["status"] == response.status_code
        fuzz()
    assert sum(seen.values()) >= EXAMPLES and any(code < 300 for code in seen), seen
