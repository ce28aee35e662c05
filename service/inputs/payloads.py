"""Request/response models and the parsing + validation of posted skeletons (JSON lists or a .npy body)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.inputs.layout_input import (
    NTU25,
    LayoutOptions,
    LayoutOptionsIn,
    check_layout_shape,
    convert,
)
from service.inputs.rules import check_json_depth, check_not_empty, check_npy_magic, check_text_chars
from service.problems import Problem, invalid

NPY_MEDIA_TYPE = "application/x-npy"
MAX_PERSONS_IN = 4  # body slots a sequence may carry; preprocessing keeps the 2 most active


@dataclass(frozen=True)
class Limits:
    """Request limits enforced by the API (from Settings)."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_frames: int = 1200
    max_sequences: int = 64
    max_classes: int = 1000
    max_text_length: int = 300
    max_top_k: int = 1000
    default_top_k: int = 5


class ClassIn(BaseModel):
    """One class to register: a label plus an optional description or explicit prompt."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(..., examples=["drink water"])
    description: str | None = Field(None, examples=["lifting a cup to the mouth"])
    prompt: str | None = Field(None, description="explicit text; overrides template + description")
    descriptions: list[str] | None = Field(None, description="more texts, each template(label) + '. ' + it")
    texts: list[str] | None = Field(None, description="more texts, used verbatim")


class ClassesIn(BaseModel):
    """Body of POST /classes: class objects, or plain labels as strings (as the client and CLI accept)."""

    model_config = ConfigDict(extra="forbid")
    classes: list[ClassIn | str] = Field(..., min_length=1, description="class objects or plain label strings")


class ClassOut(BaseModel):
    """A registered class."""

    id: str
    label: str
    description: str | None = None
    prompt: str
    created_at: float
    texts: list[str] = Field(default_factory=list, description="every text of the class, the prompt first")


class ClassList(BaseModel):
    """Registered classes and the registry version they belong to."""

    classes: list[ClassOut]
    registry_version: int
    count: int
    stale: bool = Field(False, description="true when served from the last snapshot while Redis is down")


class RecognizeIn(LayoutOptionsIn):
    """JSON body of POST /recognize: exactly one of `skeleton` or `skeletons` (plus the layout options)."""

    model_config = ConfigDict(extra="forbid")
    skeleton: Any = Field(None, description="one sequence, (T,V,C) or (M,T,V,C) of the layout "
                    "(ntu25: (T,25,3) or (M,T,25,3))")
    skeletons: list[Any] | None = Field(None, description="several sequences, each (T,V,C) or (M,T,V,C)")
    top_k: int | None = Field(None, ge=1, strict=True, description="classes to return (default: SCALE_TOP_K, 5)")
    classes: list[str] | None = Field(None, description="candidate class ids or labels (default: all)")
    aggregation: Literal["logmeanexp", "min", "mean_conditioning"] | None = Field(
        None, description="how a class's text energies fold into one (default: SCALE_TEXT_AGGREGATION)")
    open_set_threshold: float | None = Field(None, description="energy threshold overriding the bundle's")


class ResultItem(BaseModel):
    """One ranked class for one sequence."""

    class_id: str
    label: str
    energy: float
    score: float
    uncertainty: float


class RecognizeOut(BaseModel):
    """Answer for one sequence (`skeleton` or a .npy body of rank 3/4)."""

    results: list[ResultItem]
    uncertainty: float
    open_set: dict[str, Any] | None = Field(None, description="{accepted, threshold, source} for the best class")
    bundle_version: str
    registry_version: int
    demo: bool | None = None
    warning: str | None = Field(None, description="every warning as one text of whole sentences")
    warnings: list[str] | None = Field(None, description="each warning on its own (demo bundle, units)")


class BatchRecognizeOut(BaseModel):
    """Answer for several sequences (`skeletons` or a rank-5 .npy body): one list per sequence."""

    results: list[list[ResultItem]]
    uncertainty: list[float]
    open_set: list[dict[str, Any]] | None = Field(None, description="per sequence: {accepted, threshold, source}")
    bundle_version: str
    registry_version: int
    demo: bool | None = None
    warning: str | None = Field(None, description="every warning as one text of whole sentences")
    warnings: list[str] | None = Field(None, description="each warning on its own (demo bundle, units)")


@dataclass(frozen=True)
class RecognizeRequest:
    """A validated recognize request: float32 sequences (M,T,25,3) and options."""

    sequences: list[np.ndarray]
    batched: bool
    top_k: int
    classes: list[str] | None
    notes: tuple[str, ...] = ()  # about the input: joint order, units, plausibility
    aggregation: str | None = None  # None: the service's SCALE_TEXT_AGGREGATION
    threshold: float | None = None  # open-set override


LONG_SEQUENCE_HINT = ("; for a long untrimmed sequence use POST /detect, which slides windows (window, stride) "
                      "over up to SCALE_DETECT_MAX_FRAMES frames")


def check_skeleton(value: Any, limits: Limits, loc: list[str | int], too_long_hint: str = LONG_SEQUENCE_HINT,
                   *, opts: LayoutOptions = NTU25, notes: list[str] | None = None,
                   mapped: bool = True) -> np.ndarray:
    """Validate one sequence of `opts.layout`, return it as float32 NTU (M,T,25,3); 422 naming the issue.

    Warnings about the input (joint order, units, plausibility) are appended to `notes` when it is given.
    mapped=False returns the validated float64 (M,T,V,C) of the layout instead (a stream maps it later).
    """
    where = ".".join(str(p) for p in loc)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise invalid(f"{where} must be a rectangular nested list of numbers ({exc})", loc=loc) from exc
    if arr.dtype.kind not in "fiu":
        # strings, booleans, nulls and ragged lists all end up here: never coerce them to numbers
        raise invalid(f"{where} must be a rectangular nested list of numbers (got {_kind_name(arr)})", loc=loc)
    if arr.size == 0:
        raise invalid(f"{where} has no frames (empty, shape {list(arr.shape)})",
                      loc=loc, kind="empty-sequence")
    arr = arr.astype(np.float64, copy=False)
    check_layout_shape(arr, opts, where, loc)
    if arr.ndim == 3:
        arr = arr[None]
    persons, frames = arr.shape[:2]
    if persons > MAX_PERSONS_IN and 1 <= frames <= MAX_PERSONS_IN:
        v, c = arr.shape[2:]
        raise invalid(f"{where} has shape {list(arr.shape)}: the axes look swapped ((T,M,{v},{c}) with {persons} "
                      f"frames of {frames} persons); send (M,T,{v},{c}), e.g. np.transpose(a, (1, 0, 2, 3))",
                      loc=loc, kind="bad-shape")
    if not 1 <= persons <= MAX_PERSONS_IN:
        raise invalid(f"{where} must have 1..{MAX_PERSONS_IN} persons, got {persons}", loc=loc, kind="bad-shape")
    if frames == 0:
        raise invalid(f"{where} has no frames", loc=loc, kind="empty-sequence")
    if frames > limits.max_frames:
        raise invalid(f"{where} has {frames} frames, more than the limit of {limits.max_frames}{too_long_hint}",
                      loc=loc, kind="too-many-frames")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = [int(i) for i in np.argwhere(bad)[0]]
        raise invalid(f"{where} contains {int(bad.sum())} NaN/Inf values (first at [m,t,v,c]={first})",
                      loc=loc, kind="non-finite")
    if np.abs(arr).max() > 1e6:
        raise invalid(f"{where} has coordinates beyond 1e6 (expected metres)", loc=loc, kind="out-of-range")
    if mapped:
        return convert(arr, opts, where, loc, notes)
    if notes is not None:  # a stream chunk: warnings from this chunk alone; the connection maps it later
        try:
            convert(arr, opts, where, loc, notes)
        except Problem:
            pass
    return arr


def _kind_name(arr: np.ndarray) -> str:
    names = {"U": "strings", "S": "bytes", "b": "booleans", "O": "nulls, objects or ragged lists"}
    return names.get(arr.dtype.kind, f"dtype {arr.dtype}")


def _check_count(sequences: list[Any], limits: Limits, loc: list[str | int]) -> None:
    if not sequences:
        raise invalid("skeletons must contain at least one sequence", loc=loc, kind="empty-batch")
    if len(sequences) > limits.max_sequences:
        raise invalid(f"{len(sequences)} sequences in one request, more than the limit of "
                      f"{limits.max_sequences}", loc=loc, kind="too-many-sequences")


def _check_options(top_k: int, classes: list[str] | None, limits: Limits) -> None:
    if top_k < 1 or top_k > limits.max_top_k:
        raise invalid(f"top_k must be in 1..{limits.max_top_k}, got {top_k}", loc=["top_k"])
    if classes is not None and len(classes) > limits.max_classes:
        raise invalid(f"{len(classes)} candidate classes, more than the limit of {limits.max_classes}",
                      loc=["classes"], kind="too-many-classes")


def load_json_body(body: bytes) -> Any:
    """A JSON body, refused before parsing when empty (422 `empty-body`), nested too deep (`too-deep`) or
    malformed (`bad-json`)."""
    check_not_empty(body)
    check_json_depth(body)
    try:
        return orjson.loads(body)  # C, several times faster on number arrays
    except orjson.JSONDecodeError:
        pass  # what orjson refuses (NaN literals, huge integers, lone surrogates, UTF-16) the stdlib decides
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid(f"body is not valid JSON: {exc}", loc=["body"], kind="bad-json") from exc


def parse_json_request(body: bytes, limits: Limits) -> RecognizeRequest:
    """Parse and validate a JSON recognize body."""
    data = load_json_body(body)
    try:
        req = RecognizeIn.model_validate(data, strict=True)  # JSON types as the schema says: no false -> 0.0
    except ValidationError as exc:
        errors = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        raise Problem(422, "validation-error", f"request validation failed: {where}", errors=errors) from exc
    if (req.skeleton is None) == (req.skeletons is None):
        raise invalid("give exactly one of 'skeleton' (one sequence) or 'skeletons' (a list)", loc=["body"])
    top_k = req.top_k if req.top_k is not None else limits.default_top_k
    _check_options(top_k, req.classes, limits)
    opts = req.layout_options(["body"])
    notes: list[str] = []
    if req.skeletons is not None:
        _check_count(req.skeletons, limits, ["body", "skeletons"])
        seqs = [check_skeleton(s, limits, ["body", "skeletons", i], opts=opts, notes=notes)
                for i, s in enumerate(req.skeletons)]
        return RecognizeRequest(seqs, True, top_k, req.classes, notes=tuple(notes),
                                aggregation=req.aggregation, threshold=req.open_set_threshold)
    seqs = [check_skeleton(req.skeleton, limits, ["body", "skeleton"], opts=opts, notes=notes)]
    return RecognizeRequest(seqs, False, top_k, req.classes, notes=tuple(notes),
                            aggregation=req.aggregation, threshold=req.open_set_threshold)


def _npy_view(body: bytes) -> np.ndarray:
    """The body's array as a read-only view of its bytes (no copy); np.load's path for anything unusual."""
    from numpy.lib import format as npy_format

    stream = io.BytesIO(body)
    version = npy_format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        return np.load(io.BytesIO(body), allow_pickle=False)
    read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("object arrays need pickles, which are refused")
    count = int(np.prod(shape, dtype=np.int64))
    if len(body) - stream.tell() != count * dtype.itemsize:
        raise ValueError(f"data holds {len(body) - stream.tell()} bytes, the header says {count} x {dtype.itemsize}")
    flat = np.frombuffer(body, dtype=dtype, count=count, offset=stream.tell())
    return flat.reshape(shape[::-1]).T if fortran_order else flat.reshape(shape)


def load_npy_body(body: bytes) -> np.ndarray:
    """A .npy body as an array of real numbers, never unpickled; 422 `empty-body` / `bad-npy` otherwise."""
    check_not_empty(body)
    check_npy_magic(body)
    try:
        arr = _npy_view(body)
    except Exception as exc:  # numpy raises ValueError, EOFError, OSError, ... for malformed files
        raise invalid(f"body is not a readable .npy array without pickles: {exc}", loc=["body"],
                      kind="bad-npy") from exc
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiu":
        raise invalid(f".npy array must hold real numbers, got dtype {getattr(arr, 'dtype', '?')}",
                      loc=["body"], kind="bad-npy")
    return arr


def parse_npy_request(body: bytes, top_k: int, classes: list[str] | None, limits: Limits,
                      opts: LayoutOptions = NTU25) -> RecognizeRequest:
    """Parse a .npy body: rank 3/4 is one sequence, rank 5 (N,M,T,V,C) a batch."""
    _check_options(top_k, classes, limits)
    arr = load_npy_body(body)
    notes: list[str] = []
    if arr.ndim == 5:
        _check_count(list(arr), limits, ["body"])
        seqs = [check_skeleton(s, limits, ["body", i], opts=opts, notes=notes) for i, s in enumerate(arr)]
        return RecognizeRequest(seqs, True, top_k, classes, notes=tuple(notes))
    seqs = [check_skeleton(arr, limits, ["body"], opts=opts, notes=notes)]
    return RecognizeRequest(seqs, False, top_k, classes, notes=tuple(notes))


def check_text(value: str | None, name: str, index: int, limits: Limits) -> None:
    """Refuse blank or oversized class text (None = not given) with a 422 naming the field."""
    loc: list[str | int] = ["body", "classes", index, name]
    if value is None:
        return
    check_text_chars(value, f"classes[{index}].{name}", loc)
    if not value.strip():
        raise invalid(f"classes[{index}].{name} must not be empty", loc=loc, kind="empty-text")
    if len(value) > limits.max_text_length:
        raise invalid(f"classes[{index}].{name} has {len(value)} characters, more than the limit of "
                      f"{limits.max_text_length}", loc=loc, kind="text-too-long")
