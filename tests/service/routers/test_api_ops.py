"""Operational routes: /healthz, /readyz, /info, /metrics, OpenAPI docs."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.service.svc_support import LABELS, register, running_app, tiny_bundle

pytestmark = pytest.mark.integration


def sample(text: str, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        yield c


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["warm"] is True
    engine = client.app.state.service.engine
    engine.warm = False  # readiness must follow the engine's warm flag
    try:
        cold = client.get("/readyz")
        assert cold.status_code == 503 and cold.json()["checks"]["warm"] is False
        assert "Retry-After" in cold.headers
    finally:
        engine.warm = True


def test_info_shows_manifest_providers_and_registry(client) -> None:
    info = client.get("/info").json()
    manifest = json.loads((tiny_bundle().path / "manifest.json").read_text())
    assert info["manifest"] == manifest
    assert info["bundle_version"] == manifest["bundle_version"]
    assert info["providers"] == ["CPUExecutionProvider"] and info["device"] == "cpu"
    runtime = info["encoder_runtime"]  # the auto rule on this CPU: OpenVINO f32 when installed
    assert (runtime["runtime"], runtime["precision"]) in {("openvino", "f32"), ("onnxruntime", "f32")}
    assert runtime["reason"]
    assert info["demo"] is False and "warning" not in info
    assert info["text_weights_id"] == manifest["text"]["weights_id"]
    assert info["text_encoder"] == "open_clip"  # this bundle has no text graph: the torch path
    # limits carry their setting names: max_classes is the registry size, not the per-request limit
    assert info["limits"] == {"max_body_bytes": 8 * 1024 * 1024, "max_frames": 600, "max_sequences": 64,
                              "max_classes": 1000, "max_classes_per_request": 100, "max_text_chars": 300, "top_k": 5}
    version = client.get("/classes").json()["registry_version"]
    assert info["registry"]["version"] == version and info["registry"]["backend"] == "MemoryRegistry"


def test_metrics_count_routes_statuses_and_registry_size(client) -> None:
    register(client, LABELS[:2])
    client.get("/classes/0000000000000000")
    client.get("/classes/0000000000000000")
    text = client.get("/metrics").text
    assert sample(text, "scale_http_requests_total", method="GET", route="/classes/{class_id}",
                  status="404") == 2
    assert sample(text, "scale_http_requests_total", method="POST", route="/classes", status="200") >= 1
    assert sample(text, "scale_registry_classes") == len(client.get("/classes").json()["classes"])
    assert sample(text, "scale_http_request_duration_seconds_count", method="GET",
                  route="/classes/{class_id}") == 2


def test_openapi_documents_every_route_and_the_npy_body(client) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/classes", "/classes/{class_id}", "/recognize", "/healthz", "/readyz", "/info", "/metrics"):
        assert path in spec["paths"], path
    body = spec["paths"]["/recognize"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/x-npy", "application/octet-stream"}  # both read as .npy
    assert "skeleton" in body["application/json"]["schema"]["properties"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
