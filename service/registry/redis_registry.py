"""Redis-backed registry shared by replicas: a hash of records plus a version counter, MULTI/EXEC writes."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.registry.base import (
    ClassRecord,
    RegistryFull,
    RegistrySnapshot,
    RegistryUnavailable,
    check_cache_key,
    dedupe,
    is_class_id,
    sorted_classes,
)
from service.registry.bundle_pointer import read_pointer, write_pointer
from service.registry.conditioning import ConditioningDecodeError, decode_tensors, encode_tensors
from service.registry.durability import WAITAOF_MS, Durability, NotDurable, commit, probe, report
from service.registry.recovery import bounded, restore_classes, store_lost_data
from service.registry.snapshot_file import read_snapshot, write_snapshot

if TYPE_CHECKING:
    from service.settings import Settings

log = logging.getLogger(__name__)
# BusyLoadingError (AOF replay after a restart) is a ConnectionError subclass.
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError)
WATCH_ATTEMPTS = 20


class RedisRegistry:
    """Registry in Redis; reads fall back to the last good snapshot, writes raise RegistryUnavailable."""

    def __init__(self, url: str, prefix: str = "scale", timeout_s: float = 0.5, *,
                 max_classes: int | None = None, retry_after_s: int = 5, snapshot_path: Path | None = None,
                 conditioning_ttl_s: int = 0, probe_interval_s: float = 1.0, durable_acks: bool = True) -> None:
        # One immediate retry reconnects a pooled connection that died with a restarted server.
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 1))
        self.prefix = prefix
        self._k_classes, self._k_version, self._k_epoch = (f"{prefix}:{n}" for n in ("classes", "version", "epoch"))
        self._k_cond = f"{prefix}:cond"
        self._k_bundle = f"{prefix}:bundle"  # the fleet's desired bundle (service/engine/reload.py follows it)
        self._max_classes = max_classes
        self._retry_after = retry_after_s
        self._snapshot_path = snapshot_path
        self._cond_ttl = conditioning_ttl_s or None
        self._probe_interval = probe_interval_s
        # The epoch tells a wiped-and-refilled store apart from the one our cached version came from.
        self._epoch_token = uuid.uuid4().hex
        self._last: RegistrySnapshot | None = None
        self._last_key: tuple[int, str | None] | None = None
        self._down_until = 0.0
        # A write gives up after one timeout in all, whatever redis-py's retry and cleanup would add.
        self._write_budget = timeout_s
        # The conditioning cache is an optimisation: it gets half a timeout, so a mute store costs a write
        # request at most this plus the write budget (a miss just recomputes the tensors).
        self._cache_budget = timeout_s / 2
        self.on_restore: Callable[[int], None] | None = None  # the app counts restores in /metrics
        self.on_slow: Callable[[str], None] | None = None  # the app counts slow cache answers in /metrics
        self._file_baseline_checked = False
        self._timeout = timeout_s
        self._durable_acks = durable_acks
        self.durability: Durability | None = None  # probed before the first write (and again after an outage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisRegistry:
        """Build from service settings (redis_url must be set)."""
        if not settings.redis_url:
            raise ValueError("RedisRegistry needs settings.redis_url")
        return cls(settings.redis_url, settings.redis_key_prefix, settings.redis_timeout_s,
                   max_classes=settings.max_classes, retry_after_s=settings.retry_after_s,
                   snapshot_path=settings.snapshot_path, conditioning_ttl_s=settings.conditioning_ttl_s,
                   durable_acks=settings.redis_durable_acks)

    def _unavailable(self, what: str, exc: BaseException) -> RegistryUnavailable:
        self._down_until = time.monotonic() + self._probe_interval
        self.durability = None  # the server may come back another one (upgraded, AOF switched): ask again
        log.warning("redis unavailable during %s: %s", what, exc)
        return RegistryUnavailable(f"class registry store unreachable during {what}: {exc}", self._retry_after)

    def _slow(self, what: str, exc: BaseException) -> None:
        # A cache answer later than its budget is a busy server or a loaded machine, not an outage: the
        # tensors are computed instead, and the cache is skipped for one probe interval so that a mute store
        # does not cost every request the budget. Counted in /metrics; real failures still warn.
        self._down_until = time.monotonic() + self._probe_interval
        log.debug("redis slow during %s (%s): computing the conditioning instead of waiting", what, exc)
        if self.on_slow is not None:
            self.on_slow(what)

    async def add(self, records: list[ClassRecord]) -> list[ClassRecord]:
        """Atomically register a batch (WATCH + MULTI/EXEC); acknowledged only after EXEC succeeded."""
        batch = dedupe(records)
        if not batch:
            return []
        try:
            return await bounded(lambda: self._add(batch), await self._budget("add"))
        except TimeoutError as exc:
            raise self._unavailable("add", exc) from exc

    async def _budget(self, what: str) -> float:
        """The write's time budget, probing once how writes are made durable (WAITAOF adds its wait)."""
        if self.durability is None:
            try:
                self.durability = await bounded(lambda: probe(self._client, self._durable_acks), self._write_budget)
            except (*UNAVAILABLE, TimeoutError) as exc:
                raise self._unavailable(what, exc) from exc
            report(self.durability)
        return self._write_budget + (WAITAOF_MS / 1000 if self.durability.waits else 0.0)

    async def _commit(self, pipe: aioredis.client.Pipeline, commands: list[tuple]) -> None:
        durability = self.durability
        try:
            await commit(pipe.connection, [*commands, *self._bump_commands()], self._timeout,
                         durability is not None and durability.waits)
        except NotDurable as exc:
            self.durability = None
            raise RegistryUnavailable(f"the write was applied but not confirmed on disk: {exc}; retrying the "
                                      "same request is safe", self._retry_after) from exc

    async def _add(self, batch: list[ClassRecord]) -> list[ClassRecord]:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for _ in range(WATCH_ATTEMPTS):
                    try:
                        await pipe.watch(self._k_classes)
                        stored = await pipe.hmget(self._k_classes, [r.id for r in batch])
                        count = await pipe.hlen(self._k_classes)
                        existing = {r.id: _parse(raw) for r, raw in zip(batch, stored, strict=True)}
                        new = [r for r in batch if existing[r.id] is None]
                        if not new:
                            await pipe.unwatch()
                            return [existing[r.id] for r in batch]
                        # Unparsable stored entries are overwritten, so they count as already present.
                        grow = sum(1 for r, raw in zip(batch, stored, strict=True) if raw is None)
                        if self._max_classes is not None and count + grow > self._max_classes:
                            raise RegistryFull(f"registry holds {count} classes; adding {grow} would exceed "
                                               f"max_classes={self._max_classes}", self._max_classes)
                        fields = [part for r in new for part in (r.id, r.to_json())]
                        await self._commit(pipe, [("HSET", self._k_classes, *fields)])
                        return [existing[r.id] or r for r in batch]
                    except WatchError:
                        continue
        except UNAVAILABLE as exc:
            raise self._unavailable("add", exc) from exc
        raise RegistryUnavailable("class registry is under heavy write contention", self._retry_after)

    async def remove(self, class_id: str) -> bool:
        """Delete a class (WATCH + MULTI/EXEC); False when unknown; bumps the version when removed."""
        if not is_class_id(class_id):
            return False
        try:
            return await bounded(lambda: self._remove(class_id), await self._budget("remove"))
        except TimeoutError as exc:
            raise self._unavailable("remove", exc) from exc

    async def _remove(self, class_id: str) -> bool:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for _ in range(WATCH_ATTEMPTS):
                    try:
                        await pipe.watch(self._k_classes)
                        if not await pipe.hexists(self._k_classes, class_id):
                            await pipe.unwatch()
                            return False
                        await self._commit(pipe, [("HDEL", self._k_classes, class_id)])
                        return True
                    except WatchError:
                        continue
        except UNAVAILABLE as exc:
            raise self._unavailable("remove", exc) from exc
        raise RegistryUnavailable("class registry is under heavy write contention", self._retry_after)

    def _bump_commands(self) -> list[tuple]:
        return [("INCR", self._k_version), ("SET", self._k_epoch, self._epoch_token, "NX")]

    async def snapshot(self) -> RegistrySnapshot:
        """One MGET when unchanged; full reload in one MULTI when the version moved; stale copy on outage."""
        if time.monotonic() < self._down_until and self._last is not None:
            return dataclasses.replace(self._last, stale=True)
        try:
            key = _key(await self._client.mget(self._k_version, self._k_epoch))
            if self._last is not None and key == self._last_key:
                return self._last
            await self._restore_if_lost(key)
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hgetall(self._k_classes)
                pipe.mget(self._k_version, self._k_epoch)
                raw, counters = await pipe.execute()
        except (*UNAVAILABLE, WatchError) as exc:
            return self._stale(exc)
        records = []
        for cid, value in raw.items():
            record = _parse(value)
            if record is None or record.id != cid.decode("ascii", "replace"):
                log.warning("skipping corrupted registry entry %r", cid)
                continue
            records.append(record)
        self._last_key = _key(counters)
        self._last = RegistrySnapshot(self._last_key[0], sorted_classes(records), False)
        if self._snapshot_path is not None:
            write_snapshot(self._snapshot_path, self._last, self._last_key[1])
        return self._last

    async def _restore_if_lost(self, key: tuple[int, str | None]) -> None:
        baseline, base_key = self._last, self._last_key
        if baseline is None and not self._file_baseline_checked and self._snapshot_path is not None:
            self._file_baseline_checked = True  # a replica restarted after the store lost its data
            loaded = read_snapshot(self._snapshot_path)
            if loaded is not None:
                baseline, base_key = loaded[0], (loaded[0].version, loaded[1])
        if baseline is None or base_key is None or not baseline.classes or not store_lost_data(base_key, key):
            return
        restored = await bounded(lambda: restore_classes(
            self._client, (self._k_classes, self._k_version, self._k_epoch), baseline, self._epoch_token),
            self._write_budget)
        log.error("REGISTRY STORE LOST ITS DATA: store at version %d epoch %s, this replica acknowledged %d "
                  "classes at version %d epoch %s; restored %d missing classes from the snapshot",
                  key[0], key[1], len(baseline.classes), base_key[0], base_key[1], restored)
        if self.on_restore is not None:
            self.on_restore(restored)

    def _stale(self, exc: BaseException) -> RegistrySnapshot:
        err = self._unavailable("snapshot", exc)
        if self._last is None and self._snapshot_path is not None:
            loaded = read_snapshot(self._snapshot_path)
            if loaded is not None:
                self._last = dataclasses.replace(loaded[0], stale=False)
                self._last_key = (loaded[0].version, loaded[1])
                log.warning("serving registry snapshot v%d from %s", loaded[0].version, self._snapshot_path)
        if self._last is None:
            raise err
        return dataclasses.replace(self._last, stale=True)

    def _cond_key(self, bundle_version: str, text_hash: str) -> str:
        check_cache_key(bundle_version, text_hash)
        return f"{self._k_cond}:{bundle_version}:{text_hash}"

    async def get_conditioning(self, bundle_version: str, text_hash: str) -> dict[str, np.ndarray] | None:
        """Cached class-side tensors, or None on miss, corrupted entry or outage (all logged)."""
        key = self._cond_key(bundle_version, text_hash)
        if time.monotonic() < self._down_until:
            return None
        try:
            blob = await bounded(lambda: self._client.get(key), self._cache_budget)
        except (TimeoutError, RedisTimeoutError) as exc:
            self._slow("get_conditioning", exc)
            return None
        except (*UNAVAILABLE, RedisError) as exc:
            self._unavailable("get_conditioning", exc)
            return None
        if blob is None:
            return None
        try:
            return decode_tensors(blob)
        except ConditioningDecodeError as exc:
            log.warning("treating corrupted conditioning %s as a miss: %s", key, exc)
            return None

    async def put_conditioning(self, bundle_version: str, text_hash: str,
                               tensors: dict[str, np.ndarray]) -> None:
        """Best-effort cache write (ValueError only for invalid tensors/keys; store failures are logged)."""
        key = self._cond_key(bundle_version, text_hash)
        blob = encode_tensors(tensors)
        if time.monotonic() < self._down_until:
            return  # the store just failed: do not make the request wait for it again
        try:
            await bounded(lambda: self._client.set(key, blob, ex=self._cond_ttl), self._cache_budget)
        except (TimeoutError, RedisTimeoutError) as exc:
            self._slow("put_conditioning", exc)
        except (*UNAVAILABLE, RedisError) as exc:
            log.warning("could not cache conditioning %s: %s", key, exc)

    async def get_desired_bundle(self) -> dict[str, str] | None:
        """The fleet's desired bundle {"bundle_path", "bundle_version"}, or None (unset, unreadable or outage)."""
        return await read_pointer(self._client, self._k_bundle, (*UNAVAILABLE, RedisError))

    async def set_desired_bundle(self, bundle_path: str, bundle_version: str) -> None:
        """Name the bundle every replica should serve (they poll it); RegistryUnavailable when Redis is down."""
        try:
            await write_pointer(self._client, self._k_bundle, bundle_path, bundle_version)
        except UNAVAILABLE as exc:
            raise self._unavailable("set_desired_bundle", exc) from exc

    async def ping(self) -> bool:
        """True when Redis answers PING within the socket timeout."""
        try:
            return bool(await self._client.ping())
        except (*UNAVAILABLE, RedisError):
            return False

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def _parse(raw: bytes | None) -> ClassRecord | None:
    if raw is None:
        return None
    try:
        return ClassRecord.from_json(raw)
    except ValueError:
        return None


def _key(counters: list[bytes | None]) -> tuple[int, str | None]:
    version, epoch = counters
    return int(version or 0), epoch.decode("ascii", "replace") if epoch is not None else None
