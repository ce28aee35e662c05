"""With SCALE_API_KEY set the OpenAPI document declares the key, so /docs' "Try it out" sends it on writes."""

from __future__ import annotations

import pytest

from tests.service.svc_support import running_app

pytestmark = pytest.mark.integration
KEY = "openapi-security-key-01"
WRITES = (("post", "/classes"), ("delete", "/classes/{class_id}"), ("post", "/admin/reload"))


def test_the_declared_scheme_is_what_the_write_routes_accept() -> None:
    with running_app(api_key=KEY) as client:
        doc = client.get("/openapi.json").json()
        schemes = doc["components"]["securitySchemes"]
        for method, path in WRITES:
            assert {"ApiKey": []} in doc["paths"][path][method]["security"], (method, path)
        assert {} in doc["paths"]["/info"]["get"]["security"]  # optional there
        api_key = schemes["ApiKey"]
        assert api_key["type"] == "apiKey" and api_key["in"] == "header"
        body = {"classes": [{"label": "walking"}]}
        # what Swagger UI sends after "Authorize": the header the scheme names, or a bearer token
        assert client.post("/classes", json=body).status_code == 401
        assert client.post("/classes", json=body, headers={api_key["name"]: KEY}).status_code == 200
        assert schemes["Bearer"] == {"type": "http", "scheme": "bearer"}
        assert client.post("/classes", json=body, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert '"persistAuthorization": true' in client.get("/docs").text


def test_without_a_key_no_scheme_is_declared() -> None:
    with running_app() as client:
        doc = client.get("/openapi.json").json()
    assert "securitySchemes" not in doc["components"]
    assert all("security" not in op for ops in doc["paths"].values() for op in ops.values())
