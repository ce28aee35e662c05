"""POST /recognize: validate, resolve candidates, preprocess, micro-batch, rank by energy."""

from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from model.preprocess import SkeletonShapeError, preprocess_batch, to_encoder_input
from model.presence import has_person
from model.text_aggregate import RULES
from service.deps import ServiceState, get_state, use_model
from service.engine.batcher import BatcherClosed, QueueFull
from service.engine.isolation import raise_if_failed
from service.engine.model_state import ModelState
from service.engine.open_set import open_set_field
from service.engine.text_columns import fold, text_columns
from service.inputs.layout_input import MIRROR_DOC, layout_options
from service.inputs.notices import answer_notices
from service.inputs.payloads import (
    NPY_MEDIA_TYPE,
    BatchRecognizeOut,
    RecognizeIn,
    RecognizeOut,
    RecognizeRequest,
    ResultItem,
    parse_json_request,
    parse_npy_request,
)
from service.problems import Problem, invalid
from service.registry import ClassRecord, RegistrySnapshot

router = APIRouter(tags=["recognition"])

_BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": RecognizeIn.model_json_schema()},
    NPY_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary",
                                "description": ".npy array (T,V,C), (M,T,V,C) or a batch (N,M,T,V,C) "
                                               "of the `layout` query parameter (default ntu25: V=25, C=3)"}},
}}}


def resolve_candidates(snap: RegistrySnapshot, wanted: list[str] | None) -> list[ClassRecord]:
    """Candidate records: all registered classes, or the given ids/labels (422 for unknown or ambiguous)."""
    if not snap.classes:
        raise Problem(422, "no-classes", "no classes are registered: POST /classes first")
    if wanted is None:
        return list(snap.classes)
    by_id = {r.id: r for r in snap.classes}
    chosen: dict[str, ClassRecord] = {}
    for i, name in enumerate(wanted):
        record = by_id.get(name)
        if record is None:
            matches = [r for r in snap.classes if r.label == name]
            if not matches:
                raise invalid(f"classes[{i}]: {name!r} is neither a registered class id nor a label",
                              loc=["classes", i], kind="unknown-candidate")
            if len(matches) > 1:
                raise invalid(f"classes[{i}]: label {name!r} matches {len(matches)} classes; give an id "
                              f"({', '.join(r.id for r in matches)})", loc=["classes", i],
                              kind="ambiguous-candidate")
            record = matches[0]
        chosen.setdefault(record.id, record)
    if not chosen:
        raise invalid("classes must name at least one class (or be omitted for all)", loc=["classes"])
    return list(chosen.values())


def prepare(req: RecognizeRequest, state: ServiceState | ModelState) -> np.ndarray:
    """The training preprocessing, then the encoder layout (N,3,T',25,2); 422 when it cannot be normalised."""
    empty = [i for i, seq in enumerate(req.sequences) if not has_person(seq)]
    if empty:
        which = "the sequence" if not req.batched else f"sequence(s) {empty}"
        raise invalid(f"nobody is in view in any frame of {which}: every joint is zero, non-finite or under the "
                      "confidence threshold, so there is no action to recognize", loc=["body"], kind="no-person")
    try:
        x = to_encoder_input(preprocess_batch(req.sequences, state.preprocess))
    except SkeletonShapeError as exc:
        raise invalid(f"skeleton rejected by preprocessing: {exc}", loc=["body"], kind="bad-shape") from exc
    bad = ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if bad.any():
        raise invalid(f"sequence(s) {np.flatnonzero(bad).tolist()} cannot be normalised (degenerate joints)",
                      loc=["body"], kind="degenerate-skeleton")
    return x


def rank(energy: np.ndarray, uncertainty: np.ndarray, records: list[ClassRecord], top_k: int,
         temperature: float) -> tuple[list[ResultItem], float]:
    """Rank one sequence's candidates by energy; score = softmax(-energy / temperature) over all of them."""
    e = energy.astype(np.float64)
    logits = -e / temperature
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(e, kind="stable")
    items = [ResultItem(class_id=records[j].id, label=records[j].label, energy=float(e[j]), score=float(p[j]),
                        uncertainty=float(uncertainty[j])) for j in order[:top_k]]
    return items, float(uncertainty[order[0]])


