"""The OpenAPI document as the service really behaves: problem+json errors, skeleton shapes, limits, links."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from model.config import NUM_CHANNELS, NUM_JOINTS
from model.layouts import LAYOUTS
from service.inputs.examples import detect_examples, recognize_examples
from service.inputs.layout_input import LayoutOptionsIn
from service.inputs.payloads import MAX_PERSONS_IN, NPY_MEDIA_TYPE
from service.settings import Settings

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Problem", "required": ["type", "title", "status", "detail"],
    "description": "RFC 9457 problem details; `type` ends in a stable slug (e.g. .../bad-shape, .../bad-json)",
    "properties": {
        "type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599}, "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["loc", "msg"],
            "properties": {"loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                           "msg": {"type": "string"}, "type": {"type": ["string", "null"]}}}},
    },
}
_RETRY = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_ERRORS = {
    400: ("malformed request: the body is not valid UTF-8 JSON (on /classes and /admin/reload), or uvicorn could not parse the "
          "HTTP request (e.g. a bad Content-Length)", None),
    401: ("API key missing or wrong (only when SCALE_API_KEY is set)",
          {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}),
    403: ("admin routes are disabled: no SCALE_API_KEY is configured", None),
    404: ("no class with this id is registered", None),
    409: ("another bundle reload is in progress; the current bundle keeps serving", _RETRY),
    413: ("request body larger than SCALE_MAX_BODY_BYTES", None),
    415: ("Content-Type is neither JSON nor application/x-npy", None),
    422: ("invalid request; `type` names the rule: bad-json, too-deep, validation-error, bad-shape, "
          "empty-sequence, empty-batch, too-many-frames, too-many-sequences, non-finite, out-of-range, "
          "degenerate-skeleton, bad-npy, empty-text, bad-text, text-too-long, too-many-classes, no-classes, "
          "unknown-candidate, ambiguous-candidate, invalid-request, bad-layout, bad-skeleton, bad-pkummd, "
          "too-many-texts, bundle-rejected, bundle-outside-root, bundle-version-mismatch, text-weights-mismatch, "
          "reload-failed", None),
    429: ("inference queue full", _RETRY),
    500: ("inference failed for a sequence of this request (other requests of its batch are unaffected)", None),
    503: ("service starting, shutting down, or the registry store unreachable for writes", _RETRY),
}
# Every error status each operation can answer (405 for other methods is described by the Allow header).
ROUTE_ERRORS = {
    ("post", "/classes"): (400, 401, 413, 422, 503),
    ("get", "/classes"): (503,),
    ("get", "/classes/{class_id}"): (404, 503),
    ("delete", "/classes/{class_id}"): (401, 404, 503),
    ("post", "/recognize"): (400, 413, 415, 422, 429, 500, 503),
    ("post", "/detect"): (413, 415, 422, 429, 500, 503),
    ("post", "/admin/reload"): (400, 401, 403, 409, 413, 422, 503),
    ("get", "/info"): (503,),
}
TEXT_RULES = ("must hold a visible character (not only spaces or invisible format characters such as U+200B), "
              "no control characters (U+0000-U+001F other than tab/newline, U+007F-U+009F) and no lone "
              "surrogates; blank -> 422 empty-text, otherwise 422 bad-text")


def skeleton_schema(max_frames: int) -> dict[str, Any]:
    """One sequence: (T,25,3) or (M,T,25,3) nested arrays of numbers in metres."""
    coord = {"type": "number", "minimum": -1e6, "maximum": 1e6}
    joint = {"type": "array", "items": coord, "minItems": NUM_CHANNELS, "maxItems": NUM_CHANNELS}
    frame = {"type": "array", "items": joint, "minItems": NUM_JOINTS, "maxItems": NUM_JOINTS}
    frames = {"type": "array", "items": frame, "minItems": 1, "maxItems": max_frames,
              "description": f"(T,{NUM_JOINTS},{NUM_CHANNELS}): T frames of NTU-25 joints (x,y,z)"}
    persons = {"type": "array", "items": frames, "minItems": 1, "maxItems": MAX_PERSONS_IN,
               "description": f"(M,T,{NUM_JOINTS},{NUM_CHANNELS}): up to {MAX_PERSONS_IN} bodies, equal T"}
    return {"anyOf": [frames, persons]}


def _recognize_body(s: Settings) -> dict[str, Any]:
    seq = skeleton_schema(s.max_frames)
    return {
        "type": "object", "title": "RecognizeIn", "additionalProperties": False,
        "description": "exactly one of `skeleton` or `skeletons`; top_k and classes go in the body",
        "oneOf": [{"required": ["skeleton"]}, {"required": ["skeletons"]}],
        "properties": {
            "skeleton": seq,
            "skeletons": {"type": "array", "items": seq, "minItems": 1, "maxItems": s.max_sequences},
            "top_k": {"type": ["integer", "null"], "minimum": 1, "maximum": s.max_classes,
                      "description": f"classes to return (default {s.top_k}); a JSON integer, not a boolean"},
            "classes": {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1,
                        "maxItems": s.max_classes_per_request,
                        "description": "candidate class ids or labels (default: all registered)"},
            **LayoutOptionsIn.model_json_schema()["properties"],  # layout, units, confidence_threshold, mirror
        },
    }


def _text(s: Settings, nullable: bool) -> dict[str, Any]:
    return {"type": ["string", "null"] if nullable else "string", "minLength": 1, "maxLength": s.max_text_chars,
            "description": TEXT_RULES}


def _patch_classes(schemas: dict[str, Any], s: Settings) -> None:
    item = schemas.get("ClassIn", {}).get("properties", {})
    item.update(label=_text(s, False), description=_text(s, True), prompt=_text(s, True))
    body = schemas.get("ClassesIn", {}).get("properties", {}).get("classes")
    if body is not None:
        body.update(maxItems=s.max_classes_per_request, minItems=1)
        for choice in body.get("items", {}).get("anyOf", []):  # a plain label string follows the label's rules
            if choice.get("type") == "string":
                choice.update(_text(s, False))


def _patch_recognize(op: dict[str, Any], s: Settings) -> None:
    content = op["requestBody"]["content"]
    content["application/json"]["schema"] = _recognize_body(s)
    content["application/octet-stream"] = content[NPY_MEDIA_TYPE]
    content["application/json"]["examples"] = recognize_examples(s.max_frames)
    for param in op.get("parameters", []):
        note = " Only with a .npy body; with a JSON body any query parameter is a 422."
        param["description"] = param.get("description", "") + note
        if param["name"] == "top_k":
            param["schema"] = {"type": "integer", "minimum": 1, "maximum": s.max_classes}


def _patch_detect(op: dict[str, Any], s: Settings) -> None:
    """The NTU-25 skeleton shape (other layouts: see `layout`) and a valid example, so that a fuzzer and
    "Try it out" reach the success path, not only 422s."""
    body = op["requestBody"]["content"]["application/json"]
    props = body["schema"].setdefault("properties", {})
    props["skeleton"] = {**skeleton_schema(s.detect_max_frames), "description": props.get("skeleton", {}).get(
        "description", "")}
    props["layout"] = {"anyOf": [{"type": "string", "enum": list(LAYOUTS)}, {"type": "null"}],
                       "description": props.get("layout", {}).get("description", "")}
    body["examples"] = detect_examples(s.detect_max_frames)


def _links(paths: dict[str, Any]) -> None:
    by_id = "$response.body#/classes/0/id"
    ok = paths["/classes"]["post"]["responses"]["200"]
    ok["links"] = {"GetRegisteredClass": {"operationId": paths["/classes/{class_id}"]["get"]["operationId"],
                                          "parameters": {"class_id": by_id}},
                   "DeleteRegisteredClass": {"operationId": paths["/classes/{class_id}"]["delete"]["operationId"],
                                             "parameters": {"class_id": by_id}}}


def _errors(op: dict[str, Any], statuses: tuple[int, ...]) -> None:
    responses = op["responses"]
    for code in [c for c in responses if c[0] in "45"]:
        del responses[code]
    for code in statuses:
        description, headers = _ERRORS[code]
        responses[str(code)] = {"description": description,
                                "content": {"application/problem+json": {"schema": PROBLEM_REF}},
                                **({"headers": headers} if headers else {})}


def build_openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's document, corrected to what the routes send (cached on the app like FastAPI does)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    _patch_classes(schemas, settings)
    paths = doc["paths"]
    _patch_recognize(paths["/recognize"]["post"], settings)
    _patch_detect(paths["/detect"]["post"], settings)
    for (method, path), statuses in ROUTE_ERRORS.items():
        _errors(paths[path][method], statuses)
    _links(paths)
    if settings.api_key is not None:
        doc["components"]["securitySchemes"] = {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                                                "Bearer": {"type": "http", "scheme": "bearer"}}
        for method, path in (("post", "/classes"), ("delete", "/classes/{class_id}"), ("post", "/admin/reload")):
            paths[path][method]["security"] = [{"ApiKey": []}, {"Bearer": []}]
        paths["/info"]["get"]["security"] = [{}, {"ApiKey": []}, {"Bearer": []}]  # optional: the key adds paths
    app.openapi_schema = doc
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve build_openapi's document at /openapi.json."""
    app.openapi = lambda: build_openapi(app, app.state.settings)  # type: ignore[method-assign]
