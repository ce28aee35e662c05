"""The OpenAPI document describes what the service really sends (issue 9, item 6) and 405s list every method."""

from __future__ import annotations

import pytest

from tests.service.svc_support import LABELS, register, running_app, skeleton

pytestmark = pytest.mark.integration
LIMITS = {"max_frames": 64, "max_sequences": 4, "max_text_chars": 40, "max_classes_per_request": 3}


@pytest.fixture(scope="module")
def client():
    with running_app(**LIMITS) as c:
        register(c, LABELS[:2])
        yield c


@pytest.fixture(scope="module")
def doc(client) -> dict:
    return client.get("/openapi.json").json()


def test_no_fastapi_validation_error_schema_remains(doc) -> None:
    text = str(doc)
    assert "HTTPValidationError" not in text and "#/components/schemas/ValidationError" not in text
    assert set(doc["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize(("method", "path", "statuses"), [
    ("post", "/classes", {"200", "400", "401", "413", "422", "503"}),
    ("get", "/classes", {"200", "503"}),
    ("get", "/classes/{class_id}", {"200", "404", "503"}),
    ("delete", "/classes/{class_id}", {"204", "401", "404", "503"}),
    ("post", "/recognize", {"200", "400", "413", "415", "422", "429", "500", "503"}),
    ("post", "/detect", {"200", "413", "415", "422", "429", "500", "503"}),
    ("post", "/admin/reload", {"200", "400", "401", "403", "409", "413", "422", "503"}),
])
def test_every_error_status_is_a_documented_problem(doc, method: str, path: str, statuses: set[str]) -> None:
    responses = doc["paths"][path][method]["responses"]
    assert set(responses) == statuses
    for code in statuses - {"200", "204"}:
        assert responses[code]["content"] == {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}


def test_skeleton_is_nested_arrays_of_numbers_with_the_limits(doc) -> None:
    body = doc["paths"]["/recognize"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    rank3, rank4 = body["properties"]["skeleton"]["anyOf"]
    assert rank3["maxItems"] == LIMITS["max_frames"] and rank3["minItems"] == 1
    frame = rank3["items"]
    assert (frame["minItems"], frame["maxItems"]) == (25, 25)
    assert (frame["items"]["minItems"], frame["items"]["maxItems"]) == (3, 3)
    assert frame["items"]["items"]["type"] == "number"
    assert rank4["items"] == rank3 and rank4["maxItems"] == 4
    assert body["properties"]["skeletons"]["maxItems"] == LIMITS["max_sequences"]
    assert body["properties"]["top_k"]["type"] == ["integer", "null"]
    assert body["additionalProperties"] is False and len(body["oneOf"]) == 2


def test_text_rules_and_query_rules_are_documented(doc) -> None:
    label = doc["components"]["schemas"]["ClassIn"]["properties"]["label"]
    assert label["maxLength"] == LIMITS["max_text_chars"] and label["minLength"] == 1
    assert "U+200B" in label["description"] and "control" in label["description"]
    items = doc["components"]["schemas"]["ClassesIn"]["properties"]["classes"]["items"]["anyOf"]
    (plain,) = [c for c in items if c.get("type") == "string"]  # a plain label string, under the label's rules
    assert plain["maxLength"] == LIMITS["max_text_chars"] and plain["minLength"] == 1
    params = {p["name"]: p for p in doc["paths"]["/recognize"]["post"]["parameters"]}
    assert "JSON body" in params["top_k"]["description"] and params["top_k"]["schema"]["minimum"] == 1


def test_every_operation_documents_its_errors_as_problems(doc) -> None:
    """No route is left with FastAPI's default error entries (a new router must be added to ROUTE_ERRORS)."""
    for path, ops in doc["paths"].items():
        if path == "/readyz":  # its 503 is the readiness body with the failing checks, by design
            continue
        for method, op in ops.items():
            for code, response in op["responses"].items():
                if code[0] in "45":
                    assert "application/problem+json" in response.get("content", {}), (method, path, code)


def test_sent_problem_matches_the_schema(client, doc) -> None:
    import jsonschema_rs

    validator = jsonschema_rs.validator_for(doc["components"]["schemas"]["Problem"])
    for r in (client.post("/recognize", json={"skeleton": []}), client.get("/classes/nope"),
              client.post("/classes", content=b"\xff\xfe", headers={"Content-Type": "application/json"})):
        assert r.status_code in (400, 404, 422) and validator.is_valid(r.json()), r.text


def test_valid_skeleton_per_schema_is_accepted(client) -> None:
    r = client.post("/recognize", json={"skeleton": skeleton(1, frames=10).tolist()})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("path", "allow"), [("/classes/0123456789abcdef", {"GET", "DELETE"}),
                                             ("/classes", {"GET", "POST"}), ("/recognize", {"POST"})])
def test_405_allow_lists_every_method_of_the_path(client, path: str, allow: set[str]) -> None:
    for method in ("OPTIONS", "PUT", "PATCH"):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
        assert set(r.headers["allow"].replace(" ", "").split(",")) == allow
