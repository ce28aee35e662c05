"""POST /detect: actions in a long untrimmed sequence (JSON, .npy or PKU-MMD text)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from service.deps import get_state
from service.engine.text_columns import text_columns
from service.inputs.detect_payloads import TEXT_MEDIA_TYPE, DetectIn, parse_detect
from service.inputs.notices import answer_notices
from service.inputs.payloads import NPY_MEDIA_TYPE
from service.problems import Problem
from service.routers.recognize import resolve_candidates
from service.untrimmed.detect import DetectOut, run_detection

router = APIRouter(tags=["recognition"])

_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": DetectIn.model_json_schema()},
    NPY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary",
                                "description": ".npy array (T,V,C) or (M,T,V,C) of the `layout` "
                                "(default ntu25: (T,25,3)); options in the query"}},
    TEXT_MEDIA_TYPE: {"schema": {"type": "string", "description": "PKU-MMD skeleton text (150 numbers a line); "
                                 "options in the query"}},
}}}
_MEDIA = ("application/json", NPY_MEDIA_TYPE, "application/octet-stream", TEXT_MEDIA_TYPE)


def _query(request: Request) -> dict[str, object]:
    params = request.query_params
    return {key: params.getlist(key) if key == "classes" else params[key] for key in params}


@router.post("/detect", response_model=DetectOut, response_model_exclude_none=True, openapi_extra=_BODY_DOC,
             responses={413: {"description": "body too large"}, 415: {"description": "unsupported media type"},
                        422: {"description": "invalid sequence or options"},
                        429: {"description": "queue full (Retry-After)"}})
async def detect(request: Request) -> DetectOut:
    """Slide windows over a long sequence and return action segments and background stretches."""
    state = get_state(request)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in _MEDIA and not media.endswith("+json"):
        raise Problem(415, "unsupported-media-type", f"Content-Type {media!r} is not supported; send "
                      f"application/json, {NPY_MEDIA_TYPE} or {TEXT_MEDIA_TYPE} (PKU-MMD skeleton text)")
    body = await request.body()
    req = await run_in_threadpool(parse_detect, body, media, _query(request), state.limits, state.settings)
    snap = await state.snapshot()
    records = resolve_candidates(snap, req.options.classes)
    rows = await text_columns(records, state.conditioner, state.settings.text_aggregation)
    result = await run_detection(state, req, records, rows)
    return DetectOut(**result, bundle_version=state.bundle.version, registry_version=snap.version,
                     demo=True if state.demo else None, **answer_notices(state.warning, *req.notes))
