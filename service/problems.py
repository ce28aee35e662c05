"""RFC 9457 problem+json errors: one exception type and the handlers that render every error as one."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.registry.base import RegistryUnavailable

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
PROBLEM_BASE = "https://scale.example/problems/"
_TITLES = {
    400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
    413: "Payload too large", 415: "Unsupported media type", 422: "Invalid request", 429: "Too many requests",
    500: "Internal server error", 503: "Service unavailable",
}


class Problem(Exception):
    """An error the API reports as an RFC 9457 problem; raise it anywhere inside a request."""

    def __init__(self, status: int, kind: str, detail: str, *, title: str | None = None,
                 errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.errors = errors
        self.headers = headers or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document (type, title, status, detail, instance, errors)."""
        doc: dict[str, Any] = {"type": PROBLEM_BASE + self.kind, "title": self.title,
                               "status": self.status, "detail": self.detail}
        if instance:
            doc["instance"] = instance
        if self.errors:
            doc["errors"] = self.errors
        return _encodable(doc)


def _encodable(value: Any) -> Any:
    """Escape lone surrogates echoed from the request (e.g. a field name) so the body encodes as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encodable(v) for v in value]
    return value


def invalid(detail: str, *, loc: list[str | int] | None = None, kind: str = "invalid-request") -> Problem:
    """A 422 problem with one entry in `errors` naming the offending field."""
    return Problem(422, kind, detail, errors=[{"loc": loc or [], "msg": detail}])


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """Render a Problem as an application/problem+json response."""
    return JSONResponse(problem.body(instance), status_code=problem.status, headers=problem.headers,
                        media_type=PROBLEM_MEDIA_TYPE)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
            for err in exc.errors()]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this request's path (for the Allow header of a 405)."""
    routes = request.app.router.routes
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]


def install_problem_handlers(app: FastAPI) -> None:
    """Route Problem, FastAPI validation errors, HTTP errors and crashes through problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        # Malformed JSON gets the same problem type on every route (/recognize parses its own body).
        kind = "bad-json" if any(e["type"] == "json_invalid" for e in errors) else "validation-error"
        return problem_response(Problem(422, kind, f"request validation failed: {where}",
                                        errors=errors), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        kind = _TITLES.get(exc.status_code, "error").lower().replace(" ", "-")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route of the path; list every one
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(Problem(exc.status_code, kind, detail, headers=headers), request.url.path)

    async def on_registry_down(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RegistryUnavailable)
        return problem_response(Problem(503, "registry-unavailable", f"{exc}; nothing was changed, retry later",
                                        headers={"Retry-After": str(exc.retry_after)}), request.url.path)

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "internal-error", f"internal error: {type(exc).__name__}"),
                                request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RegistryUnavailable, on_registry_down)
    app.add_exception_handler(Exception, on_crash)
