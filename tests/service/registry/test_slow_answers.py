"""A slow cache answer under load is counted and logged as slow (debug), not as an outage (warning); a real
failure still warns."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

from service.registry.redis_registry import RedisRegistry
from tests.conftest import free_port

pytestmark = pytest.mark.unit
TENSORS = {"mu": np.zeros((1, 4), np.float32)}


def test_a_late_cache_answer_is_slow_not_an_outage(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        reg = RedisRegistry(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
        slow: list[str] = []
        reg.on_slow = slow.append

        async def late(*args: object, **kwargs: object) -> None:
            await asyncio.sleep(1.0)  # the server answers, but after the cache budget (0.1 s)

        reg._client.get = late
        reg._client.set = late
        with caplog.at_level(logging.DEBUG, logger="service.registry"):
            assert await reg.get_conditioning("v1", "a" * 64) is None
            reg._down_until = 0.0
            await reg.put_conditioning("v1", "a" * 64, TENSORS)
        await reg.close()
        return slow

    assert asyncio.run(scenario()) == ["get_conditioning", "put_conditioning"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("redis slow during" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records) == 2


def test_a_refused_connection_still_warns(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> list[str]:
        reg = RedisRegistry(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)  # nobody listens there
        slow: list[str] = []
        reg.on_slow = slow.append
        with caplog.at_level(logging.DEBUG, logger="service.registry"):
            assert await reg.get_conditioning("v1", "a" * 64) is None
        await reg.close()
        return slow

    assert asyncio.run(scenario()) == []
    assert any(r.levelno == logging.WARNING and "unavailable during get_conditioning" in r.getMessage()
               for r in caplog.records)
