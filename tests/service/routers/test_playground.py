"""GET /playground and its routes: the page and every file it loads come from the app; samples and layouts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from model.layouts import LAYOUTS
from service.app import create_app
from service.playground import samples
from service.routers.playground import STATIC
from service.settings import Settings

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
HTML_ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")
JS_IMPORT = re.compile(r"""(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}/[^'"]+|three[^'"]*)['"]""")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(Settings()))  # not entered: these routes need no bundle


def test_the_page_and_every_file_it_loads_are_served_by_the_app(client: TestClient) -> None:
    page = client.get("/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    importmap = dict(re.findall(r'"(three[^"]*)":\s*"([^"]+)"', page.text))
    pending = [a for a in HTML_ASSET.findall(page.text) if not a.startswith(("data:", "#"))]
    pending += [importmap["three"], importmap["three/addons/"] + "controls/OrbitControls.js"]
    seen: set[str] = set()
    while pending:  # follow the modules' imports, so a missing file anywhere fails here
        url = pending.pop()
        if url in seen or url == "/docs":
            continue
        seen.add(url)
        assert url.startswith("/"), f"{url} is not served by the app"
        answer = client.get(url)
        assert answer.status_code == 200 and answer.content, url
        if url.endswith(".js"):
            assert answer.headers["content-type"].startswith("text/javascript")
            for target in JS_IMPORT.findall(answer.text):
                if target.startswith("three"):
                    resolved = importmap["three"] if target == "three" else target.replace(
                        "three/addons/", importmap["three/addons/"])
                else:
                    resolved = str(Path(url).parent / target).replace("/./", "/")
                    resolved = re.sub(r"/[^/]+/\.\./", "/", resolved)
                pending.append(resolved)
    assert {"/playground/static/vendor/three/three.core.js", "/playground/static/js/viewer.js"} <= seen


def test_our_page_files_name_no_other_host() -> None:
    for path in STATIC.rglob("*"):
        if path.is_file() and "vendor" not in path.parts:
            assert not re.search(r"https?://|//cdn|@import", path.read_text()), path


def test_static_files_stay_inside_the_static_folder(client: TestClient) -> None:
    for path in ("../../app.py", "..%2F..%2Fapp.py", "js/../../samples.py", "nope.js"):
        answer = client.get(f"/playground/static/{path}")
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"


def test_vendored_three_carries_its_licence_and_version() -> None:
    vendor = STATIC / "vendor" / "three"
    assert "MIT License" in (vendor / "LICENSE").read_text()
    version = re.search(r"three (\d+\.\d+\.\d+)", (vendor / "VERSION").read_text()).group(1)
    assert f"REVISION = '{version.split('.')[1]}'" in (vendor / "three.core.js").read_text()


def test_samples_are_listed_and_served_with_their_skeleton(client: TestClient) -> None:
    listed = client.get("/playground/samples").json()["samples"]
    assert [s["name"] for s in listed] == list(samples.SAMPLES)
    for item in listed:
        one = client.get(f"/playground/samples/{item['name']}").json()
        joints = np.asarray(one.pop("skeleton"), dtype=np.float32)
        assert one == item and item["layout"] == "ntu25" and item["fps"] == samples.FPS
        assert np.array_equal(joints, samples.generate(item["name"]))
        assert joints.shape[:2] == (item["persons"], item["frames"])
        assert item["parts"][-1]["end_frame"] == item["frames"] - 1


def test_an_unknown_sample_is_a_404_problem_naming_the_known_ones(client: TestClient) -> None:
    answer = client.get("/playground/samples/nope")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["type"].endswith("/unknown-sample") and all(n in body["detail"] for n in samples.SAMPLES)


def test_layouts_give_every_accepted_layout_its_joints_and_bones(client: TestClient) -> None:
    drawn = client.get("/playground/layouts").json()
    assert set(drawn) == set(LAYOUTS)
    for name, spec in LAYOUTS.items():
        assert drawn[name]["joints"] == list(spec.joints) and drawn[name]["dims"] == spec.dims


def test_the_static_files_ship_in_the_package_and_the_image() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["service.playground"]
    shipped = {p for pattern in patterns for p in STATIC.parent.glob(pattern) if p.is_file()}
    assert shipped == {p for p in STATIC.rglob("*") if p.is_file()}
    ignored = (REPO / ".dockerignore").read_text().split()
    assert not any(rule.strip("/*") in ("service", "static", "service/playground") or rule in ("*.js", "*.html")
                   for rule in ignored)
    assert "COPY service ./service" in (REPO / "docker" / "Dockerfile").read_text()
