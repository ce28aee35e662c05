"""Class registry routes: register (idempotent), list, get, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from model.text import make_prompt
from service.deps import get_state, require_api_key
from service.payloads import ClassesIn, ClassList, ClassOut, check_text
from service.problems import Problem, invalid
from service.registry import ClassRecord, RegistryFull

router = APIRouter(tags=["classes"])
_WRITE_ERRORS = {401: {"description": "API key missing or wrong"},
                 503: {"description": "registry store unreachable for writes (Retry-After)"}}


def _out(record: ClassRecord) -> ClassOut:
    return ClassOut(id=record.id, label=record.label, description=record.description, prompt=record.prompt,
                    created_at=record.created_at)


def build_records(body: ClassesIn, request: Request) -> list[ClassRecord]:
    """Validate texts and build records (prompt = explicit, or template + label [+ description])."""
    state = get_state(request)
    limits = state.limits
    if len(body.classes) > limits.max_classes:
        raise invalid(f"{len(body.classes)} classes in one request, more than the limit of {limits.max_classes}",
                      loc=["body", "classes"], kind="too-many-classes")
    template = state.bundle.manifest.text.prompt_template
    records = []
    for i, item in enumerate(body.classes):
        check_text(item.label, "label", i, limits)
        check_text(item.description, "description", i, limits)
        check_text(item.prompt, "prompt", i, limits)
        prompt = make_prompt(item.label, item.description, template=template, prompt=item.prompt)
        if len(prompt) > limits.max_text_length:
            raise invalid(f"classes[{i}] prompt '{prompt[:40]}...' has {len(prompt)} characters, more than "
                          f"the limit of {limits.max_text_length}", loc=["body", "classes", i],
                          kind="text-too-long")
        records.append(ClassRecord.create(item.label.strip(), prompt, item.description))
    return records


@router.post("/classes", response_model=ClassList, dependencies=[Depends(require_api_key)],
             responses=_WRITE_ERRORS)
async def register_classes(body: ClassesIn, request: Request) -> ClassList:
    """Register action classes; the same text always gets the same id (idempotent across replicas)."""
    state = get_state(request)
    records = build_records(body, request)
    # Conditionings first: once a replica sees the class, its tensors are already in the shared cache.
    await state.conditioner.rows(records)
    try:  # RegistryUnavailable -> 503 + Retry-After (service.problems)
        stored = await state.registry.add(records)
    except RegistryFull as exc:
        raise invalid(str(exc), loc=["body", "classes"], kind="too-many-classes") from exc
    snap = await state.snapshot()
    return ClassList(classes=[_out(r) for r in stored], registry_version=snap.version, count=len(stored))


@router.get("/classes", response_model=ClassList)
async def list_classes(request: Request) -> ClassList:
    """All registered classes (from the last snapshot when the store is down)."""
    snap = await get_state(request).snapshot()
    return ClassList(classes=[_out(r) for r in snap.classes], registry_version=snap.version,
                     count=len(snap.classes), stale=snap.stale)


@router.get("/classes/{class_id}", response_model=ClassOut, responses={404: {"description": "unknown id"}})
async def get_class(class_id: str, request: Request) -> ClassOut:
    """One registered class."""
    record = (await get_state(request).snapshot()).get(class_id)
    if record is None:
        raise Problem(404, "unknown-class", f"no class with id {class_id!r} is registered")
    return _out(record)


@router.delete("/classes/{class_id}", status_code=204, dependencies=[Depends(require_api_key)],
               responses={404: {"description": "unknown id"}, **_WRITE_ERRORS})
async def delete_class(class_id: str, request: Request) -> Response:
    """Remove a class (204); 404 when it is not registered."""
    state = get_state(request)
    removed = await state.registry.remove(class_id)  # RegistryUnavailable -> 503 (service.problems)
    if not removed:
        raise Problem(404, "unknown-class", f"no class with id {class_id!r} is registered")
    await state.snapshot()
    return Response(status_code=204)
