"""/metrics labels the docs pages' assets and /openapi.json with their own routes; only unknown paths are
`<unmatched>` (issue #20, finding 6)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings

pytestmark = pytest.mark.unit


def _count(metrics: str, route: str, status: str) -> float:
    found = re.search(rf'^scale_http_requests_total{{method="GET",route="{re.escape(route)}",status="{status}"}} '
                      r"(\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0


def test_docs_assets_and_openapi_have_their_own_route_labels() -> None:
    app = create_app(Settings())  # no lifespan: the docs need no bundle
    client = TestClient(app)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', client.get("/docs").text)
    assert len(assets) >= 2
    for asset in assets:
        assert client.get(asset).status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/no/such/path").status_code == 404
    mount = assets[0].rsplit("/", 1)[0] + "/{path}"
    metrics = app.state.metrics.render().decode()
    assert _count(metrics, mount, "200") == len(assets)
    assert _count(metrics, "/openapi.json", "200") == 1
    assert _count(metrics, "<unmatched>", "200") == 0
    assert _count(metrics, "<unmatched>", "404") == 1
