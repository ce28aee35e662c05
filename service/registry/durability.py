"""Durable acknowledgements: a registry write is acknowledged only once Redis holds it in its append-only file.

Redis >= 7.2 answers WAITAOF: after the transaction the registry waits (on the same connection, so the wait
covers that write) until the local AOF was fsynced. Older servers (Debian 12 ships 7.0) have no WAITAOF; there
the shipped `appendfsync always` makes every write reach disk before Redis replies, and the registry checks
that setting once and warns when it cannot confirm it (docs/registry.md, "Durable acknowledgements").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import ResponseError, WatchError

log = logging.getLogger("service.registry")
# WAITAOF's own timeout: covers `appendfsync everysec`'s one-second fsync cycle; `always` answers at once.
WAITAOF_MS = 1500
Mode = Literal["waitaof", "appendfsync-always", "unconfirmed", "off"]


class NotDurable(Exception):
    """The write was applied but Redis did not confirm it reached the append-only file on disk."""


@dataclass(frozen=True)
class Durability:
    """How this registry makes an acknowledged write durable, and why."""

    mode: Mode
    detail: str

    @property
    def waits(self) -> bool:
        """True when each write waits for WAITAOF before it is acknowledged."""
        return self.mode == "waitaof"


async def _has_waitaof(client: aioredis.Redis) -> bool:
    try:  # asking for nothing answers at once where the command exists (forks report other version numbers)
        await client.execute_command("WAITAOF", 0, 0, 0)
    except ResponseError:
        return False
    return True


async def _appendfsync(client: aioredis.Redis) -> str | None:
    try:
        answer = await client.config_get("appendfsync")
    except ResponseError:  # CONFIG renamed away or denied by an ACL
        return None
    value = answer.get("appendfsync") if isinstance(answer, dict) else None
    return value.decode() if isinstance(value, bytes) else value


async def probe(client: aioredis.Redis, enabled: bool = True) -> Durability:
    """Ask the server once: AOF on? WAITAOF known? Otherwise is appendfsync `always`?"""
    if not enabled:
        return Durability("off", "SCALE_REDIS_DURABLE_ACKS=false: writes are acknowledged once Redis applied "
                                 "them, without waiting for the disk")
    server, persistence = await client.info("server"), await client.info("persistence")
    version = str(server.get("redis_version", "?"))
    if not int(persistence.get("aof_enabled", 0)):
        return Durability("unconfirmed", f"Redis {version} runs without the append-only file (appendonly no): "
                                         "an acknowledged class is lost if Redis dies before its next snapshot")
    if await _has_waitaof(client):
        return Durability("waitaof", f"Redis {version}: each write waits for WAITAOF 1 0 (local AOF fsynced)")
    fsync = await _appendfsync(client)
    if fsync == "always":
        return Durability("appendfsync-always", f"Redis {version} has no WAITAOF; appendfsync always "
                                                "fsyncs every write before Redis replies")
    said = "cannot be read (CONFIG denied)" if fsync is None else f"is {fsync!r}"
    return Durability("unconfirmed", f"Redis {version} has no WAITAOF and appendfsync {said}: a class "
                                     "acknowledged in the last second before a machine crash can be lost; "
                                     "run Redis with --appendfsync always (as the shipped configs do)")


def report(durability: Durability) -> None:
    """Log the outcome once: info when writes are durable, a warning when they cannot be confirmed."""
    level = logging.WARNING if durability.mode == "unconfirmed" else logging.INFO
    log.log(level, "registry write durability: %s (%s)", durability.mode, durability.detail)


async def commit(conn: Any, commands: list[tuple[Any, ...]], timeout_s: float, wait_aof: bool) -> list[Any]:
    """MULTI, commands, EXEC (and WAITAOF) in one round trip on the connection that WATCH holds.

    WatchError when a watched key moved; NotDurable when the AOF fsync was not confirmed in time.
    """
    tail = [("WAITAOF", 1, 0, WAITAOF_MS)] if wait_aof else []
    try:
        await conn.send_packed_command(conn.pack_commands([("MULTI",), *commands, ("EXEC",), *tail]))
        for _ in range(len(commands) + 1):  # +OK for MULTI, +QUEUED per command
            await conn.read_response()
        result = await conn.read_response()
        local = (await conn.read_response(timeout=WAITAOF_MS / 1000 + timeout_s))[0] if tail else 1
    except ResponseError as exc:
        if tail and ("WAITAOF" in str(exc).upper() or "appendonly" in str(exc)):
            raise NotDurable(f"Redis refused WAITAOF: {exc}") from exc  # AOF switched off since the probe
        await conn.disconnect()
        raise
    except BaseException:
        await conn.disconnect()  # replies may be left unread: this connection must not be reused
        raise
    if result is None:
        raise WatchError("a watched key changed")
    if int(local) < 1:
        raise NotDurable(f"Redis did not confirm the append-only file fsync within {WAITAOF_MS} ms")
    return result
