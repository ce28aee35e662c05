"""Does a Redis answer a client that sends no credentials? (The start-up guard in service/security.py.)"""

from __future__ import annotations

import logging

import redis
from redis.exceptions import AuthenticationError, ResponseError

log = logging.getLogger("service.registry")
_CREDENTIALS = ("username", "password", "credential_provider")


def answers_without_auth(url: str, timeout_s: float) -> bool | None:
    """True when PING succeeds on a connection to `url` stripped of its credentials, False when Redis asks for
    them (NOAUTH), None when it cannot be reached (nothing can be concluded)."""
    pool = redis.ConnectionPool.from_url(url)
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k not in _CREDENTIALS}
    kwargs.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    bare = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
    try:
        return bool(bare.ping())
    except AuthenticationError:
        return False
    except ResponseError as exc:  # some servers word it as a plain error
        if "NOAUTH" in str(exc).upper():
            return False
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        log.warning("cannot check whether Redis requires a password (%s); checked again at the next start", exc)
        return None
    finally:
        bare.close()
        pool.disconnect()
