"""Fault injection with a real redis-server: pause, kill -9 + AOF restart, FLUSHALL, lost volume, a mute listener.

Every scenario asserts that no acknowledged class is lost and that a failing write answers within a bound.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest
import redis

from service.registry import ClassRecord, RegistryUnavailable
from service.registry.recovery import store_lost_data
from service.registry.redis_registry import RedisRegistry

pytestmark = pytest.mark.integration
WRITE_BOUND_S = 0.8  # a write gives up after SCALE_REDIS_TIMEOUT_S (0.5 s here), plus scheduling slack


def rec(label: str) -> ClassRecord:
    return ClassRecord.create(label, f"a person doing {label}", None, 1.0)


def registry(url: str, **kw: object) -> RedisRegistry:
    kw.setdefault("probe_interval_s", 0.0)
    return RedisRegistry(url, "scale", 0.5, **kw)  # type: ignore[arg-type]


async def timed_failure(write) -> float:
    t0 = time.monotonic()
    with pytest.raises(RegistryUnavailable):
        await write
    return time.monotonic() - t0


@pytest.mark.unit
@pytest.mark.parametrize(("baseline", "current", "lost"), [
    ((5, "e"), (5, "e"), False), ((5, "e"), (7, "e"), False), ((5, "e"), (4, "e"), True),
    ((5, "e"), (0, None), True), ((5, "e"), (9, "f"), True), ((0, None), (0, None), False),
    ((3, None), (1, "f"), True),
])
def test_store_lost_data_rule(baseline, current, lost: bool) -> None:
    assert store_lost_data(baseline, current) is lost


def test_never_answering_listener_fails_writes_within_the_bound() -> None:
    with socket.socket() as sink:  # accepts TCP connections (kernel backlog) but never answers
        sink.bind(("127.0.0.1", 0))
        sink.listen(16)
        url = f"redis://127.0.0.1:{sink.getsockname()[1]}/0"

        async def scenario() -> list[float]:
            reg = registry(url)  # 0.5 s is the default timeout; 1.0 s per write before the bound
            took = [await timed_failure(reg.add([rec("a")])),
                    await timed_failure(reg.remove(rec("a").id)),
                    await timed_failure(reg.add([rec("b"), rec("c")]))]
            await reg.close()
            return took
        took = asyncio.run(scenario())
    assert max(took) < WRITE_BOUND_S, took


def test_pause_with_sigstop_then_resume(redis_server) -> None:
    async def scenario() -> None:
        reg = registry(redis_server.url)
        acked = await reg.add([rec("a"), rec("b")])
        before = await reg.snapshot()
        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            assert await timed_failure(reg.add([rec("c")])) < WRITE_BOUND_S
            assert await timed_failure(reg.remove(acked[0].id)) < WRITE_BOUND_S
            snap = await reg.snapshot()
            assert snap.stale and snap.classes == before.classes
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.1)
        after = await registry(redis_server.url).snapshot()
        assert {r.id for r in acked} <= {r.id for r in after.classes}
        acked += await reg.add([rec("d")])  # writes work again on the same client
        assert {r.id for r in acked} <= {r.id for r in (await reg.snapshot()).classes}
        await reg.close()
    asyncio.run(scenario())


def test_kill_9_and_aof_restart_keeps_every_acknowledged_class(redis_server) -> None:
    async def scenario() -> None:
        reg = registry(redis_server.url)
        restores: list[int] = []
        reg.on_restore = restores.append
        acked = []
        for i in range(20):
            acked += await reg.add([rec(f"class {i}")])
        await reg.snapshot()
        redis_server.proc.kill()  # SIGKILL: no shutdown save; the AOF, fsynced as shipped, is all there is
        redis_server.proc.wait()
        redis_server.proc = None
        assert await timed_failure(reg.add([rec("during outage")])) < WRITE_BOUND_S
        redis_server.start()
        await asyncio.sleep(0.2)
        fresh = await registry(redis_server.url).snapshot()
        assert {r.id for r in fresh.classes} == {r.id for r in acked}
        assert not (await reg.snapshot()).stale and restores == []  # nothing was lost, nothing restored
        await reg.close()
    asyncio.run(scenario())


def test_flushall_is_detected_and_the_snapshot_restored(redis_server) -> None:
    async def scenario() -> None:
        a, b = registry(redis_server.url), registry(redis_server.url)
        restores: list[int] = []
        a.on_restore = restores.append
        acked = await a.add([rec(f"c{i}") for i in range(12)])
        (gone,) = await b.add([rec("deleted later")])
        assert await b.remove(gone.id)  # deleted through the API: must not come back
        await a.snapshot()
        redis.Redis.from_url(redis_server.url).flushall()
        snap = await a.snapshot()
        assert {r.id for r in snap.classes} == {r.id for r in acked} and restores == [12]
        seen_by_b = await b.snapshot()
        assert {r.id for r in seen_by_b.classes} == {r.id for r in acked}
        assert gone.id not in {r.id for r in seen_by_b.classes}
        assert await a.snapshot() is snap and restores == [12]  # restored once, then steady
        await a.close(), await b.close()
    asyncio.run(scenario())


def test_lost_volume_after_restart_is_restored_from_the_snapshot_file(redis_server, tmp_path: Path) -> None:
    snapshot_file = tmp_path / "replica" / "registry.json"

    async def scenario() -> None:
        reg = registry(redis_server.url, snapshot_path=snapshot_file)
        acked = await reg.add([rec("x"), rec("y"), rec("z")])
        await reg.snapshot()
        await reg.close()
        redis_server.stop()  # the replica and Redis both go; Redis comes back on an empty volume
        shutil.rmtree(redis_server.workdir)
        redis_server.workdir.mkdir()
        redis_server.start()
        restarted = registry(redis_server.url, snapshot_path=snapshot_file)
        restores: list[int] = []
        restarted.on_restore = restores.append
        snap = await restarted.snapshot()
        assert {r.id for r in snap.classes} == {r.id for r in acked} and restores == [3]
        await restarted.close()
    asyncio.run(scenario())
