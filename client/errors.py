"""Typed errors raised by the SCALE client: one class per HTTP failure family, built from RFC 9457 bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx


class ScaleError(Exception):
    """Base class of every error the client raises."""


class ScaleConnectionError(ScaleError):
    """The service could not be reached (refused connection, DNS failure, timeout)."""


class ScaleAPIError(ScaleError):
    """The service answered with an error status; carries the RFC 9457 problem fields."""

    def __init__(self, status: int, title: str, detail: str | None = None, *, type_: str = "about:blank",
                 problem: dict[str, Any] | None = None, retry_after: float | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.problem = problem or {}
        self.retry_after = retry_after
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))


class BadRequestError(ScaleAPIError):
    """400: the request could not be understood."""


class AuthenticationError(ScaleAPIError):
    """401/403: missing or wrong API key for a write route."""


class NotFoundError(ScaleAPIError):
    """404: unknown class id or route."""


class PayloadTooLargeError(ScaleAPIError):
    """413: body over the service's size limit."""


class UnsupportedMediaTypeError(ScaleAPIError):
    """415: the body's Content-Type is not accepted."""


class ValidationError(ScaleAPIError):
    """422: bad skeleton shape, NaN/Inf values, too many frames, bad class text."""


class RateLimitedError(ScaleAPIError):
    """429: the service is overloaded; retry after `retry_after` seconds."""


class ServiceUnavailableError(ScaleAPIError):
    """503: not ready, or Redis unreachable for writes; retry after `retry_after` seconds."""


class ServerError(ScaleAPIError):
    """Any other 5xx answer."""


_BY_STATUS: dict[int, type[ScaleAPIError]] = {
    400: BadRequestError, 401: AuthenticationError, 403: AuthenticationError, 404: NotFoundError,
    413: PayloadTooLargeError, 415: UnsupportedMediaTypeError, 422: ValidationError, 429: RateLimitedError,
    503: ServiceUnavailableError,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP date; callers fall back to their own back-off


def _detail_text(detail: Any) -> str | None:
    # FastAPI's default 422 puts a list of {loc, msg} dicts in `detail`: flatten it into one readable line.
    if detail is None or isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", ()))
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return json.dumps(detail)


def error_from_response(response: httpx.Response) -> ScaleAPIError:
    """Build the typed error for a non-2xx response, reading a problem+json body when there is one."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    problem = body if isinstance(body, dict) else {}
    title = problem.get("title") or response.reason_phrase or "HTTP error"
    detail = _detail_text(problem.get("detail"))
    if detail is None and not problem and response.text:
        detail = response.text[:500]
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ScaleAPIError)
    return cls(status, str(title), detail, type_=str(problem.get("type", "about:blank")), problem=problem,
               retry_after=_retry_after(response))
