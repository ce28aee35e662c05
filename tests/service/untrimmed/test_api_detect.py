"""POST /detect on the real PKU-MMD sample, the open-set field, and the messages for misplaced long inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from model.pkummd import read_pkummd_skeleton
from model.windows import window_starts
from tests.service.svc_support import LABELS, prompt_of, reference, register, running_app, within_tolerance

pytestmark = pytest.mark.integration


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.fixture(scope="module")
def sample_path(shared_data):
    return shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt"


def _tiles(body: dict) -> None:
    """Every frame is in some segment or background stretch; background never overlaps a segment."""
    covered = np.zeros(body["frames"], bool)
    background = np.zeros(body["frames"], bool)
    for s in body["segments"]:
        covered[s["start_frame"]:s["end_frame"] + 1] = True
    for b in body["background"]:
        background[b["start_frame"]:b["end_frame"] + 1] = True
    assert (covered | background).all() and not (covered & background).any()


def test_real_sample_through_detect_matches_torch_windows(sample_path):
    labels = list(LABELS)
    joints = read_pkummd_skeleton(sample_path)
    with running_app() as client:
        register(client, labels)
        text = sample_path.read_bytes()
        r = client.post("/detect?include_windows=true&smooth=1", content=text,
                        headers={"Content-Type": "text/plain"})
        assert r.status_code == 200, r.text
        body = r.json()
        starts = window_starts(1040, 128, 32).tolist()
        assert body["frames"] == 1040 and body["window"] == {"length": 128, "stride": 32, "count": len(starts)}
        assert [w["start_frame"] for w in body["windows"]] == starts
        assert body["open_set"] == {"accepted": True, "threshold": None, "source": "none"}
        assert body["segments"] and body["background"] == []  # no threshold: every frame is some class
        _tiles(body)
        # window energies equal the PyTorch models on the same frames (3 windows checked)
        picks = [0, 13, len(starts) - 1]
        energy, _ = reference([joints[:, starts[i]:starts[i] + 128] for i in picks], [prompt_of(x) for x in labels])
        for row, i in zip(energy, picks, strict=True):
            w = body["windows"][i]
            assert w["label"] == labels[int(np.argmin(row))]
            assert within_tolerance(np.array([w["energy"]]), np.array([row.min()])).all()
        # the same sequence as .npy and as JSON gives the same answer
        npy = client.post("/detect?include_windows=true&smooth=1", content=npy_bytes(joints),
                          headers={"Content-Type": "application/x-npy"}).json()
        js = client.post("/detect", json={"skeleton": joints.tolist(), "include_windows": True, "smooth": 1}).json()
        for other in (npy, js):
            assert [(s["start_frame"], s["end_frame"], s["class_id"]) for s in other["segments"]] == \
                [(s["start_frame"], s["end_frame"], s["class_id"]) for s in body["segments"]]


def test_threshold_override_makes_background(sample_path):
    with running_app() as client:
        register(client, list(LABELS[:3]))
        text = sample_path.read_bytes()
        low = client.post("/detect?threshold=-1e9", content=text, headers={"Content-Type": "text/plain"}).json()
        assert low["segments"] == [] and low["open_set"] == {"accepted": False, "threshold": -1e9,
                                                              "source": "request"}
        assert [(b["start_frame"], b["end_frame"]) for b in low["background"]] == [(0, 1039)]
        windows = client.post("/detect?include_windows=true&smooth=1", content=text,
                              headers={"Content-Type": "text/plain"}).json()["windows"]
        middle = float(np.median([w["energy"] for w in windows]))
        mid = client.post(f"/detect?threshold={middle}&smooth=1", content=text,
                          headers={"Content-Type": "text/plain"}).json()
        assert mid["segments"] and mid["background"]
        _tiles(mid)
        for s in mid["segments"]:
            assert s["energy"] <= middle + 1e-9  # a segment's mean energy passes the gate it was built with


def test_detect_errors():
    seq = np.ones((1, 700, 25, 3), np.float32)
    with running_app(detect_max_frames=600) as client:
        register(client, ["walking"])
        r = client.post("/detect", content=npy_bytes(seq), headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 422 and "SCALE_DETECT_MAX_FRAMES" in r.json()["detail"]
        r = client.post("/detect", content=b"1 2 3", headers={"Content-Type": "text/plain"})
        assert r.status_code == 422 and "PKU-MMD" in r.json()["detail"] and ":1:" in r.json()["detail"]
        r = client.post("/detect", content=b"x", headers={"Content-Type": "image/png"})
        assert r.status_code == 415
        r = client.post("/detect", json={"skeleton": seq[:, :100].tolist(), "window": 16, "stride": 32})
        assert r.status_code == 422 and "stride 32 exceeds its length 16" in r.json()["detail"]
        r = client.post("/detect", json={"skeleton": seq[:, :100].tolist(), "layout": "coco17"})
        assert r.status_code == 422 and "layout 'coco17' expects" in r.json()["detail"]
        r = client.post("/detect", json={"skeleton": seq[:, :100].tolist(), "layout": "kinect-v1"})
        assert r.status_code == 422 and r.json()["type"].endswith("bad-layout")
        r = client.post("/detect?window=16", json={"skeleton": seq[:, :100].tolist()})
        assert r.status_code == 422


def test_detect_maps_a_pose_estimator_layout():
    """COCO-17 keypoints (u, v, score) go through the same layout map as /recognize, then the windows."""
    rng = np.random.default_rng(3)
    coco = np.concatenate([rng.uniform(100, 400, (1, 90, 17, 2)), np.ones((1, 90, 17, 1))], axis=-1)
    with running_app() as client:
        register(client, ["walking", "sitting down"])
        r = client.post("/detect", json={"skeleton": coco.tolist(), "layout": "coco17", "window": 32,
                                         "stride": 16, "include_windows": True})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["frames"] == 90 and body["window"]["count"] == 5  # starts 0, 16, 32, 48 and the flush tail 58
        assert all(np.isfinite(w["energy"]) for w in body["windows"])


def test_recognize_messages_point_to_detect_and_swapped_axes():
    with running_app() as client:
        register(client, ["walking"])
        long = np.ones((1, 1040, 25, 3), np.float32)
        r = client.post("/recognize", content=npy_bytes(long), headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 422
        assert "more than the limit of 600" in r.json()["detail"] and "POST /detect" in r.json()["detail"]
        swapped = np.ones((1040, 2, 25, 3), np.float32)
        r = client.post("/recognize", content=npy_bytes(swapped), headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 422 and "axes look swapped" in r.json()["detail"]
        assert "(M,T,25,3)" in r.json()["detail"]


def test_recognize_open_set_field():
    seq = np.random.default_rng(0).normal(size=(1, 40, 25, 3)).astype(np.float32) + 3
    with running_app() as client:
        register(client, list(LABELS[:3]))
        body = client.post("/recognize", json={"skeleton": seq.tolist()}).json()
        best = body["results"][0]["energy"]
        assert body["open_set"] == {"accepted": True, "threshold": None, "source": "none"}
        below = client.post("/recognize", json={"skeleton": seq.tolist(), "open_set_threshold": best - 1.0}).json()
        assert below["open_set"] == {"accepted": False, "threshold": best - 1.0, "source": "request"}
        above = client.post(f"/recognize?open_set_threshold={best + 1.0}", content=npy_bytes(seq),
                            headers={"Content-Type": "application/x-npy"}).json()
        assert above["open_set"]["accepted"] is True and above["open_set"]["source"] == "request"
        batch = client.post("/recognize", json={"skeletons": [seq.tolist()] * 2}).json()
        assert len(batch["open_set"]) == 2
        r = client.post("/recognize?open_set_threshold=abc", content=npy_bytes(seq),
                        headers={"Content-Type": "application/x-npy"})
        assert r.status_code == 422


def test_bundle_threshold_from_the_manifest(tmp_path):
    from tests.service.svc_support import TinyBundle, tiny_bundle
    from training.export import export_bundle

    base = tiny_bundle()
    from model.bundle import read_manifest

    manifest = read_manifest(base.path)
    calibrated = export_bundle(tmp_path / "b", base.encoder, base.scorer, preprocess=base.preprocess,
                               text=manifest.text, training={"dataset": "service-tests"}, score_temperature=8.0,
                               open_set={"threshold": -1e9, "tpr": 0.95, "source": "test"})
    assert read_manifest(calibrated).open_set["threshold"] == -1e9
    seq = np.random.default_rng(1).normal(size=(1, 40, 25, 3)).astype(np.float32) + 3
    with running_app(TinyBundle(calibrated, base.encoder, base.scorer, base.preprocess)) as client:
        register(client, list(LABELS[:2]))
        body = client.post("/recognize", json={"skeleton": seq.tolist()}).json()
        assert body["open_set"] == {"accepted": False, "threshold": -1e9, "source": "bundle"}
        body = client.post("/recognize", json={"skeleton": seq.tolist(), "open_set_threshold": 1e9}).json()
        assert body["open_set"]["accepted"] is True and body["open_set"]["source"] == "request"
