"""The encoder runtime rule, its overrides and refusals, and OpenVINO's graph wrapper against onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.engine.runtimes import (
    BF16_PASSED_GATE,
    MIXED_PASSED_GATE,
    RuntimeChoiceError,
    cpu_flags,
    resolve_encoder_runtime,
)

BF16 = frozenset({"avx512f", "avx512_bf16"})
NO_BF16 = frozenset({"avx2"})
GATED = "bf16" if BF16_PASSED_GATE else "mixed" if MIXED_PASSED_GATE else "f32"  # the lowest that passed


@pytest.mark.unit
@pytest.mark.parametrize(("device", "have_ov", "flags", "want"), [
    ("cpu", True, BF16, ("openvino", GATED)),
    ("cpu", True, NO_BF16, ("openvino", "f32")),
    ("cpu", False, BF16, ("onnxruntime", "f32")),
    ("cuda", True, BF16, ("onnxruntime", "f32")),
])
def test_auto_rule(device: str, have_ov: bool, flags: frozenset[str], want: tuple[str, str]) -> None:
    got = resolve_encoder_runtime("auto", "auto", device, flags=flags, have_openvino=have_ov)
    assert (got.name, got.precision) == want
    assert got.reason


@pytest.mark.unit
def test_overrides_are_obeyed() -> None:
    got = resolve_encoder_runtime("onnxruntime", "auto", "cpu", flags=BF16, have_openvino=True)
    assert (got.name, got.precision) == ("onnxruntime", "f32")
    got = resolve_encoder_runtime("openvino", "bf16", "cpu", flags=BF16, have_openvino=True)
    assert (got.name, got.precision) == ("openvino", "bf16")
    assert "SCALE_ENCODER_PRECISION=bf16" in got.reason
    got = resolve_encoder_runtime("auto", "mixed", "cpu", flags=BF16, have_openvino=True)
    assert (got.name, got.precision) == ("openvino", "mixed")
    got = resolve_encoder_runtime("openvino", "f32", "cpu", flags=BF16, have_openvino=True)
    assert (got.name, got.precision) == ("openvino", "f32")


@pytest.mark.unit
@pytest.mark.parametrize(("runtime", "precision", "device", "flags", "have_ov", "message"), [
    ("openvino", "auto", "cpu", BF16, False, "not installed"),
    ("openvino", "auto", "cuda", BF16, True, "runs on the CPU"),
    ("onnxruntime", "bf16", "cpu", BF16, True, "needs SCALE_ENCODER_RUNTIME=openvino"),
    ("openvino", "bf16", "cpu", NO_BF16, True, "no native bf16"),
    ("onnxruntime", "mixed", "cpu", BF16, True, "PRECISION=mixed needs SCALE_ENCODER_RUNTIME=openvino"),
    ("auto", "mixed", "cpu", NO_BF16, True, "PRECISION=mixed but this CPU has no native bf16"),
])
def test_impossible_choices_are_refused_clearly(runtime: str, precision: str, device: str, flags: frozenset[str],
                                                have_ov: bool, message: str) -> None:
    with pytest.raises(RuntimeChoiceError, match=message):
        resolve_encoder_runtime(runtime, precision, device, flags=flags, have_openvino=have_ov)


@pytest.mark.unit
def test_cpu_flags_reads_the_first_flags_line(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == frozenset({"fpu", "avx512f", "avx512_bf16"})
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.integration
def test_openvino_graph_matches_onnxruntime_for_any_batch_and_from_two_threads(tmp_path: Path) -> None:
    """The wrapper runs N sequences through its batch-1 graph, one infer request per thread."""
    pytest.importorskip("openvino")
    from concurrent.futures import ThreadPoolExecutor

    import onnxruntime as ort
    import torch
    from torch import nn

    from service.engine.openvino_graph import OpenVinoGraph

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, (3, 1), padding=(1, 0))
            self.fc = nn.Linear(8, 4)

        def forward(self, person: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.relu(self.conv(person)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    path = tmp_path / "tiny.onnx"
    torch.onnx.export(Tiny().eval(), (torch.randn(2, 3, 16, 25),), str(path), input_names=["person"],
                      output_names=["feature"], dynamic_axes={"person": {0: "batch"}, "feature": {0: "batch"}},
                      dynamo=False)
    x = np.random.default_rng(0).normal(size=(5, 3, 16, 25)).astype(np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["feature"], {"person": x})[0]
    graph = OpenVinoGraph(path, precision="f32", streams=2, threads=1)
    assert graph.get_providers() == ["OpenVINO:CPU:f32"]
    np.testing.assert_allclose(graph.run(["feature"], {"person": x})[0], want, atol=1e-5)
    np.testing.assert_allclose(graph.run(None, {"person": x[:1]})[0], want[:1], atol=1e-5)
    with ThreadPoolExecutor(2) as pool:  # two workers at once, each on its own rows
        got = list(pool.map(lambda i: graph.run(["feature"], {"person": x[i:i + 1]})[0], range(5)))
    np.testing.assert_allclose(np.concatenate(got), want, atol=1e-5)
