"""Lost-store recovery: notice a Redis that lost its data and put back the classes a replica had acknowledged.

A store "lost its data" when a replica's last good snapshot (in memory, or the snapshot file) names classes
but the store's version counter is missing, has gone backwards under the same epoch, or the epoch changed (the
store was wiped and written again since). The replica then writes back every class of its snapshot that the
store lacks, in one WATCH/MULTI/EXEC, and moves the version past both its own and the store's so that every
other replica reloads. Classes deleted through the API are never resurrected by a store that kept its data:
recovery only runs when the store went backwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from service.registry.base import RegistrySnapshot

log = logging.getLogger("service.registry")
T = TypeVar("T")
WATCH_ATTEMPTS = 20


def store_lost_data(baseline: tuple[int, str | None], current: tuple[int, str | None]) -> bool:
    """True when the store's (version, epoch) is behind the baseline a replica acknowledged classes at."""
    base_version, base_epoch = baseline
    version, epoch = current
    if base_version <= 0:
        return False
    if epoch is None:  # counter and epoch gone (FLUSHALL, a lost volume, a new empty server)
        return True
    if base_epoch is not None and epoch != base_epoch:  # wiped, then written again by some replica
        return True
    return version < base_version


async def restore_classes(client: aioredis.Redis, keys: tuple[str, str, str], baseline: RegistrySnapshot,
                          epoch_token: str) -> int:
    """Write back the baseline's classes the store lacks; bump the version past both; returns how many."""
    k_classes, k_version, k_epoch = keys
    async with client.pipeline(transaction=True) as pipe:
        for _ in range(WATCH_ATTEMPTS):
            try:
                await pipe.watch(k_classes, k_version, k_epoch)
                present = {key.decode("ascii", "replace") for key in await pipe.hkeys(k_classes)}
                version = int(await pipe.get(k_version) or 0)
                missing = [r for r in baseline.classes if r.id not in present]
                pipe.multi()
                if missing:
                    pipe.hset(k_classes, mapping={r.id: r.to_json() for r in missing})
                pipe.set(k_version, max(version, baseline.version) + 1)
                pipe.set(k_epoch, epoch_token, nx=True)
                await pipe.execute()
                return len(missing)
            except WatchError:
                continue
    raise WatchError("registry restore lost the race 20 times")


async def bounded(what: Callable[[], Awaitable[T]], seconds: float) -> T:
    """Run what() but give up after `seconds`: raise TimeoutError at once, cancel it in the background.

    asyncio.timeout alone is not enough: redis-py's cleanup after a cancellation (UNWATCH, reconnect) may
    itself wait for the socket timeout, so the caller would wait that long again.
    """
    task = asyncio.ensure_future(what())
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        task.add_done_callback(_consume)
        raise TimeoutError(f"no answer within {seconds:.2f} s")
    return task.result()


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("abandoned registry write ended with %r", task.exception())
