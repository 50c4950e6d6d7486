"""The committed OpenAPI document is what the app generates, and it describes every operation completely."""

from __future__ import annotations

import json
from pathlib import Path

from cutru.api.app import OPENAPI_FILE, openapi_document, openapi_stale, render_openapi, write_openapi

PROBLEM = "application/problem+json"


def test_committed_openapi_is_up_to_date():
    assert not openapi_stale(), "run `cutru schemas` and commit schemas/openapi.json"


def test_stale_detection_can_fail(tmp_path: Path):
    target = tmp_path / "openapi.json"
    assert openapi_stale(target)
    write_openapi(target)
    assert not openapi_stale(target)
    target.write_text(render_openapi().replace("cutru API", "another API"))
    assert openapi_stale(target)


def test_the_document_is_deterministic_and_3_1():
    assert render_openapi() == render_openapi()
    assert json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))["openapi"].startswith("3.1")


def test_every_operation_has_an_id_a_success_answer_and_problem_errors():
    document = openapi_document()
    ids = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), f"{method} {path}: no 2xx"
            for code, answer in operation["responses"].items():
                # The payment return page is the citizen's browser's: its refusals are HTML (or its own JSON).
                if code.startswith("4") and code != "422" and "text/html" not in answer.get("content", {}):
                    assert PROBLEM in answer.get("content", {}), f"{method} {path} {code}: not problem+json"
    assert len(ids) == len(set(ids))


def test_writes_declare_the_bearer_scheme():
    document = openapi_document()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"]}
    submit = document["paths"]["/v1/dossiers"]["post"]
    assert submit["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/v1/procedures"]["get"]
