"""The fleet's bundle pointer in Redis: `{prefix}:bundle = {"bundle_path", "bundle_version", "set_at"}`.

Replicas follow it (service/engine/reload.py), but only load a path under their own SCALE_BUNDLE_ROOT.
"""

from __future__ import annotations

import json
import logging
import time

import redis.asyncio as aioredis

log = logging.getLogger(__name__)


async def read_pointer(client: aioredis.Redis, key: str,
                       unavailable: tuple[type[BaseException], ...]) -> dict[str, str] | None:
    """{"bundle_path", "bundle_version"} from `key`, or None when unset, unreadable or Redis is down."""
    try:
        raw = await client.get(key)
    except unavailable as exc:
        log.debug("cannot read %s: %s", key, exc)
        return None
    try:
        value = json.loads(raw) if raw is not None else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("bundle_path", "bundle_version")):
        return None
    return {"bundle_path": value["bundle_path"], "bundle_version": value["bundle_version"]}


async def write_pointer(client: aioredis.Redis, key: str, bundle_path: str, bundle_version: str) -> None:
    """Name the bundle every replica should serve (connection errors propagate to the caller)."""
    await client.set(key, json.dumps({"bundle_path": bundle_path, "bundle_version": bundle_version,
                                      "set_at": time.time()}))
