"""Hot reload in process: key rules, failures that keep the old bundle, conditioning before the swap, drain."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from model.bundle import read_manifest
from service.engine.model_state import ModelState
from tests.service.engine.test_reload_live import seeded_bundle
from tests.service.svc_support import (
    prompt_of,
    reference,
    running_app,
    skeleton,
    tiny_bundle,
    within_tolerance,
)

pytestmark = pytest.mark.integration
KEY = "reload-test-key-0123"
AUTH = {"X-API-Key": KEY}


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_admin_routes_refused_without_configured_key() -> None:
    with running_app() as client:
        r = client.post("/admin/reload", json={})
        assert r.status_code == 403 and r.json()["type"].endswith("admin-disabled")
        assert r.headers["x-scale-bundle-version"] == read_manifest(tiny_bundle().path).bundle_version


def test_reload_failures_keep_old_bundle_then_swap_with_conditioned_classes() -> None:
    root = Path(tempfile.mkdtemp(prefix="scale-reload-unit-"))
    try:
        other = seeded_bundle(root, 1)
        va = read_manifest(tiny_bundle().path).bundle_version
        vb = read_manifest(other.path).bundle_version
        broken = root / "broken"
        shutil.copytree(other.path, broken)
        (broken / "sample_side.onnx").write_bytes(b"not a graph")
        clip = skeleton(5)
        # the test bundles live in separate temporary directories: the root is their common parent
        with running_app(api_key=KEY, bundle_root=Path(tempfile.gettempdir())) as client:
            assert client.post("/classes", headers=AUTH, json={"classes": [
                {"label": "walking"}, {"label": "jumping", "descriptions": ["feet leave the ground"]}]}
            ).status_code == 200
            assert client.post("/admin/reload", json={}).status_code == 401
            assert client.post("/admin/reload", headers={"X-API-Key": "wrong-key-1234"}, json={}).status_code == 401
            missing = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(root / "nope")})
            damaged = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(broken)})
            info = client.get("/info", headers=AUTH).json()  # paths in last_error: for the operator
            same = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(tiny_bundle().path)})
            before = client.get("/metrics").text
            swap = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(other.path)})
            after_swap = client.get("/metrics").text
            r = client.post("/recognize", json={"skeleton": clip.tolist(), "top_k": 2, "aggregation": "min"})
            after_request = client.get("/metrics").text
            info_b = client.get("/info").json()
        for answer, what in ((missing, "bundle directory not found"), (damaged, "sample_side.onnx")):
            assert answer.status_code == 422, answer.text
            assert what in answer.json()["detail"] and f"still serving {va}" in answer.json()["detail"]
        assert same.json()["status"] == "unchanged"
        assert info["bundle_version"] == va and "sample_side.onnx" in info["reload"]["last_error"]
        assert _metric(before, 'scale_bundle_reloads_total{result="failed"}') == 2
        assert swap.status_code == 200 and swap.json()["bundle_version"] == vb
        assert (swap.json()["classes"], swap.json()["texts"]) == (2, 3)
        # the three texts were conditioned for the new bundle before the swap, none by the request after it
        computed = 'scale_conditioning_lookups_total{source="computed"}'
        assert _metric(after_swap, computed) - _metric(before, computed) == 3
        assert _metric(after_request, computed) == _metric(after_swap, computed)
        assert r.status_code == 200 and r.json()["bundle_version"] == vb == r.headers["x-scale-bundle-version"]
        want, _ = reference([clip], [prompt_of("walking"), prompt_of("jumping"),
                                     prompt_of("jumping") + ". feet leave the ground"], other)
        got = {x["label"]: x["energy"] for x in r.json()["results"]}
        assert within_tolerance(np.array([got["walking"], got["jumping"]]),
                                np.array([want[0, 0], want[0, 1:].min()])).all()
        assert info_b["bundle_version"] == vb and info_b["reload"]["last_error"] is None
        assert info_b["reload"]["last"]["previous_version"] == va
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_retire_waits_for_requests_in_flight() -> None:
    stopped: list[float] = []

    async def stop() -> None:
        stopped.append(asyncio.get_running_loop().time())

    model = ModelState(bundle=SimpleNamespace(version="old"), engine=None, text_encoder=None, conditioner=None,
                       batcher=SimpleNamespace(stop=stop), preprocess=None)

    async def scenario() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        async with model.in_use():
            retire = asyncio.create_task(model.retire(drain_timeout_s=5))
            await asyncio.sleep(0.2)
            assert not stopped and model.active == 1  # the request still uses it: batcher alive
            released = loop.time()
        await retire
        return released, stopped[0]

    released, at = asyncio.run(scenario())
    assert at >= released and model.active == 0


def _wait_version(client, version: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get("/info").json()["bundle_version"] != version:
        assert time.monotonic() < deadline, client.get("/info").json()["reload"]
        time.sleep(0.1)


def test_replicas_sharing_redis_converge_on_the_published_bundle(redis_server) -> None:
    root = Path(tempfile.mkdtemp(prefix="scale-reload-fleet-"))
    try:
        other = seeded_bundle(root, 1)
        vb = read_manifest(other.path).bundle_version
        common = {"redis_url": redis_server.url, "api_key": KEY, "bundle_poll_s": 0.2,
                  "allow_unauthenticated_redis": True, "bundle_root": Path(tempfile.gettempdir())}
        with running_app(**common) as a, running_app(**common) as b:
            assert a.post("/classes", headers=AUTH, json={"classes": [{"label": "walking"}]}).status_code == 200
            swap = a.post("/admin/reload", headers=AUTH, json={"bundle_path": str(other.path)})
            assert swap.status_code == 200 and swap.json()["published"] is True, swap.text
            _wait_version(b, vb)
            r = b.post("/recognize", json={"skeleton": skeleton(2).tolist()})
            assert r.json()["bundle_version"] == vb
            assert b.get("/info").json()["reload"]["last"]["previous_version"] != vb
            with running_app(**common) as c:  # a replica started later adopts the published bundle too
                _wait_version(c, vb)
            local = a.post("/admin/reload", headers=AUTH,
                           json={"bundle_path": str(tiny_bundle().path), "fleet": False})
            assert local.json()["published"] is False
            time.sleep(1.0)  # several polls: b keeps the published bundle, a keeps its local choice
            assert b.get("/info").json()["bundle_version"] == vb
            assert a.get("/info").json()["bundle_version"] == local.json()["bundle_version"] != vb
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_conditioners_of_one_text_tower_share_its_encode_lock() -> None:
    from service.engine.conditioning import Conditioner

    dims = SimpleNamespace(encoder_hidden=4, decoder_hidden=4, latent_dim=2)
    engine = SimpleNamespace(bundle=SimpleNamespace(manifest=SimpleNamespace(dims=dims)))
    class Tower:  # hashable, weak-referenceable, like model.text.TextEncoder
        pass

    tower, other_tower = Tower(), Tower()
    old, new = (Conditioner(tower, engine, None, v) for v in ("a", "b"))
    assert old._encode_lock is new._encode_lock  # the old and the new bundle never encode at the same time
    assert Conditioner(other_tower, engine, None, "a")._encode_lock is not old._encode_lock
