"""Class registry routes: register (idempotent), list, get, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from model.text import make_prompt
from service.deps import get_state, require_api_key
from service.inputs.payloads import ClassesIn, ClassIn, ClassList, ClassOut, Limits, check_text
from service.problems import Problem, invalid
from service.registry import ClassRecord, RegistryFull

router = APIRouter(tags=["classes"])
_WRITE_ERRORS = {401: {"description": "API key missing or wrong"},
                 503: {"description": "registry store unreachable for writes (Retry-After)"}}


def _out(record: ClassRecord) -> ClassOut:
    return ClassOut(id=record.id, label=record.label, description=record.description, prompt=record.prompt,
                    created_at=record.created_at, texts=list(record.all_texts))


def class_texts(item: ClassIn, i: int, template: str, limits: Limits, max_texts: int) -> list[str]:
    """The texts of one class: its prompt (explicit, or template + label [+ description]), then one text per
    entry of `descriptions` (template + label + '. ' + it), then `texts` verbatim."""
    check_text(item.label, "label", i, limits)
    check_text(item.description, "description", i, limits)
    check_text(item.prompt, "prompt", i, limits)
    extra = [(name, j, value) for name in ("descriptions", "texts") for j, value in
             enumerate(getattr(item, name) or [])]
    for name, j, value in extra:
        check_text(value, f"{name}[{j}]", i, limits)
    texts = [make_prompt(item.label, item.description, template=template, prompt=item.prompt)]
    texts += [make_prompt(item.label, value, template=template) if name == "descriptions" else value.strip()
              for name, _, value in extra]
    if len(texts) > max_texts:
        raise invalid(f"classes[{i}] has {len(texts)} texts, more than the limit of {max_texts} "
                      "(SCALE_MAX_TEXTS_PER_CLASS)", loc=["body", "classes", i], kind="too-many-texts")
    for text in texts:
        if len(text) > limits.max_text_length:
            raise invalid(f"classes[{i}] text '{text[:40]}...' has {len(text)} characters, more than "
                          f"the limit of {limits.max_text_length}", loc=["body", "classes", i],
                          kind="text-too-long")
    return texts


def build_records(body: ClassesIn, request: Request) -> list[ClassRecord]:
    """Validate texts and build records (id = content hash of the class's normalised text set)."""
    items = [item if isinstance(item, ClassIn) else ClassIn(label=item) for item in body.classes]
    state = get_state(request)
    limits = state.limits
    if len(body.classes) > limits.max_classes:
        raise invalid(f"{len(body.classes)} classes in one request, more than the limit of {limits.max_classes}",
                      loc=["body", "classes"], kind="too-many-classes")
    template = state.bundle.manifest.text.prompt_template
    return [ClassRecord.create(item.label.strip(), class_texts(item, i, template, limits,
                                                                 state.settings.max_texts_per_class),
                               item.description)
            for i, item in enumerate(items)]


@router.post("/classes", response_model=ClassList, dependencies=[Depends(require_api_key)],
             responses=_WRITE_ERRORS)
async def register_classes(body: ClassesIn, request: Request) -> ClassList:
    """Register action classes; the same text always gets the same id (idempotent across replicas)."""
    state = get_state(request)
    records = build_records(body, request)
    # Conditionings first: once a replica sees the class, its tensors are already in the shared cache.
    await state.conditioner.text_rows([t for r in records for t in r.all_texts])
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
