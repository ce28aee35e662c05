"""The encoder's runtime per CPU: onnxruntime or OpenVINO on the bundle's same ONNX graphs; f32, mixed or bf16.

Rule for `auto` (measured in docs/benchmarks.md, "Encoder runtimes"): on CUDA the encoder stays on
onnxruntime; on a CPU, OpenVINO when it is installed (at least onnxruntime's speed in f32, and the only one
of the two with a bf16 path), else onnxruntime. Precision `auto` under OpenVINO on a CPU with native bf16 dot products (`avx512_bf16` or
`amx_bf16` in /proc/cpuinfo) is the lowest precision that passed the accuracy gate on real data
(benchmarks/accuracy_gate.py, tests/service/engine/test_accuracy_gate.py): bf16 throughout fails it (the
NTU-120 checkpoint's features fall to cosine 0.998), "mixed" (the first four backbone units in f32, the rest
in bf16; service/engine/openvino_graph.py) passes, so `auto` serves mixed there and f32 elsewhere. Both
settings can be forced (SCALE_ENCODER_RUNTIME, SCALE_ENCODER_PRECISION). The class and sample sides stay
on onnxruntime: they cost well under 1 % of a request.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.engine.loading import StartupError

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The accuracy gate's verdict on bf16 (top-1 unchanged on every real clip, cosine >= 0.999, SCALE ranking
# unchanged; benchmarks/results/accuracy_gate.json): failed on the NTU-120 X-sub checkpoint (min cosine
# 0.998), so `auto` keeps f32. tests/service/engine/test_accuracy_gate.py recomputes the verdict.
BF16_PASSED_GATE = False
# The same gate's verdict on "mixed" (f32 head of four units, bf16 tail): passed on both checkpoints.
MIXED_PASSED_GATE = True
REDUCED = ("bf16", "mixed")  # precisions that need OpenVINO and native bf16


class RuntimeChoiceError(StartupError):
    """The requested encoder runtime or precision cannot run here (message says what to change)."""


@dataclass(frozen=True)
class EncoderRuntime:
    """Which runtime and precision run the encoder graphs, and why (shown by /info and `scale doctor`)."""

    name: str  # "onnxruntime" | "openvino"
    precision: str  # "f32" | "mixed" | "bf16"
    reason: str

    def info(self) -> dict[str, str]:
        """The JSON form used by /info."""
        return {"runtime": self.name, "precision": self.precision, "reason": self.reason}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags of the first processor (empty when /proc/cpuinfo is unreadable)."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def openvino_installed() -> bool:
    """True when the `openvino` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


def resolve_encoder_runtime(runtime: str, precision: str, device: str, *, flags: frozenset[str] | None = None,
                            have_openvino: bool | None = None) -> EncoderRuntime:
    """The runtime and precision for `device` ('cpu' or 'cuda') from the settings ('auto' applies the rule)."""
    flags = cpu_flags() if flags is None else flags
    have_openvino = openvino_installed() if have_openvino is None else have_openvino
    native_bf16 = any(f in flags for f in BF16_FLAGS)
    if runtime == "auto":
        if device == "cuda":
            name, why = "onnxruntime", "CUDA device: onnxruntime's CUDA provider"
        elif have_openvino:
            name, why = "openvino", "CPU with OpenVINO installed"
        else:
            name, why = "onnxruntime", "CPU without the openvino package"
    else:
        name, why = runtime, f"SCALE_ENCODER_RUNTIME={runtime}"
    if name == "openvino" and not have_openvino:
        raise RuntimeChoiceError("SCALE_ENCODER_RUNTIME=openvino but the openvino package is not installed "
                                 "(pip install openvino, or set SCALE_ENCODER_RUNTIME=auto)")
    if name == "openvino" and device == "cuda":
        raise RuntimeChoiceError("SCALE_ENCODER_RUNTIME=openvino runs on the CPU, but SCALE_DEVICE selects CUDA; "
                                 "set SCALE_DEVICE=cpu or SCALE_ENCODER_RUNTIME=auto")
    if precision == "auto":
        native = ", ".join(sorted(flags & set(BF16_FLAGS)))
        for reduced, passed in (("bf16", BF16_PASSED_GATE), ("mixed", MIXED_PASSED_GATE)):
            if name == "openvino" and native_bf16 and passed:
                return EncoderRuntime(name, reduced, f"{why}; CPU has native bf16 ({native}) and {reduced} passed "
                                                     "the accuracy gate")
        return EncoderRuntime(name, "f32", f"{why}; f32 ({_why_f32(name, native_bf16)})")
    if precision in REDUCED and name != "openvino":
        raise RuntimeChoiceError(f"SCALE_ENCODER_PRECISION={precision} needs SCALE_ENCODER_RUNTIME=openvino (or auto "
                                 "on a CPU with OpenVINO installed)")
    if precision in REDUCED and not native_bf16:
        raise RuntimeChoiceError(f"SCALE_ENCODER_PRECISION={precision} but this CPU has no native bf16 "
                                 f"({' / '.join(BF16_FLAGS)} missing from /proc/cpuinfo); use f32 or auto")
    return EncoderRuntime(name, precision, f"{why}; SCALE_ENCODER_PRECISION={precision}")


def _why_f32(name: str, native_bf16: bool) -> str:
    if name != "openvino":
        return "onnxruntime runs f32"
    return "no reduced precision passed the accuracy gate" if native_bf16 else "no native bf16 on this CPU"


def encoder_graphs(bundle: Any, runtime: EncoderRuntime, *, streams: int, threads: int) -> tuple[Any, Any]:
    """(encoder, single_person) graphs to run: the bundle's onnxruntime sessions, or OpenVINO on the same files."""
    if runtime.name == "onnxruntime":
        return bundle.encoder, bundle.single_person
    from model.bundle_spec import graph_file
    from service.engine.openvino_graph import OpenVinoGraph

    def compiled(graph: str) -> Any:
        return OpenVinoGraph(bundle.root / graph_file(graph, bundle.variant), precision=runtime.precision,
                             streams=streams, threads=threads)

    single = compiled("single_person") if bundle.single_person is not None else None
    return compiled("encoder"), single
