"""RedisRegistry against a real redis-server: replicas agree, outages degrade reads, nothing acked is lost."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from service.registry import ClassRecord, RegistryUnavailable, text_hash_for
from service.registry.redis_registry import RedisRegistry

pytestmark = pytest.mark.integration
BUNDLE = "b1"


def rec(label: str) -> ClassRecord:
    return ClassRecord.create(label, f"The Human Action of {label}", None, 1.0)


def registry(url: str, **kw: object) -> RedisRegistry:
    kw.setdefault("probe_interval_s", 0.0)
    return RedisRegistry(url, "scale", 0.3, retry_after_s=7, **kw)  # type: ignore[arg-type]


def test_two_replicas_agree_after_each_change(redis_server) -> None:
    async def scenario() -> None:
        a, b = registry(redis_server.url), registry(redis_server.url)
        assert (await b.snapshot()).classes == ()
        (x,) = await a.add([rec("wave")])
        assert [r.id for r in (await b.snapshot()).classes] == [x.id]
        assert await b.remove(x.id)
        snap_a, snap_b = await a.snapshot(), await b.snapshot()
        assert snap_a.classes == snap_b.classes == () and snap_a.version == snap_b.version == 2
        await a.close(), await b.close()
    asyncio.run(scenario())


def test_layout_in_redis(redis_server) -> None:
    async def scenario() -> None:
        reg = registry(redis_server.url)
        (x,) = await reg.add([rec("clap")])
        await reg.put_conditioning(BUNDLE, text_hash_for(x.prompt), {"enc_c": np.ones((1, 4))})
        await reg.close()
        return x
    x = asyncio.run(scenario())
    raw = redis.Redis.from_url(redis_server.url)
    assert ClassRecord.from_json(raw.hget("scale:classes", x.id)) == x
    assert int(raw.get("scale:version")) == 1
    assert raw.exists(f"scale:cond:{BUNDLE}:{text_hash_for(x.prompt)}") == 1


def test_outage_serves_stale_reads_and_fails_writes_fast(redis_server) -> None:
    async def scenario() -> None:
        reg = registry(redis_server.url)
        acked = await reg.add([rec("a"), rec("b")])
        acked += await reg.add([rec("c")])
        before = await reg.snapshot()
        redis_server.stop()
        snap = await reg.snapshot()
        assert snap.stale and snap.classes == before.classes and snap.version == before.version
        for write in (reg.add([rec("d")]), reg.remove(acked[0].id)):
            t0 = time.monotonic()
            with pytest.raises(RegistryUnavailable) as info:
                await write
            assert time.monotonic() - t0 < 2.0 and info.value.retry_after == 7
        assert await reg.ping() is False
        assert await reg.get_conditioning(BUNDLE, "0" * 64) is None
        await reg.put_conditioning(BUNDLE, "0" * 64, {"x": np.ones(2)})  # logged, not raised
        redis_server.start()
        fresh = registry(redis_server.url)
        back = await fresh.snapshot()
        assert not back.stale and {r.id for r in back.classes} == {r.id for r in acked}
        assert not (await reg.snapshot()).stale
        await reg.close(), await fresh.close()
    asyncio.run(scenario())


def test_unresponsive_server_times_out_fast() -> None:
    with socket.socket() as sink:  # accepts TCP connections (kernel backlog) but never answers
        sink.bind(("127.0.0.1", 0))
        sink.listen(8)
        url = f"redis://127.0.0.1:{sink.getsockname()[1]}/0"

        async def scenario() -> None:
            reg = registry(url)
            t0 = time.monotonic()
            with pytest.raises(RegistryUnavailable):
                await reg.add([rec("a")])
            assert time.monotonic() - t0 < 2.0
            with pytest.raises(RegistryUnavailable, match="snapshot"):
                await reg.snapshot()  # no snapshot ever loaded and no file: nothing to serve
            await reg.close()
        asyncio.run(scenario())


def test_restart_during_outage_serves_snapshot_file(redis_server, tmp_path: Path) -> None:
    path = tmp_path / "snap" / "registry.json"

    async def scenario() -> None:
        reg = registry(redis_server.url, snapshot_path=path)
        acked = await reg.add([rec("a"), rec("b")])
        await reg.snapshot()
        await reg.close()
        redis_server.stop()
        restarted = registry(redis_server.url, snapshot_path=path)
        snap = await restarted.snapshot()
        assert snap.stale and snap.version == 1 and [r.id for r in snap.classes] == [r.id for r in acked]
        redis_server.start()
        assert (await restarted.snapshot()).stale is False
        await restarted.close()
    asyncio.run(scenario())


def test_corrupted_entries_are_skipped_or_missed(redis_server) -> None:
    async def scenario() -> None:
        reg = registry(redis_server.url)
        (good,) = await reg.add([rec("a")])
        h = text_hash_for(good.prompt)
        await reg.put_conditioning(BUNDLE, h, {"x": np.arange(8.0)})
        raw = redis.Redis.from_url(redis_server.url)
        raw.hset("scale:classes", "0123456789abcdef", b"{not json")
        raw.incr("scale:version")
        raw.setrange(f"scale:cond:{BUNDLE}:{h}", 20, b"\xff")
        snap = await reg.snapshot()
        assert [r.id for r in snap.classes] == [good.id]
        assert await reg.get_conditioning(BUNDLE, h) is None
        await reg.close()
    asyncio.run(scenario())


def test_wiped_store_is_detected_even_at_equal_version(redis_server) -> None:
    async def scenario() -> None:
        a, b = registry(redis_server.url), registry(redis_server.url)
        await a.add([rec("old")])
        assert (await a.snapshot()).version == 1
        redis.Redis.from_url(redis_server.url).flushall()
        (new,) = await b.add([rec("new")])
        snap = await a.snapshot()  # a new epoch at an equal version: a wiped store, so a restores "old"
        assert snap.version == 2 and {r.label for r in snap.classes} == {"old", "new"}
        await a.close(), await b.close()
    asyncio.run(scenario())


def test_key_prefixes_isolate_deployments(redis_server) -> None:
    async def scenario() -> None:
        a = RedisRegistry(redis_server.url, "blue", 0.3)
        b = RedisRegistry(redis_server.url, "green", 0.3)
        await a.add([rec("a")])
        assert (await b.snapshot()).classes == () and len((await a.snapshot()).classes) == 1
        await a.close(), await b.close()
    asyncio.run(scenario())


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "version": 1, "epoch": null, "classes": '
                                     '[{"id": "0000000000000000", "label": "a", "description": null, '
                                     '"prompt": "a", "created_at": 1.0}]}'])
def test_invalid_snapshot_file_is_ignored(tmp_path: Path, content: str) -> None:
    path = tmp_path / "registry.json"
    path.write_text(content)
    with socket.socket() as probe:  # a port with nothing listening: connection refused
        probe.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"

    async def scenario() -> None:
        reg = registry(url, snapshot_path=path)
        with pytest.raises(RegistryUnavailable):
            await reg.snapshot()
        await reg.close()
    asyncio.run(scenario())
