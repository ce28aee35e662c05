"""Replicas sharing one Redis agree on classes; Redis outages keep reads working and refuse writes with 503."""

from __future__ import annotations

import time

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    register,
    registry_state,
    running_app,
    skeleton,
    within_tolerance,
)

pytestmark = pytest.mark.integration


def counter(client, name: str, **labels: str) -> float:
    """Value of one sample in /metrics, parsed with prometheus_client's own text parser."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_class_registered_on_one_replica_is_used_by_the_other(redis_server) -> None:
    seq = skeleton(11)
    with running_app(redis_url=redis_server.url) as a, running_app(redis_url=redis_server.url) as b:
        assert b.post("/recognize", json={"skeleton": seq.tolist()}).status_code == 422  # nothing yet
        ids = [c["id"] for c in register(a, LABELS[:3])]
        r = b.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 10})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {x["class_id"] for x in body["results"]} == set(ids)
        assert body["registry_version"] == registry_state(a)[0] == registry_state(b)[0]
        energy, _ = reference([seq], [prompt_of(lab) for lab in LABELS[:3]])
        got = {x["label"]: x["energy"] for x in body["results"]}
        assert within_tolerance(np.array([got[lab] for lab in LABELS[:3]]), energy[0]).all()
        # B took the conditionings from the shared Redis cache instead of recomputing them.
        assert counter(b, "scale_conditioning_lookups_total", source="registry") == 3
        assert counter(b, "scale_conditioning_lookups_total", source="computed") == 0

        assert b.delete(f"/classes/{ids[0]}").status_code == 204
        after = a.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 10}).json()
        assert {x["class_id"] for x in after["results"]} == set(ids[1:])
        assert registry_state(a) == registry_state(b)


def test_redis_outage_reads_work_writes_503_then_recovery(redis_server) -> None:
    seq = skeleton(12)
    with running_app(redis_url=redis_server.url, retry_after_s=2) as client:
        acknowledged = register(client, LABELS[:3])
        before = registry_state(client)
        redis_server.stop()
        try:
            r = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 10})
            assert r.status_code == 200, r.text
            assert {x["class_id"] for x in r.json()["results"]} == {c["id"] for c in acknowledged}
            w = client.post("/classes", json={"classes": [{"label": "kicking"}]})
            assert w.status_code == 503 and w.headers["content-type"].startswith("application/problem+json")
            assert int(w.headers["Retry-After"]) == 2 and "unreachable" in w.json()["detail"]
            d = client.delete(f"/classes/{acknowledged[0]['id']}")
            assert d.status_code == 503 and "Retry-After" in d.headers
            assert registry_state(client) == before  # last snapshot, unchanged by the refused writes
            assert client.get("/classes").json()["stale"] is True
            assert client.get("/readyz").status_code == 200  # a snapshot is present
            assert client.get("/readyz").json()["checks"]["registry_reachable"] is False
        finally:
            redis_server.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and client.get("/classes").json()["stale"]:
            time.sleep(0.1)  # the registry probes Redis again after its back-off interval
        listing = client.get("/classes").json()
        assert {c["id"] for c in listing["classes"]} == {c["id"] for c in acknowledged}
        assert listing["stale"] is False
        assert client.post("/classes", json={"classes": [{"label": "kicking"}]}).status_code == 200


def test_not_ready_without_registry_or_snapshot() -> None:
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.service.svc_support import settings, text_encoder

    app = create_app(settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"), text_encoder=text_encoder())
    with TestClient(app) as client:
        deadline = time.monotonic() + 20
        while not client.get("/readyz").json()["checks"].get("warm") and time.monotonic() < deadline:
            time.sleep(0.05)
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {"bundle": True, "warm": True, "registry_reachable": False,
                                      "snapshot": False}
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        assert client.get("/classes").status_code == 503  # no snapshot to serve reads from
