"""Open-writes policy: warn whenever write routes need no key, refuse to expose them beyond loopback."""

from __future__ import annotations

import ipaddress
import logging
import re

log = logging.getLogger("service")
ALLOW_OPEN_WRITES_ENV = "SCALE_ALLOW_OPEN_WRITES"


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback IP literals (127.0.0.0/8, ::1); any other name counts as exposed."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_writes_error(host: str, has_key: bool, allow_open_writes: bool) -> str | None:
    """Why this combination must not start (None when it may): open writes on a non-loopback address."""
    if has_key or allow_open_writes or is_loopback(host):
        return None
    return (f"SCALE_HOST={host} is not a loopback address and SCALE_API_KEY is unset, so anyone who can reach "
            "the port could register and delete classes. Set SCALE_API_KEY (from an env file or a secret), "
            f"bind 127.0.0.1, or set {ALLOW_OPEN_WRITES_ENV}=true to accept open writes explicitly")


def warn_if_open(host: str, has_key: bool) -> bool:
    """Log a warning when write routes are open (no API key); True when it warned."""
    if has_key:
        return False
    log.warning("WRITES ARE OPEN: SCALE_API_KEY is unset, so POST /classes and DELETE /classes/{id} need no "
                "key (bound to %s). Set SCALE_API_KEY before exposing the service.", host)
    return True


ALLOW_UNAUTHENTICATED_REDIS_ENV = "SCALE_ALLOW_UNAUTHENTICATED_REDIS"


def open_redis_error(has_key: bool, allow_unauthenticated: bool, answers_without_auth: bool | None) -> str | None:
    """Why a key-protected service must not start on this Redis (None when it may): Redis needs no password.

    Whoever reaches such a Redis can rewrite the registry and the fleet's bundle pointer, bypassing the key.
    """
    if not has_key or allow_unauthenticated or not answers_without_auth:
        return None
    return ("SCALE_API_KEY protects the write routes, but the Redis in REDIS_URL answers without a password, so "
            "anyone who reaches Redis can rewrite the registry and the bundle pointer. Give Redis a password or "
            "an ACL user (requirepass / --user) and put it in the URL (redis://:PASSWORD@host:6379/0 or "
            f"rediss:// for TLS), or set {ALLOW_UNAUTHENTICATED_REDIS_ENV}=true to accept this explicitly")


_SECRET_IN_URL = re.compile(r"((?:api_key|apikey|key|token|password)=)[^&\s\"']*", re.I)


class RedactSecretsInUrls(logging.Filter):
    """Masks `api_key=...` (and similar) query values in log records: uvicorn logs a WebSocket's path with its
    query string, so a client that put the key in the URL must not put it in the server's log as well."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _SECRET_IN_URL.sub(r"\1[redacted]", record.msg)
        return True


def redact_urls_in_server_logs() -> None:
    """Install RedactSecretsInUrls on uvicorn's loggers once per process."""
    for name in ("uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsInUrls) for f in logger.filters):
            logger.addFilter(RedactSecretsInUrls())
