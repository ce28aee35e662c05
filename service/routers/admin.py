"""Admin routes: hot reload of the model bundle (API key required; refused when no key is configured)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from service.deps import get_state, require_api_key
from service.engine.reload import ReloadFailed
from service.problems import Problem

router = APIRouter(tags=["admin"])


class ReloadIn(BaseModel):
    """Body of POST /admin/reload."""

    model_config = ConfigDict(extra="forbid")
    bundle_path: str | None = Field(None, min_length=1, max_length=4096,
                                    description="bundle directory on the server (default: SCALE_BUNDLE_PATH)")
    # strict: a JSON body says true or false; 0, 1 or "yes" are refused, not guessed
    fleet: bool = Field(True, strict=True, description="with Redis: name it as the bundle every replica should serve")


class ReloadOut(BaseModel):
    """A finished reload: the bundle serving now and the one it replaced."""

    status: str = Field(..., description="'reloaded', or 'unchanged' when that version already serves")
    bundle_version: str
    previous_version: str
    bundle_path: str
    seconds: float
    classes: int = Field(..., description="registered classes conditioned for the new bundle before the swap")
    texts: int
    published: bool = Field(..., description="named in Redis as the fleet's bundle (the replicas follow it)")


def require_admin_key(request: Request) -> None:
    """Admin routes need a configured API key: loading a bundle must never be open to anyone."""
    if get_state(request).settings.api_key is None:
        raise Problem(403, "admin-disabled", "admin routes are disabled because no API key is configured; "
                      "set SCALE_API_KEY", title="Forbidden")
    require_api_key(request)


@router.post("/admin/reload", response_model=ReloadOut, dependencies=[Depends(require_admin_key)],
             responses={401: {"description": "API key missing or wrong"},
                        403: {"description": "no API key configured: admin routes disabled"},
                        409: {"description": "another reload is in progress"},
                        422: {"description": "bundle rejected; the old one keeps serving"},
                        503: {"description": "registry unreachable; the old bundle keeps serving"}})
async def reload_bundle(body: ReloadIn, request: Request) -> ReloadOut:
    """Load, verify, warm and condition another bundle directory, then swap it in atomically."""
    state = get_state(request)
    try:
        result = await state.reloader.reload(body.bundle_path, source="admin", publish=body.fleet)
    except ReloadFailed as exc:
        headers = {"Retry-After": str(state.settings.retry_after_s)} if exc.status in (409, 503) else None
        raise Problem(exc.status, exc.kind, f"bundle reload failed, still serving {state.model.version}: "
                      f"{exc.reason}", title="Bundle reload failed", headers=headers) from exc
    return ReloadOut(**result.__dict__)
