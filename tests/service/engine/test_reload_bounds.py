"""The bundle pointer is bounded (SCALE_BUNDLE_ROOT) and a reload with nothing to change loads nothing."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
import redis

from model.bundle import read_manifest
from tests.service.svc_support import register, running_app, tiny_bundle

pytestmark = pytest.mark.integration
KEY = "bounds-test-key-0123"
AUTH = {"X-API-Key": KEY}


def _refused(metrics: str, source: str) -> float:
    found = re.search(rf'^scale_bundle_outside_root_total{{source="{source}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else -1.0


def test_admin_pointer_outside_the_root_is_refused_logged_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    outside = Path(tempfile.mkdtemp(prefix="scale-outside-"))
    root = tiny_bundle().path.parent  # the default root: the configured bundle's parent
    link = root / "link-to-outside"
    try:
        copy = shutil.copytree(tiny_bundle().path, outside / "bundle")  # a valid bundle, same version
        link.symlink_to(copy, target_is_directory=True)
        inside = shutil.copytree(tiny_bundle().path, root / "copy")
        with caplog.at_level(logging.WARNING), running_app(api_key=KEY) as client:
            assert _refused(client.get("/metrics").text, "admin") == 0
            far = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(copy)})
            via_link = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(link)})
            dotdot = client.post("/admin/reload", headers=AUTH, json={"bundle_path": f"{root}/../{outside.name}"
                                                                                     "/bundle"})
            near = client.post("/admin/reload", headers=AUTH, json={"bundle_path": str(inside)})
            metrics = client.get("/metrics").text
        for answer in (far, via_link, dotdot):
            assert answer.status_code == 422 and answer.json()["type"].endswith("bundle-outside-root"), answer.text
            assert str(root.resolve()) in answer.json()["detail"]
        assert near.status_code == 200 and near.json()["status"] == "unchanged"
        assert _refused(metrics, "admin") == 3
        assert sum("outside the bundle root" in r.getMessage() for r in caplog.records) == 3
    finally:
        link.unlink(missing_ok=True)
        shutil.rmtree(root / "copy", ignore_errors=True)
        shutil.rmtree(outside, ignore_errors=True)


def test_fleet_pointer_outside_the_root_is_refused(redis_server) -> None:
    outside = Path(tempfile.mkdtemp(prefix="scale-outside-"))
    try:
        copy = shutil.copytree(tiny_bundle().path, outside / "bundle")
        serving = read_manifest(tiny_bundle().path).bundle_version
        with running_app(redis_url=redis_server.url, bundle_poll_s=0.1) as client:
            # whoever reaches Redis names a bundle: the replica must not load it
            redis.Redis.from_url(redis_server.url).set("scale:bundle", json.dumps(
                {"bundle_path": str(copy), "bundle_version": "0" * 16}))
            deadline = time.monotonic() + 30
            while _refused(client.get("/metrics").text, "fleet") < 1:
                assert time.monotonic() < deadline, client.get("/info").json()["reload"]
                time.sleep(0.1)
            info = client.get("/info").json()
        assert info["bundle_version"] == serving and "outside the bundle root" in info["reload"]["last_error"]
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def test_a_reload_with_nothing_to_change_loads_nothing_and_counts_what_is_registered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a no-op reload must not load the bundle's graphs")

    monkeypatch.setattr("service.engine.reload.load_bundle", must_not_load)
    with running_app(api_key=KEY) as client:
        register(client, ["walking", "jumping"], **AUTH)
        added = client.post("/classes", headers=AUTH, json={"classes": [
            {"label": "waving a hand", "texts": ["raises a hand and moves it side to side"]}]})
        assert added.status_code == 200, added.text
        same = client.post("/admin/reload", headers=AUTH, json={})
    assert same.status_code == 200, same.text
    assert same.json()["status"] == "unchanged" and same.json()["seconds"] == 0.0
    assert (same.json()["classes"], same.json()["texts"]) == (3, 4)  # issue #20 (5): not 0 and 0


def test_fleet_must_be_a_json_boolean() -> None:
    # found by the fuzzer: {"fleet": 0} was coerced to false and the reload went ahead
    with running_app(api_key=KEY) as client:
        answers = [client.post("/admin/reload", headers=AUTH, json={"fleet": value}) for value in (0, 1, "yes")]
        fine = client.post("/admin/reload", headers=AUTH, json={"fleet": False})
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "fleet" in answer.text
    assert fine.status_code == 200, fine.text
