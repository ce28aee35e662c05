"""Nobody in view on /detect and /recognize: absent stretches are background, every frame in exactly one place."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytestmark = pytest.mark.integration


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def frame_owners(body: dict) -> np.ndarray:
    """How many segments or background stretches hold each frame of a /detect answer."""
    owners = np.zeros(body["frames"], np.int64)
    for part in body["segments"] + body["background"]:
        owners[part["start_frame"]:part["end_frame"] + 1] += 1
    return owners


@pytest.fixture(scope="module")
def sample(pkummd_sample):
    return pkummd_sample


def test_real_sample_every_frame_in_exactly_one_part(client, sample):
    path, _ = sample
    for query in ("", "?smooth=1", "?smooth=5&stride=16"):
        body = client.post(f"/detect{query}", content=path.read_bytes(), headers={"Content-Type": "text/plain"}).json()
        owners = frame_owners(body)
        # before: segments 0-159 and 192-1039, background [] -- frames 160-191 were in neither
        assert (owners == 1).all(), (query, np.flatnonzero(owners != 1)[:10], body["segments"])


def test_person_leaving_the_frame_is_background(client, sample):
    _, joints = sample
    gone = joints.copy()
    gone[:, 400:460] = 0.0  # 60 frames with nobody in view
    gone[:, 700:900] = 0.0  # 200 frames: windows inside are mostly empty
    body = client.post("/detect?include_windows=true", content=npy_bytes(gone),
                       headers={"Content-Type": "application/x-npy"}).json()
    assert (frame_owners(body) == 1).all()
    for seg in body["segments"]:  # no action over frames without a person
        assert seg["end_frame"] < 400 or seg["start_frame"] >= 460
        assert seg["end_frame"] < 700 or seg["start_frame"] >= 900
    in_background = np.zeros(body["frames"], bool)
    for b in body["background"]:
        in_background[b["start_frame"]:b["end_frame"] + 1] = True
    assert in_background[400:460].all() and in_background[700:900].all()
    for w in body["windows"]:  # a window over at least half empty frames is never scored
        present = np.ones(body["frames"], bool)
        present[400:460] = present[700:900] = False
        fraction = present[w["start_frame"]:w["end_frame"] + 1].mean()
        assert ("energy" not in w) == (fraction < 0.5), (w, fraction)  # null fields are left out


def test_all_empty_sequences_are_background_or_no_person(client):
    empty = np.zeros((200, 25, 3), np.float32)
    body = client.post("/detect", content=npy_bytes(empty), headers={"Content-Type": "application/x-npy"}).json()
    assert body["segments"] == [] and body["open_set"]["accepted"] is False
    assert body["background"] == [{"start_frame": 0, "end_frame": 199}]  # no energy: nothing was scored
    # a 2D estimator that never found anybody: all zeros, or every joint under the confidence threshold
    nobody = np.zeros((150, 17, 3))
    faint = np.random.default_rng(0).uniform(0, 400, (150, 17, 3))
    faint[..., 2] = 0.1
    for arr in (nobody, faint):
        r = client.post("/detect", json={"skeleton": arr.tolist(), "layout": "coco17"})
        assert r.status_code == 200, r.text  # before: 422 "the shoulders and hips coincide"
        assert r.json()["segments"] == [] and len(r.json()["background"]) == 1
        r = client.post("/recognize", json={"skeleton": arr.tolist(), "layout": "coco17"})
        assert r.status_code == 422 and r.json()["type"].endswith("/no-person"), r.text
    r = client.post("/recognize", json={"skeleton": empty.tolist()})
    assert r.status_code == 422 and r.json()["type"].endswith("/no-person")
    assert "nobody is in view" in r.json()["detail"]
    r = client.post("/recognize", json={"skeletons": [np.ones((10, 25, 3)).tolist(), empty[:10].tolist()]})
    assert r.status_code == 422 and "sequence(s) [1]" in r.json()["detail"]
