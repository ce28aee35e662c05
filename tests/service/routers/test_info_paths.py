"""/info shows filesystem paths only to a request that carries the configured API key."""

from __future__ import annotations

import json

import pytest

from service.routers.health import without_paths
from tests.service.svc_support import running_app, tiny_bundle

KEY = "info-paths-key-0123"


@pytest.mark.unit
def test_paths_inside_strings_are_masked_and_path_fields_dropped() -> None:
    value = {"bundle_path": "/srv/b", "training": {"data": "/data/ntu/x.npz", "home": "~/ckpt/e.pt",
                                                   "rel": "../runs/a", "model": "ViT-B-32/quickgelu",
                                                   "url": "https://example.org/a"},
             "errors": ["/b/v2 lies outside the bundle root /b"]}
    assert without_paths(value) == {"training": {"data": "<path>", "home": "<path>", "rel": "<path>",
                                                 "model": "ViT-B-32/quickgelu", "url": "https://example.org/a"},
                                    "errors": ["<path> lies outside the bundle root <path>"]}


@pytest.mark.integration
def test_info_hides_paths_without_the_key() -> None:
    where = str(tiny_bundle().path.parent)
    with running_app(api_key=KEY) as client:
        client.post("/admin/reload", headers={"X-API-Key": KEY}, json={"bundle_path": "/elsewhere/bundle"})
        anonymous = client.get("/info").json()
        wrong = client.get("/info", headers={"X-API-Key": "not-the-key-0000"}).json()
        operator = client.get("/info", headers={"X-API-Key": KEY}).json()
    for answer in (anonymous, wrong):
        text = json.dumps(answer)
        assert "bundle_path" not in text and where not in text and "/elsewhere" not in text, text
        assert "<path>" in answer["reload"]["last_error"]
    assert operator["bundle_path"] == str(tiny_bundle().path)
    assert "/elsewhere/bundle" in operator["reload"]["last_error"]
    with running_app() as client:  # no key configured: nobody proves to be the operator
        assert "bundle_path" not in client.get("/info").json()
