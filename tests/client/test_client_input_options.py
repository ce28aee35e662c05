"""Both clients and every skeleton-reading CLI command carry layout, units, confidence_threshold and mirror."""

from __future__ import annotations

import asyncio
import io
import json
import pickle
from pathlib import Path

import httpx
import numpy as np
import pytest

import cli.client as cli_client
import client.stream as client_stream
from cli.main import main
from client import AsyncScaleClient, ScaleClient

pytestmark = pytest.mark.unit
ANSWER = {"results": [{"class_id": "a", "label": "wave", "energy": 1.0, "score": 1.0, "uncertainty": 0.1}],
          "uncertainty": 0.1, "bundle_version": "v", "registry_version": 1}
BATCH_ANSWER = {**ANSWER, "results": [ANSWER["results"]], "uncertainty": [0.1]}
DETECT_ANSWER = {"frames": 6, "window": {"length": 8, "stride": 4, "count": 1}, "segments": [], "background": [],
                 "open_set": {"accepted": True, "threshold": None, "source": "none"}, "bundle_version": "v",
                 "registry_version": 1}
OPTIONS = {"layout": "mediapipe33", "units": "cm", "confidence_threshold": 0.5, "mirror": True}


def recorder(seen: list[httpx.Request], answer: dict) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if answer is BATCH_ANSWER:  # one ranking per posted sequence
            n = len(json.loads(request.content)["skeletons"])
            return httpx.Response(200, json={**answer, "results": answer["results"] * n, "uncertainty": [0.1] * n})
        return httpx.Response(200, json=answer)
    return httpx.MockTransport(handler)


def test_sync_client_sends_mirror_in_the_body_and_the_query() -> None:
    seen: list[httpx.Request] = []
    with ScaleClient("http://t", transport=recorder(seen, ANSWER)) as c:
        c.recognize(np.ones((4, 33, 4)), **OPTIONS)
        c.recognize(np.ones((4, 33, 4)), encoding="npy", **OPTIONS)
    assert json.loads(seen[0].content) | OPTIONS == json.loads(seen[0].content)  # mirror: true in JSON
    params = dict(seen[1].url.params)
    assert params == {"layout": "mediapipe33", "units": "cm", "confidence_threshold": "0.5", "mirror": "true",
                      "top_k": "5"}


def test_both_clients_send_the_options_to_detect() -> None:
    seen: list[httpx.Request] = []
    with ScaleClient("http://t", transport=recorder(seen, DETECT_ANSWER)) as c:
        c.detect(np.ones((6, 33, 4)), window=8, **OPTIONS)

    async def go() -> None:
        async with AsyncScaleClient("http://t", transport=recorder(seen, DETECT_ANSWER)) as c:
            await c.detect(np.ones((6, 33, 4)), window=8, **OPTIONS)
    asyncio.run(go())
    for request in seen:
        assert dict(request.url.params) == {"layout": "mediapipe33", "units": "cm", "confidence_threshold": "0.5",
                                            "mirror": "true", "window": "8"}
        assert np.load(io.BytesIO(request.content), allow_pickle=False).shape == (6, 33, 4)


def fake_client(seen: list[httpx.Request], answer: dict):
    return lambda args: ScaleClient("http://t", transport=recorder(seen, answer))


def test_scale_recognize_reads_json_pose_files_openpose_folders_and_pyskl(tmp_path: Path, monkeypatch) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(cli_client, "_client", fake_client(seen, BATCH_ANSWER))
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps({"skeleton": np.ones((5, 33, 4)).tolist(), "layout": "mediapipe33"}))
    assert main(["recognize", str(pose), "--units", "cm", "--mirror", "--format", "json"]) == 0
    body = json.loads(seen[-1].content)
    assert body["layout"] == "mediapipe33" and body["units"] == "cm" and body["mirror"] is True
    folder = tmp_path / "openpose"
    folder.mkdir()
    for t in range(3):
        frame = {"people": [{"pose_keypoints_2d": [1.0] * 75}]}
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(frame))
    assert main(["recognize", str(folder), "--confidence-threshold", "0.2", "--format", "json"]) == 0
    body = json.loads(seen[-1].content)
    assert body["layout"] == "openpose25" and body["confidence_threshold"] == 0.2 and "mirror" not in body
    assert np.asarray(body["skeletons"]).shape == (1, 1, 3, 25, 3)
    ann = [{"frame_dir": d, "keypoint": np.ones((1, 4, 17, 2)), "keypoint_score": np.ones((1, 4, 17))}
           for d in ("a", "b")]
    pkl = tmp_path / "hrnet.pkl"
    pkl.write_bytes(pickle.dumps({"annotations": ann}, protocol=2))
    assert main(["recognize", str(pkl), "--format", "json"]) == 0
    body = json.loads(seen[-1].content)
    assert body["layout"] == "coco17" and np.asarray(body["skeletons"]).shape == (2, 1, 4, 17, 3)
    assert main(["recognize", str(pkl), "--layout", "coco17-3d", "--format", "json"]) == 0
    assert json.loads(seen[-1].content)["layout"] == "coco17-3d"  # --layout wins over the file's


def test_scale_detect_has_the_layout_options_and_reads_kinetics_json(tmp_path: Path, monkeypatch) -> None:
    seen: list[httpx.Request] = []
    monkeypatch.setattr(cli_client, "_client", fake_client(seen, DETECT_ANSWER))
    doc = {"data": [{"frame_index": t, "skeleton": [{"pose": [0.5] * 36, "score": [0.9] * 18}]}
                    for t in range(1, 7)], "label": "x", "label_index": 0}
    clip = tmp_path / "kinetics.json"
    clip.write_text(json.dumps(doc))
    assert main(["detect", str(clip), "--mirror", "--confidence-threshold", "0.1", "--format", "json"]) == 0
    params = dict(seen[-1].url.params)
    assert params == {"layout": "openpose18", "mirror": "true", "confidence_threshold": "0.1"}
    assert np.load(io.BytesIO(seen[-1].content), allow_pickle=False).shape == (1, 6, 18, 3)
    np.save(tmp_path / "mp.npy", np.ones((6, 33, 4), np.float32))
    assert main(["detect", str(tmp_path / "mp.npy"), "--layout", "mediapipe33", "--units", "cm",
                 "--format", "json"]) == 0
    assert dict(seen[-1].url.params) == {"layout": "mediapipe33", "units": "cm"}


def test_scale_stream_puts_the_options_in_the_start_message(tmp_path: Path, monkeypatch, capsys) -> None:
    calls: list[dict] = []

    def fake_replay(joints, url, api_key, fps, chunk, on_event, **options):
        calls.append({"shape": np.asarray(joints).shape, **options})
        on_event({"type": "warning", "detail": "frames: coordinates look like centimetres"})
        return []
    monkeypatch.setattr(client_stream, "replay", fake_replay)
    np.save(tmp_path / "mp.npy", np.ones((6, 33, 4), np.float32))
    assert main(["stream", str(tmp_path / "mp.npy"), "--layout", "mediapipe33", "--units", "cm", "--mirror",
                 "--confidence-threshold", "0.5", "--fps", "0"]) == 0
    assert calls == [{"shape": (6, 33, 4), **OPTIONS}]
    assert "warning: frames: coordinates look like centimetres" in capsys.readouterr().out


def test_bad_layout_names_are_refused_by_the_cli(tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.ones((6, 17, 2), np.float32))
    with pytest.raises(SystemExit):
        main(["detect", str(tmp_path / "x.npy"), "--layout", "coco18"])
    assert "invalid choice: 'coco18'" in capsys.readouterr().err
