"""POST /recognize with COCO-17 and MediaPipe-33 skeletons end to end, layout errors, the units warning, /info."""

from __future__ import annotations

import io

import numpy as np
import pytest

from model.layouts import to_ntu25
from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    register,
    running_app,
    skeleton,
    within_tolerance,
)

pytestmark = pytest.mark.integration
CANDIDATES = list(LABELS[:4])


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def moving(base: np.ndarray, frames: int, amplitude: float, seed: int) -> np.ndarray:
    """(frames, V, C) = base plus a smooth per-joint sinusoid in every spatial channel."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    wave = np.sin(t * rng.uniform(0.5, 3, base.shape) + rng.uniform(0, 6, base.shape))
    return base[None] + amplitude * wave


def coco_sequence(frames: int = 30) -> np.ndarray:
    """(T,17,3) COCO-17 pixels + confidence; the left ear is low-confidence throughout."""
    pose = np.array([[200, 60], [210, 50], [190, 50], [220, 55], [180, 55], [240, 100], [160, 100], [260, 180],
                     [140, 180], [270, 250], [130, 250], [225, 300], [175, 300], [225, 400], [175, 400],
                     [225, 500], [175, 500]], dtype=np.float64)
    xy = moving(pose, frames, 8.0, seed=1)
    conf = np.full((frames, 17, 1), 0.8)
    conf[:, 3] = 0.05
    return np.concatenate([xy, conf], axis=-1)


def mediapipe_sequence(frames: int = 30) -> np.ndarray:
    """(T,33,4) MediaPipe world landmarks (metres, hip-centred, y down) + visibility."""
    rng = np.random.default_rng(2)
    pose = rng.normal(scale=0.1, size=(33, 3))
    pose[[11, 12]] = [[0.18, -0.5, 0.0], [-0.18, -0.5, 0.0]]
    pose[[23, 24]] = [[0.1, 0.0, 0.0], [-0.1, 0.0, 0.0]]
    xyz = moving(pose, frames, 0.05, seed=3)
    return np.concatenate([xyz, np.full((frames, 33, 1), 0.9)], axis=-1)


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        register(c, CANDIDATES)
        yield c


def energies(results: list[dict]) -> np.ndarray:
    by_label = {r["label"]: r["energy"] for r in results}
    return np.array([by_label[lab] for lab in CANDIDATES])


def assert_matches_reference(results: list[dict], ntu: np.ndarray) -> None:
    want, _ = reference([ntu], [prompt_of(lab) for lab in CANDIDATES])
    got = energies(results)
    assert within_tolerance(got, want[0]).all(), (got, want[0])


def test_coco17_json_request_end_to_end(client) -> None:
    seq = coco_sequence()
    r = client.post("/recognize", json={"skeleton": seq.tolist(), "layout": "coco17", "top_k": 10})
    assert r.status_code == 200, r.text
    assert "warning" not in r.json()
    assert_matches_reference(r.json()["results"], to_ntu25(seq, "coco17"))
    # the same request as an NTU-25 sequence mapped beforehand gives the same energies
    mapped = to_ntu25(seq, "coco17")
    direct = client.post("/recognize", json={"skeleton": mapped.tolist(), "top_k": 10}).json()
    np.testing.assert_allclose(energies(r.json()["results"]), energies(direct["results"]), rtol=1e-5, atol=1e-5)


def test_mediapipe33_json_and_npy_requests_end_to_end(client) -> None:
    seq = mediapipe_sequence()
    ntu = to_ntu25(seq, "mediapipe33")
    r = client.post("/recognize", json={"skeletons": [seq.tolist()], "layout": "mediapipe33", "top_k": 10})
    assert r.status_code == 200, r.text
    assert_matches_reference(r.json()["results"][0], ntu)
    r = client.post("/recognize", content=npy(seq.astype(np.float32)), params={"layout": "mediapipe33", "top_k": 10},
                    headers={"Content-Type": "application/x-npy"})
    assert r.status_code == 200, r.text
    assert_matches_reference(r.json()["results"], to_ntu25(seq.astype(np.float32), "mediapipe33"))


@pytest.mark.parametrize(("layout", "shape", "expected"), [
    ("coco17", (10, 18, 3), "layout 'coco17' expects (T,17,2|3) or (M,T,17,2|3), got 18 joints"),
    ("coco17-3d", (10, 17, 5), "layout 'coco17-3d' expects (T,17,3|4) or (M,T,17,3|4), got 5 channels"),
    ("mediapipe33", (10, 25, 3), "layout 'mediapipe33' expects (T,33,3|4) or (M,T,33,3|4), got 25 joints"),
    ("openpose25", (10, 17, 3), "layout 'openpose25' expects (T,25,2|3) or (M,T,25,2|3), got 17 joints"),
    ("openpose25-3d", (10, 25, 2), "layout 'openpose25-3d' expects (T,25,3|4) or (M,T,25,3|4), got 2 channels"),
    ("ntu25", (10, 17, 3), "layout 'ntu25' expects (T,25,3) or (M,T,25,3), got 17 joints"),
])
def test_wrong_joint_counts_are_refused_per_layout(client, layout: str, shape: tuple, expected: str) -> None:
    body = {"skeleton": np.ones(shape).tolist(), "layout": layout}
    r = client.post("/recognize", json=body)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert expected in r.json()["detail"], r.json()["detail"]
    r = client.post("/recognize", content=npy(np.ones(shape, np.float32)), params={"layout": layout},
                    headers={"Content-Type": "application/x-npy"})
    assert r.status_code == 422 and expected in r.json()["detail"]


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"json": {"skeleton": [[[1.0, 2.0]] * 17] * 3, "layout": "coco18"}}, "unknown layout 'coco18'"),
    ({"json": {"skeleton": [[[1.0, 2.0]] * 17] * 3, "layout": "coco17", "units": "m"}}, "units must be 'px'"),
    ({"json": {"skeleton": [[[1.0, 2.0, 3.0]] * 25] * 3, "units": "inch"}}, "must be one of m, cm, mm"),
    ({"json": {"skeleton": [[[1.0, 2.0]] * 17] * 3, "layout": "coco17", "confidence_threshold": 2}}, "[0, 1]"),
    ({"json": {"skeleton": [[[1.0, 2.0]] * 17] * 3}, "params": {"layout": "coco17"}}, "not the query"),
    ({"json": {"skeleton": [[[1.0, 2.0]] * 17] * 3, "layout": "coco17"}}, "cannot scale 2D input"),
])
def test_bad_layout_options_are_refused(client, kwargs: dict, needle: str) -> None:
    r = client.post("/recognize", **kwargs)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_millimetres_get_a_warning_and_units_fix_them(client) -> None:
    seq = skeleton(4, frames=30)
    metres = client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 10}).json()
    assert "warning" not in metres
    in_mm = (seq * 1000.0).tolist()
    warned = client.post("/recognize", json={"skeleton": in_mm, "top_k": 10}).json()
    assert "millimetres" in warned["warning"] and "units='mm'" in warned["warning"]
    fixed = client.post("/recognize", json={"skeleton": in_mm, "units": "mm", "top_k": 10}).json()
    assert "warning" not in fixed
    np.testing.assert_allclose(energies(fixed["results"]), energies(metres["results"]), rtol=1e-4, atol=1e-4)


def test_info_lists_the_layouts(client) -> None:
    layouts = client.get("/info").json()["layouts"]
    assert set(layouts) == {"ntu25", "coco17", "coco17-3d", "mediapipe33", "openpose25", "openpose25-3d",
                            "openpose18", "h36m17", "halpe26", "coco_wholebody133"}
    assert layouts["coco17"]["joints"] == 17 and layouts["coco17"]["channels"] == [2, 3]
    assert layouts["mediapipe33"]["confidence_channel"] == 3 and layouts["ntu25"]["confidence_channel"] is None
