"""OpenVINO's mixed precision: the graph cut after a unit into an f32 head and a bf16 tail, on a real encoder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration
pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def official_single_person(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """single_person.onnx of the official NTU-120 X-sub checkpoint, exported as bundles export it."""
    from benchmarks.accuracy_gate import CHECKPOINTS, export_encoder_graphs

    out = tmp_path_factory.mktemp("ntu120")
    return export_encoder_graphs(shared_data / "shiftgcn" / CHECKPOINTS["ntu120_xsub"], out)["single_person"]


@pytest.fixture(scope="module")
def real_people(shared_data: Path) -> np.ndarray:
    """The first person of the five real NTU clips, preprocessed as served: (5, 3, 300, 25)."""
    from benchmarks.accuracy_gate import encoder_input
    from model.skeleton_io import read_skeleton

    files = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    x = encoder_input({f.name: read_skeleton(f).joints for f in files})
    return np.ascontiguousarray(x[..., 0])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_split_cuts_after_unit_two_and_the_halves_compose_exactly(official_single_person: Path,
                                                                   real_people: np.ndarray) -> None:
    import onnxruntime as ort
    import openvino as ov

    from service.engine.openvino_graph import split_after_unit, static_batch_one

    model = static_batch_one(ov.Core().read_model(str(official_single_person)))
    head, tail = split_after_unit(model, 2)
    assert list(head.output(0).get_partial_shape()) == [1, 64, 25, 300]  # l2 out: 64 channels, (V, T) row layout
    assert [p.get_friendly_name() for p in tail.get_parameters()] == ["unit2_output"]  # the tail reads only the cut
    core = ov.Core()
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    h, t = core.compile_model(head, "CPU", f32), core.compile_model(tail, "CPU", f32)
    want = ort.InferenceSession(str(official_single_person), providers=["CPUExecutionProvider"]).run(
        ["feature"], {"person": real_people})[0]
    got = np.concatenate([t(h(real_people[i:i + 1])[0])[0] for i in range(len(real_people))])
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)  # f32 on both sides of the cut: same function


def test_mixed_graph_runs_head_in_f32_tail_in_bf16_and_stays_within_the_gate(official_single_person: Path,
                                                                              real_people: np.ndarray) -> None:
    import onnxruntime as ort

    from benchmarks.accuracy_gate import COSINE_MIN
    from service.engine.openvino_graph import OpenVinoGraph

    graph = OpenVinoGraph(official_single_person, precision="mixed", streams=1, threads=1)
    assert graph.get_providers() == ["OpenVINO:CPU:mixed"]
    assert [s.get_property("INFERENCE_PRECISION_HINT").get_type_name() for s in graph.stages] == ["f32", "bf16"]
    # the f32 head ends after the 64-channel units (l1..l4), before the first stride-2 unit
    assert list(graph.stages[0].outputs[0].get_partial_shape()) == [1, 64, 25, 300]
    want = ort.InferenceSession(str(official_single_person), providers=["CPUExecutionProvider"]).run(
        ["feature"], {"person": real_people})[0]
    got = graph.run(["feature"], {"person": real_people})[0]
    assert _cosines(got, want).min() >= COSINE_MIN
    assert not np.allclose(got, want, atol=1e-6)  # the tail really ran in reduced precision


def test_mixed_on_a_graph_without_backbone_units_falls_back_to_f32_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import torch
    from torch import nn

    from service.engine.openvino_graph import OpenVinoGraph

    path = tmp_path / "plain.onnx"
    torch.onnx.export(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU()).eval(), (torch.randn(1, 3, 8, 25),), str(path),
                      input_names=["person"], output_names=["feature"], dynamo=False)
    with caplog.at_level(logging.WARNING, logger="scale.engine"):
        graph = OpenVinoGraph(path, precision="mixed", streams=1, threads=1)
    assert graph.precision == "f32" and len(graph.stages) == 1
    assert "no backbone unit l4" in caplog.text


def test_the_default_serves_mixed_on_a_bf16_cpu_and_ranks_like_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.engine.runtimes import BF16_FLAGS, cpu_flags
    from tests.service.svc_support import LABELS, prompt_of, reference, register, running_app, skeleton

    monkeypatch.delenv("SCALE_ENCODER_PRECISION", raising=False)  # the product default, not the tests' f32 pin
    native = any(f in cpu_flags() for f in BF16_FLAGS)
    clips = [skeleton(s, frames=48) for s in (1, 2, 3)]
    with running_app(encoder_precision="auto") as client:
        runtime = client.get("/info").json()["encoder_runtime"]
        assert (runtime["runtime"], runtime["precision"]) == ("openvino", "mixed" if native else "f32")
        register(client, LABELS[:4])
        answers = [client.post("/recognize", json={"skeleton": c.tolist(), "top_k": 4}).json() for c in clips]
    energy, _ = reference(clips, [prompt_of(lab) for lab in LABELS[:4]])
    for i, answer in enumerate(answers):
        got = {r["label"]: r["energy"] for r in answer["results"]}
        want = dict(zip(LABELS[:4], energy[i], strict=True))
        assert [r["label"] for r in answer["results"]] == sorted(want, key=want.get)  # same ranking
        for label, e in got.items():
            assert abs(e - want[label]) <= 0.01 * abs(want[label]), (label, e, want[label])  # within 1 %
