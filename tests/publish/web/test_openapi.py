"""The committed OpenAPI document is the application's own."""

from __future__ import annotations

from pathlib import Path

from placewise.publish.web.app import openapi_document

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
REGENERATE = ("PYTHONPATH=src python -c 'from placewise.publish.web.app import openapi_document; "
              "print(openapi_document(), end=\"\")' > docs/openapi.json")


def test_docs_openapi_json_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == openapi_document(), f"regenerate it: {REGENERATE}"


def test_every_operation_is_documented_with_its_errors_as_json() -> None:
    import json

    doc = json.loads(openapi_document())
    operations = [(p, m, op) for p, ops in doc["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 15
    assert all(op.get("summary") and op.get("description") for _, _, op in operations)
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "status"}
    for _, _, op in operations:
        for code in ("401", "403", "422"):
            assert op["responses"][code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, (op["operationId"], code)