async def _parse(request: Request, top_k: int | None, classes: list[str] | None, state: ServiceState,
                 layout_query: tuple[str | None, str | None, float | None, bool | None] = (None, None, None, None),
                 aggregation: str | None = None) -> RecognizeRequest:
    body = await request.body()
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media in (NPY_MEDIA_TYPE, "application/octet-stream"):
        k = top_k if top_k is not None else state.limits.default_top_k
        opts = layout_options(*layout_query[:3], ["query"], layout_query[3])
        req = await run_in_threadpool(parse_npy_request, body, k, classes, state.limits, opts)
        return dataclasses.replace(req, threshold=_query_threshold(request))
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(415, "unsupported-media-type", f"Content-Type {media!r} is not supported; send "
                      f"application/json or {NPY_MEDIA_TYPE}")
    if top_k is not None or classes is not None or aggregation is not None or any(
            v is not None for v in layout_query) or "open_set_threshold" in request.query_params:
        raise invalid("with a JSON body give top_k, classes, aggregation, open_set_threshold and the layout options "
                      "(layout, units, confidence_threshold, mirror) in the body, not the query", loc=["query"])
    return await run_in_threadpool(parse_json_request, body, state.limits)


@router.post("/recognize", response_model=RecognizeOut | BatchRecognizeOut, response_model_exclude_none=True,
             openapi_extra=_BODY_DOC, responses={413: {"description": "body too large"},
                                                 422: {"description": "invalid skeleton or options"},
                                                 429: {"description": "queue full (Retry-After)"}})
async def recognize(request: Request, model: Annotated[ModelState, Depends(use_model)],
                    top_k: Annotated[int | None, Query(description=".npy bodies: classes to return")] = None,
                    classes: Annotated[list[str] | None, Query(description=".npy bodies: candidate ids/labels")]
                    = None,
                    layout: Annotated[str | None, Query(description=".npy bodies: joint layout (GET /info)")] = None,
                    units: Annotated[str | None, Query(description=".npy bodies: m, cm, mm (3D) or px (2D)")] = None,
                    confidence_threshold: Annotated[float | None, Query(description=".npy bodies: missing-joint "
                                                                        "threshold")] = None,
                    mirror: Annotated[bool | None, Query(description=".npy bodies: " + MIRROR_DOC)] = None,
                    aggregation: Annotated[Literal[RULES] | None, Query(  # type: ignore[valid-type]
                        description=".npy bodies: how a class's text energies fold into one")] = None,
                    ) -> RecognizeOut | BatchRecognizeOut:
    """Rank registered classes (or the given candidates) for one or several skeleton sequences."""
    state = get_state(request)  # `model` is taken once: rows and scores come from one bundle across a reload
    req = await _parse(request, top_k, classes, state, (layout, units, confidence_threshold, mirror),
                       aggregation)
    rule = req.aggregation or aggregation or state.settings.text_aggregation
    snap = await state.snapshot()  # cheap version check: classes added on another replica are seen now
    records = resolve_candidates(snap, req.classes)
    columns = await text_columns(records, model.conditioner, rule)
    x = await run_in_threadpool(prepare, req, model)
    try:
        energy, uncertainty = await model.batcher.submit(x, columns.keys, columns.rows)
    except QueueFull as exc:
        raise Problem(429, "queue-full", str(exc), headers={"Retry-After": str(exc.retry_after)}) from exc
    except BatcherClosed as exc:
        raise Problem(503, "shutting-down", str(exc), headers={"Retry-After": "1"}) from exc
    raise_if_failed(energy, uncertainty)  # this request's sequence failed inside a merged run (isolation.py)
    energy, uncertainty = fold(energy, uncertainty, columns, rule)
    temperature = model.bundle.manifest.score_temperature
    ranked = [rank(energy[i], uncertainty[i], records, req.top_k, temperature) for i in range(len(x))]
    common = {"bundle_version": model.version, "registry_version": snap.version,
              "demo": True if model.demo else None,
              **answer_notices(model.warning, *req.notes)}
    gates = [open_set_field(model, r[0].energy, req.threshold) for r, _ in ranked]
    if req.batched:
        return BatchRecognizeOut(results=[r for r, _ in ranked], uncertainty=[u for _, u in ranked],
                                 open_set=gates, **common)
    return RecognizeOut(results=ranked[0][0], uncertainty=ranked[0][1], open_set=gates[0], **common)


def _query_threshold(request: Request) -> float | None:
    """?open_set_threshold= for .npy bodies (422 when it is not a number)."""
    raw = request.query_params.get("open_set_threshold")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise invalid(f"open_set_threshold must be a finite number, got {raw!r}", loc=["query", "open_set_threshold"])
    return value
