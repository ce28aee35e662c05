"""The playground in a real browser: headless Chromium loads the page from a live service and the rendered
ranking, detect timeline, stream events and 3D view are checked against the API's own answers."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx as _httpx
import numpy as np
import pytest
from PIL import Image

from model.pkummd import read_pkummd_skeleton
from model.skeleton_io import read_skeleton
from service.playground.samples import generate
from tests.service.playground.browser_support import (
    API_KEY,
    CHROMIUM_ARGS,
    Traffic,
    chromium_path,
    live_service,
)
from tests.service.svc_support import LABELS

pytestmark = pytest.mark.integration
KEY = {"X-API-Key": API_KEY}
httpx = _httpx.Client(timeout=120)  # registering computes text conditionings: slow on a busy CPU
WINDOW, STRIDE = 64, 16


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    chromium_path()
    with live_service() as url:
        classes = [{"label": label} for label in LABELS[:4]]
        classes.append({"label": "drink water", "descriptions": ["hand brought to the mouth"],
                        "texts": ["a person drinks from a cup"]})
        assert httpx.post(f"{url}/classes", json={"classes": classes}, headers=KEY).status_code == 200
        yield url


@pytest.fixture(scope="module")
def browser(service: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, service: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    traffic = Traffic()
    context.on("request", lambda request: traffic.urls.append(request.url))
    tab = context.new_page()
    tab.on("websocket", lambda ws: traffic.urls.append(ws.url))
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert traffic.urls, "no request recorded"
    assert traffic.foreign(service) == [], "the page reached another host"
    assert errors == [], errors


def finish(page, action: str) -> None:
    """Wait until the page marks `action` done; fail with what the page shows otherwise."""
    page.wait_for_selector(f"body[data-{action}]:not([data-{action}=busy])", timeout=90_000)
    state = page.get_attribute("body", f"data-{action}")
    assert state == "done", page.text_content("main")[-2000:]


def use_key(page) -> None:
    page.fill("#api-key", API_KEY)
    page.click("#key-form button[type=submit]")


def rows(page, selector: str) -> list[dict[str, str]]:
    return page.eval_on_selector_all(selector, "els => els.map(e => ({...e.dataset}))")


def test_deep_link_loads_the_sample_and_renders_the_apis_ranking(page, service: str) -> None:
    page.goto(f"{service}/playground?sample=waving")
    finish(page, "recognize")
    sample = httpx.get(f"{service}/playground/samples/waving").json()
    want = httpx.post(f"{service}/recognize", json={"skeleton": sample["skeleton"], "top_k": 5,
                                                     "layout": "ntu25"}).json()
    shown = rows(page, "#ranking-table tbody tr")
    assert [r["label"] for r in shown] == [r["label"] for r in want["results"]]
    assert [r["classId"] for r in shown] == [r["class_id"] for r in want["results"]]
    for got, expected in zip(shown, want["results"], strict=True):
        for name in ("energy", "score", "uncertainty"):
            assert float(got[name]) == pytest.approx(expected[name], rel=1e-6, abs=1e-9)
    verdict = page.text_content("#open-set")
    assert ("accepted" if want["open_set"]["accepted"] else "rejected") in verdict
    names = [o for o in page.eval_on_selector_all("#sample option", "os => os.map(o => o.value)") if o]
    assert names == [s["name"] for s in httpx.get(f"{service}/playground/samples").json()["samples"]]


def test_an_uploaded_file_gets_the_apis_detect_timeline_and_stream_windows(page, service: str,
                                                                           tmp_path: Path) -> None:
    joints = generate("wave-then-drink")
    path = tmp_path / "long.npy"
    np.save(path, joints)
    query = {"window": WINDOW, "stride": STRIDE, "layout": "ntu25", "include_windows": "true"}
    npy = {"content": path.read_bytes(), "headers": {"Content-Type": "application/x-npy"}}
    scored = httpx.post(f"{service}/detect", params=query, **npy).json()["windows"]
    threshold = float(np.median([w["energy"] for w in scored]))  # some windows above it, some below
    page.goto(f"{service}/playground")
    page.wait_for_selector("body[data-ready=true]")
    page.set_input_files("#file", str(path))
    page.fill("#window", str(WINDOW))
    page.fill("#stride", str(STRIDE))
    page.fill("#threshold", repr(threshold))
    page.click("#detect")
    finish(page, "detect")
    answer = httpx.post(f"{service}/detect", params={**query, "threshold": threshold}, **npy).json()
    blocks = rows(page, "#lane-detect .block")
    segments = [(int(b["start"]), int(b["end"]), b["label"], float(b["score"])) for b in blocks
                if b["kind"] == "segment"]
    background = [(int(b["start"]), int(b["end"])) for b in blocks if b["kind"] == "background"]
    assert segments == [(s["start_frame"], s["end_frame"], s["label"], pytest.approx(s["score"]))
                        for s in answer["segments"]]
    assert background == [(s["start_frame"], s["end_frame"]) for s in answer["background"]]
    assert segments and background  # the threshold splits the sequence

    # the timeline and the animation move together: a click on a block shows one of its frames
    first = page.locator("#lane-detect .block").first
    first.click()
    frame = int(page.input_value("#scrub"))
    assert int(first.get_attribute("data-start")) <= frame <= int(first.get_attribute("data-end"))
    cursor = page.eval_on_selector("#timeline-cursor", "c => parseFloat(c.style.left)")
    assert cursor == pytest.approx(100 * (frame + 0.5) / joints.shape[1], abs=1e-3)  # CSS keeps 4 decimals

    use_key(page)  # with SCALE_API_KEY set, /streams needs it (sent in the start message)
    page.select_option("#stream-fps", "300")
    page.click("#stream")
    finish(page, "stream")
    windows = [(int(w["start"]), int(w["end"])) for w in rows(page, "#stream-log li[data-type=window]")][::-1]
    assert windows == [(w["start_frame"], w["end_frame"]) for w in answer["windows"]]
    assert page.locator("#stream-log li[data-type=end]").count() == 1

    page.click("#recognize")
    finish(page, "recognize")
    page.eval_on_selector("#scrub", "s => { s.value = 150; s.dispatchEvent(new Event('input')); }")  # waving
    assert page.text_content("#frame").startswith("frame 150 ")
    shot = page.locator("#view").screenshot()
    pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))
    background_colour = np.median(pixels.reshape(-1, 3), axis=0)
    drawn = np.abs(pixels.astype(int) - background_colour).sum(axis=2) > 60
    assert drawn.mean() > 0.002, "the 3D view is blank"
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 120)  # left-side bones
    orange = (pixels[..., 0] > 180) & (pixels[..., 2] < 120)  # right-side bones
    assert blue.sum() > 20 and orange.sum() > 20
    target = os.environ.get("SCALE_PLAYGROUND_SCREENSHOT")
    if target:  # docs/images/playground.png is made this way (docs/service.md, "GET /playground")
        picture = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        picture.convert("RGB").quantize(colors=64).save(target, optimize=True)  # small enough for git


def test_the_api_key_is_sent_and_problems_are_shown_as_the_api_sent_them(page, service: str) -> None:
    page.goto(f"{service}/playground")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#class-form [name=label]", "clapping twice")
    page.click("#class-form button[type=submit]")
    page.wait_for_selector("#problem-classes:not([hidden])")
    refused = httpx.post(f"{service}/classes", json={"classes": [{"label": "clapping twice"}]})
    assert refused.status_code == 401
    assert json.loads(page.text_content("#problem-classes .problem-body")) == refused.json()

    use_key(page)
    assert page.input_value("#api-key") == ""  # kept in memory, not left in the field
    page.fill("#class-form textarea[name=texts]", "two claps\nhands meet twice")
    page.click("#class-form button[type=submit]")
    page.wait_for_selector("#classes-table tr[data-id] >> text=clapping twice")
    registered = {c["label"]: c for c in httpx.get(f"{service}/classes").json()["classes"]}
    row = page.locator("#classes-table tr", has_text="clapping twice")
    assert row.get_attribute("data-id") == registered["clapping twice"]["id"]
    assert row.locator("li").all_text_contents() == registered["clapping twice"]["texts"]
    assert len(registered["clapping twice"]["texts"]) == 3

    row.locator("button.delete").click()
    page.wait_for_selector("#classes-table tr >> text=clapping twice", state="detached")
    labels = {c["label"] for c in httpx.get(f"{service}/classes").json()["classes"]}
    assert "clapping twice" not in labels
    assert page.locator("#classes-table tr[data-id]").count() == len(labels)


READ_IN_PAGE = """async ([reader, name, text, b64]) => {
  const formats = await import('/playground/static/js/formats.js');
  const input = b64 ? Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer : text;
  const seq = formats[reader](input, name);
  return {shape: seq.shape, data: Array.from(seq.data)};
}"""


def read_in_page(page, reader: str, name: str, text: str = "", raw: bytes = b"") -> np.ndarray:
    got = page.evaluate(READ_IN_PAGE, [reader, name, text, base64.b64encode(raw).decode()])
    return np.asarray(got["data"], dtype=np.float32).reshape(got["shape"])


def test_the_page_reads_files_as_the_python_readers_do(page, service: str, shared_data: Path) -> None:
    page.goto(f"{service}/playground")
    page.wait_for_selector("body[data-ready=true]")
    raw = shared_data / "skeletons"
    for name in ("S001C001P001R001A011", "S001C003P008R002A058"):  # one body; two bodies
        path = raw / "ntu60_raw" / f"{name}.skeleton"
        want = read_skeleton(path).joints
        assert np.array_equal(read_in_page(page, "parseNtuSkeleton", path.name, path.read_text()), want)
    path = raw / "pkummd_raw" / "A10N08-L.txt"
    got = read_in_page(page, "parsePkuMmd", path.name, path.read_text())
    assert np.array_equal(got, read_pkummd_skeleton(path))
    for array in (generate("drinking"), generate("waving")[0].astype(np.float64)):
        buffer = io.BytesIO()
        np.save(buffer, array)
        got = read_in_page(page, "parseNpy", "clip.npy", raw=buffer.getvalue())
        want = array if array.ndim == 4 else array[None]
        assert np.array_equal(got, want.astype(np.float32))
