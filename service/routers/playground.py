"""GET /playground: a page, served by the app itself, that drives the API from a browser; its samples and files.

The page (service/playground/static) is a client of the documented routes like any other; the routes here only
serve the page, its static files (vendored libraries included, so it works offline), the generated sample
motions and the bones to draw for each layout.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from model.layouts import LAYOUTS
from service.playground import samples
from service.playground.bones import layout_drawing
from service.problems import Problem

router = APIRouter(tags=["playground"])
STATIC = Path(__file__).resolve().parent.parent / "playground" / "static"
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# a free string path parameter has no validation error to document (FastAPI would add a 422 otherwise)
_NOT_FOUND = {404: {"description": "no such sample or file", "content": _PROBLEM},
              "4XX": {"description": "any other client error, e.g. 405", "content": _PROBLEM}}


class SampleInfo(BaseModel):
    """One shipped sample motion."""

    name: str
    description: str
    layout: str = Field(description="joint layout of `skeleton` (always ntu25: generated NTU-25 motion)")
    fps: int
    frames: int
    persons: int
    parts: list[dict[str, Any]] = Field(description="what happens when: action, start_frame, end_frame "
                                                    "(inclusive)")


class SampleList(BaseModel):
    """The names GET /playground/samples/{name} and /playground?sample=NAME accept."""

    samples: list[SampleInfo]


class SampleOut(SampleInfo):
    """A sample with its skeleton, ready to post to /recognize, /detect or /streams."""

    skeleton: list[Any] = Field(description="(M,T,25,3) nested lists, metres, NTU-25 joint order")


def _info(name: str) -> SampleInfo:
    sample, joints = samples.SAMPLES[name], samples.generate(name)
    parts = [{"action": a, "start_frame": s, "end_frame": e} for a, s, e in samples.part_frames(sample)]
    return SampleInfo(name=name, description=sample.description, layout="ntu25", fps=samples.FPS,
                      frames=joints.shape[1], persons=joints.shape[0], parts=parts)


@router.get("/playground", response_class=HTMLResponse, summary="The playground page")
async def playground_page() -> FileResponse:
    """An HTML page to register classes, load a sample or a file, and see /recognize, /detect and /streams
    answer (`?sample=NAME` loads that sample and runs recognition)."""
    return FileResponse(STATIC / "index.html", media_type=_MEDIA[".html"])


@router.get("/playground/samples", response_model=SampleList)
async def list_samples() -> SampleList:
    """The sample motions the service ships (generated, licence-free)."""
    return SampleList(samples=[_info(name) for name in samples.SAMPLES])


@functools.cache
def _sample_body(name: str) -> bytes:
    """The JSON answer for one sample, built once (the long sample is 45,000 numbers)."""
    body = SampleOut(**_info(name).model_dump(), skeleton=samples.generate(name).tolist())
    return json.dumps(body.model_dump(), separators=(",", ":")).encode()


@router.get("/playground/samples/{name}", response_model=SampleOut, responses=_NOT_FOUND)
async def get_sample(name: str) -> Response:
    """One sample motion with its skeleton; 404 for an unknown name."""
    if name not in samples.SAMPLES:
        raise Problem(404, "unknown-sample", f"no sample named {name!r}; GET /playground/samples lists "
                      f"{', '.join(samples.SAMPLES)}")
    return Response(_sample_body(name), media_type="application/json")


@router.get("/playground/layouts")
async def layouts() -> dict[str, dict[str, Any]]:
    """Joint names, bones, spatial dims and axes of every layout the API accepts (for drawing)."""
    return {name: layout_drawing(name) for name in LAYOUTS}


@router.get("/playground/static/{path:path}", include_in_schema=False, responses=_NOT_FOUND)
async def static_file(path: str) -> FileResponse:
    """A file of the page (scripts, styles, vendored libraries and their licences); nothing outside it."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC) or not target.is_file():
        raise Problem(404, "not-found", f"no playground file {path!r}")
    return FileResponse(target, media_type=_MEDIA.get(target.suffix, "application/octet-stream"))
