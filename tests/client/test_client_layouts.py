"""The client's and the CLI's layout options reach the request: JSON body fields or .npy query parameters."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

import cli.client as cli_client
from client import AsyncScaleClient, ScaleClient

pytestmark = pytest.mark.unit
ANSWER = {"results": [{"class_id": "a", "label": "wave", "energy": 1.0, "score": 1.0, "uncertainty": 0.1}],
          "uncertainty": 0.1, "bundle_version": "v", "registry_version": 1,
          "warning": "coordinates look like millimetres"}
BATCH_ANSWER = {**ANSWER, "results": [ANSWER["results"]], "uncertainty": [0.1]}


def recorder(seen: list[httpx.Request], answer: dict) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)
    return httpx.MockTransport(handler)


def test_json_body_and_npy_query_carry_the_layout_options() -> None:
    coco = np.ones((5, 17, 3), np.float32)
    seen: list[httpx.Request] = []
    with ScaleClient("http://t", transport=recorder(seen, ANSWER)) as client:
        rec = client.recognize(coco, layout="coco17", confidence_threshold=0.5)
        client.recognize(coco, layout="coco17", units="px", encoding="npy")
        client.recognize(np.ones((5, 25, 3)))  # default: no layout fields at all
    body = json.loads(seen[0].content)
    assert body["layout"] == "coco17" and body["confidence_threshold"] == 0.5 and "units" not in body
    assert np.asarray(body["skeleton"]).shape == (5, 17, 3)
    assert seen[1].url.params["layout"] == "coco17" and seen[1].url.params["units"] == "px"
    assert np.load(io.BytesIO(seen[1].content), allow_pickle=False).shape == (5, 17, 3)
    assert not {"layout", "units", "confidence_threshold"} & set(json.loads(seen[2].content))
    assert rec.warning == "coordinates look like millimetres"


def test_async_batch_carries_the_layout() -> None:
    seen: list[httpx.Request] = []

    async def go() -> None:
        async with AsyncScaleClient("http://t", transport=recorder(seen, BATCH_ANSWER)) as client:
            await client.recognize_batch([np.ones((4, 33, 4))], layout="mediapipe33", units="cm")
    asyncio.run(go())
    body = json.loads(seen[0].content)
    assert body["layout"] == "mediapipe33" and body["units"] == "cm"


def test_cli_recognize_passes_layout_and_prints_the_warning(tmp_path: Path, monkeypatch, capsys) -> None:
    np.save(tmp_path / "clip.npy", np.ones((6, 17, 2), np.float32))
    seen: list[httpx.Request] = []
    monkeypatch.setattr(cli_client, "_client",
                        lambda args: ScaleClient("http://t", transport=recorder(seen, BATCH_ANSWER)))
    parser = argparse.ArgumentParser(prog="scale")
    cli_client.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["recognize", str(tmp_path / "clip.npy"), "--layout", "coco17",
                              "--confidence-threshold", "0.4", "--format", "json"])
    assert args.func(args) == 0
    body = json.loads(seen[0].content)
    assert body["layout"] == "coco17" and body["confidence_threshold"] == 0.4
    assert "warning: coordinates look like millimetres" in capsys.readouterr().err
