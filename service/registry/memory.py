"""In-process registry: the embedded default when no REDIS_URL is configured (one replica only)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from service.registry.base import (
    ClassRecord,
    RegistryFull,
    RegistrySnapshot,
    check_cache_key,
    dedupe,
    is_class_id,
    sorted_classes,
)
from service.registry.conditioning import decode_tensors, encode_tensors


class MemoryRegistry:
    """Dict-backed registry with the same semantics as RedisRegistry (never stale, never unavailable)."""

    def __init__(self, max_classes: int | None = None, max_cached_conditionings: int = 4096) -> None:
        self._classes: dict[str, ClassRecord] = {}
        self._version = 0
        self._max_classes = max_classes
        # Encoded bytes, not arrays: callers get fresh copies and the cache has the same failure modes as Redis.
        self._cond: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._max_cond = max_cached_conditionings
        self._snapshot: RegistrySnapshot | None = None

    async def add(self, records: list[ClassRecord]) -> list[ClassRecord]:
        """Atomically register a batch; existing ids return the stored record; version bumps only if new."""
        batch = dedupe(records)
        new = [r for r in batch if r.id not in self._classes]
        if self._max_classes is not None and len(self._classes) + len(new) > self._max_classes:
            raise RegistryFull(f"registry holds {len(self._classes)} classes; adding {len(new)} would exceed "
                               f"max_classes={self._max_classes}", self._max_classes)
        # No await between the check and the writes: the batch is atomic with respect to other tasks.
        for record in new:
            self._classes[record.id] = record
        if new:
            self._version += 1
        by_id = {r.id: self._classes[r.id] for r in batch}
        return [by_id[r.id] for r in batch]

    async def remove(self, class_id: str) -> bool:
        """Delete a class; False when unknown; bumps the version when removed."""
        if not is_class_id(class_id) or class_id not in self._classes:
            return False
        del self._classes[class_id]
        self._version += 1
        return True

    async def snapshot(self) -> RegistrySnapshot:
        """Current class set (rebuilt only when the version changed)."""
        if self._snapshot is None or self._snapshot.version != self._version:
            self._snapshot = RegistrySnapshot(self._version, sorted_classes(self._classes.values()), False)
        return self._snapshot

    async def get_conditioning(self, bundle_version: str, text_hash: str) -> dict[str, np.ndarray] | None:
        """Cached class-side tensors for (bundle, text), or None on miss."""
        check_cache_key(bundle_version, text_hash)
        blob = self._cond.get((bundle_version, text_hash))
        if blob is None:
            return None
        self._cond.move_to_end((bundle_version, text_hash))
        return decode_tensors(blob)

    async def put_conditioning(self, bundle_version: str, text_hash: str,
                               tensors: dict[str, np.ndarray]) -> None:
        """Cache the tensors (LRU-bounded)."""
        check_cache_key(bundle_version, text_hash)
        self._cond[(bundle_version, text_hash)] = encode_tensors(tensors)
        self._cond.move_to_end((bundle_version, text_hash))
        while len(self._cond) > self._max_cond:
            self._cond.popitem(last=False)

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def close(self) -> None:
        """Nothing to release."""
