"""The OpenAPI document's example bodies are accepted: "Try it out" and the fuzzer's examples phase start on
the success path of /recognize and /detect (the fuzzer used to send 10,787 /detect bodies, all 422)."""

from __future__ import annotations

import pytest

from tests.service.svc_support import LABELS, register, running_app

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("limits", [{}, {"max_frames": 4, "detect_max_frames": 16}])
def test_every_example_body_succeeds(limits: dict) -> None:
    with running_app(**limits) as client:
        register(client, LABELS[:3])
        doc = client.get("/openapi.json").json()
        sent = 0
        for path in ("/recognize", "/detect"):
            body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
            schema = body["schema"]
            assert schema["properties"]["skeleton"].get("anyOf"), path  # a shape, not "anything"
            for name, example in body["examples"].items():
                r = client.post(path, json=example["value"])
                assert r.status_code == 200, (path, name, r.text)
                sent += 1
        assert sent >= 3
