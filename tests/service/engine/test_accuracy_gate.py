"""The reduced-precision accuracy gate on the real clips, recomputed: `auto` follows its verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.accuracy_gate import (
    CHECKPOINTS,
    COSINE_MIN,
    encoder_input,
    export_encoder_graphs,
    gate_checkpoint,
    gate_demo_ranking,
    real_clips,
)
from service.engine.runtimes import BF16_PASSED_GATE, MIXED_PASSED_GATE, resolve_encoder_runtime

pytestmark = pytest.mark.integration
pytest.importorskip("openvino")


@pytest.fixture(scope="module")
def clips(shared_data: Path) -> tuple[list[str], np.ndarray]:
    """Every real .skeleton clip and four PKU-MMD windows (the script covers 15), preprocessed as served."""
    found = real_clips(shared_data, pku_stride=256)
    return list(found), encoder_input(found)


@pytest.fixture(scope="module")
def gates(shared_data: Path, clips: tuple[list[str], np.ndarray],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    """checkpoint -> precision -> gate result (OpenVINO against onnxruntime f32)."""
    names, x = clips
    out = {}
    for label, file in CHECKPOINTS.items():
        graphs = export_encoder_graphs(shared_data / "shiftgcn" / file, tmp_path_factory.mktemp(label))
        out[label] = {p: gate_checkpoint(graphs, names, x, p) for p in ("f32", "mixed", "bf16")}
    return out


def test_the_gate_covers_every_kind_of_real_clip(clips: tuple[list[str], np.ndarray]) -> None:
    names, x = clips
    assert sum(n.endswith(".skeleton") for n in names) == 6  # five NTU clips + the paired video's skeleton
    assert sum(n.startswith("A10N08-L[") for n in names) == 4  # PKU-MMD windows of 128 frames, stride 256
    assert x.shape == (10, 3, 300, 25, 2)


def test_openvino_f32_passes_on_both_official_checkpoints(gates: dict) -> None:
    for label in CHECKPOINTS:
        gate = gates[label]["f32"]
        assert gate["top1_unchanged"], label
        assert gate["min_cosine"] >= 0.99999, (label, gate["min_cosine"])
        assert gate["passed"]


def test_bf16_verdict_matches_what_auto_chooses(gates: dict) -> None:
    bf16_passes = all(gates[label]["bf16"]["passed"] for label in CHECKPOINTS)
    assert bf16_passes == BF16_PASSED_GATE
    # the stored verdict: NTU-120's features fall below the cosine bound, so `auto` must not serve bf16
    assert gates["ntu120_xsub"]["bf16"]["min_cosine"] < COSINE_MIN
    chosen = resolve_encoder_runtime("auto", "auto", "cpu", flags=frozenset({"avx512_bf16"}), have_openvino=True)
    assert chosen.precision != "bf16"


def test_mixed_precision_passes_and_auto_serves_it(gates: dict) -> None:
    for label in CHECKPOINTS:
        gate = gates[label]["mixed"]
        assert gate["top1_unchanged"] and gate["min_cosine"] >= COSINE_MIN, (label, gate["min_cosine"])
        # and it is closer to f32 than bf16 throughout: the f32 head is what buys the margin
        assert gate["min_cosine"] > gates[label]["bf16"]["min_cosine"], label
    assert MIXED_PASSED_GATE
    chosen = resolve_encoder_runtime("auto", "auto", "cpu", flags=frozenset({"avx512_bf16"}), have_openvino=True)
    assert (chosen.name, chosen.precision) == ("openvino", "mixed")


def test_official_checkpoints_classify_the_ntu_clips_right_under_openvino(gates: dict,
                                                                          clips: tuple[list[str], np.ndarray]) -> None:
    names, _ = clips
    # the action label is in the NTU file name (A011 -> class 10); NTU-120's first 60 classes are NTU-60's
    labels = {n: int(n.split("A")[1][:3]) - 1 for n in names if n.endswith(".skeleton")}
    for label in CHECKPOINTS:
        for precision in ("f32", "mixed", "bf16"):
            rows = {c["clip"]: c for c in gates[label][precision]["clips"]}
            for name, want in labels.items():
                assert rows[name]["top1"] == rows[name]["top1_f32"] == want, (label, precision, name, rows[name])


def test_demo_bundle_ranking_is_unchanged_by_openvino_f32_and_mixed(tmp_path_factory: pytest.TempPathFactory,
                                                          clips: tuple[list[str], np.ndarray]) -> None:
    from training.demo import build_demo_bundle

    bundle = build_demo_bundle(tmp_path_factory.mktemp("gate-demo") / "bundle")
    for precision in ("f32", "mixed"):
        result = gate_demo_ranking(bundle, clips[1], precision)
        assert result["ranking_unchanged"] and result["top1_unchanged"], result
