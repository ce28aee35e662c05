"""Parsing of long sequences for /detect and /streams: JSON, .npy or PKU-MMD text, plus detection options."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, ValidationError

from model.pkummd import PkuMmdFormatError, parse_skeleton_text
from model.segments import DetectOptions
from model.windows import WindowSpec
from service.inputs.layout_input import LayoutOptions, LayoutOptionsIn
from service.inputs.payloads import NPY_MEDIA_TYPE, Limits, check_skeleton, load_json_body, load_npy_body
from service.inputs.rules import check_not_empty
from service.problems import Problem, invalid
from service.settings import Settings

TEXT_MEDIA_TYPE = "text/plain"  # a PKU-MMD skeleton file: one frame a line, 150 numbers
DETECT_LIMIT_HINT = " (SCALE_DETECT_MAX_FRAMES); split the sequence into several requests"


class DetectOptionsIn(LayoutOptionsIn):
    """Detection options (JSON body fields, query parameters with a .npy / text body, /streams start message)."""

    window: int | None = Field(None, ge=8, description="window length in frames (default SCALE_DETECT_WINDOW, 128)")
    stride: int | None = Field(None, ge=1, description="frames between window starts (default SCALE_DETECT_STRIDE, 32)")
    classes: list[str] | None = Field(None, description="candidate class ids or labels (default: all)")
    smooth: int = Field(3, ge=1, le=31, description="moving average over this many consecutive windows")
    threshold: float | None = Field(None, description="open-set energy threshold (default: the bundle's)")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="best softmax score below it = background")
    nms_iou: float = Field(0.5, gt=0.0, le=1.0, description="per-class temporal NMS IoU")
    include_windows: bool = Field(False, description="also return every window's best class")


class DetectIn(DetectOptionsIn):
    """JSON body of POST /detect: one long sequence (T,V,C) or (M,T,V,C) of the layout, and options."""

    skeleton: Any = Field(..., description="one long sequence, (T,V,C) or (M,T,V,C) nested lists of the layout "
                          "(ntu25: (T,25,3))")


@dataclass(frozen=True)
class DetectRequest:
    """A validated /detect request."""

    joints: np.ndarray  # (M,T,25,3) float32
    spec: WindowSpec
    options: DetectOptionsIn
    notes: tuple[str, ...] = ()  # about the input: joint order, units, plausibility

    def detect_options(self, threshold: float | None) -> DetectOptions:
        """model.segments options with the effective open-set threshold."""
        o = self.options
        return DetectOptions(smooth=o.smooth, threshold=threshold, min_score=o.min_score, nms_iou=o.nms_iou,
                             min_frames=1)


def check_sequence(arr: Any, opts: LayoutOptions, limits: Limits, loc: list[str | int],
                   notes: list[str] | None = None, mapped: bool = True) -> np.ndarray:
    """The single place where a posted long sequence is validated and mapped onto NTU-25 (M,T,25,3).

    mapped=False: validated but left in the layout (a /streams chunk, mapped with its connection's rules).
    """
    return check_skeleton(arr, limits, loc, DETECT_LIMIT_HINT, opts=opts, notes=notes, mapped=mapped)


def detect_limits(limits: Limits, settings: Settings) -> Limits:
    """The request limits with the long-sequence frame limit of /detect."""
    return dataclasses.replace(limits, max_frames=settings.detect_max_frames)


def window_spec(options: DetectOptionsIn, settings: Settings) -> WindowSpec:
    """The window length/stride of a request (settings' defaults); 422 when stride exceeds length."""
    length = options.window or settings.detect_window
    stride = options.stride or min(settings.detect_stride, length)
    try:
        return WindowSpec(length, stride)
    except ValueError as exc:
        raise invalid(str(exc), loc=["stride"], kind="bad-window") from exc


def _validation_problem(exc: ValidationError, where: str) -> Problem:
    errors = [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    return Problem(422, "validation-error", f"request validation failed: {text}", errors=errors)


def parse_options(query: dict[str, Any]) -> DetectOptionsIn:
    """Options given as query parameters (classes may repeat)."""
    try:
        return DetectOptionsIn.model_validate(query)
    except ValidationError as exc:
        raise _validation_problem(exc, "query") from exc


def parse_sequence(body: bytes, media: str, limits: Limits, opts: LayoutOptions,
                   notes: list[str] | None = None) -> np.ndarray:
    """A .npy or PKU-MMD text body -> validated (M,T,25,3) float32."""
    check_not_empty(body)
    if media == TEXT_MEDIA_TYPE:
        try:
            arr: Any = parse_skeleton_text(body.decode("ascii"), "body", max_frames=limits.max_frames)
        except (PkuMmdFormatError, UnicodeDecodeError) as exc:
            raise invalid(f"body is not a PKU-MMD skeleton text: {exc}", loc=["body"], kind="bad-pkummd") from exc
    else:
        arr = load_npy_body(body)
    return check_sequence(arr, opts, limits, ["body"], notes)


def parse_detect(body: bytes, media: str, query: dict[str, Any], limits: Limits,
                 settings: Settings) -> DetectRequest:
    """Parse a /detect body of any accepted media type into a DetectRequest."""
    limits = detect_limits(limits, settings)
    notes: list[str] = []
    if media in (NPY_MEDIA_TYPE, "application/octet-stream", TEXT_MEDIA_TYPE):
        options = parse_options(query)
        joints = parse_sequence(body, media, limits, options.layout_options(["query"]), notes)
    else:
        if query:
            raise invalid("with a JSON body give the options in the body, not the query", loc=["query"])
        data = load_json_body(body)
        try:
            req = DetectIn.model_validate(data, strict=True)  # JSON types as the schema says (query: strings)
        except ValidationError as exc:
            raise _validation_problem(exc, "body") from exc
        options = DetectOptionsIn.model_validate(req.model_dump(exclude={"skeleton"}))
        joints = check_sequence(req.skeleton, options.layout_options(["body"]), limits, ["body", "skeleton"], notes)
    if options.classes is not None and len(options.classes) > limits.max_classes:
        raise invalid(f"{len(options.classes)} candidate classes, more than the limit of {limits.max_classes}",
                      loc=["classes"], kind="too-many-classes")
    return DetectRequest(joints, window_spec(options, settings), options, tuple(notes))
