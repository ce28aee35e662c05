"""The encoder's runtime per CPU: onnxruntime or OpenVINO on the bundle's same ONNX graphs, f32 or bf16.

Rule for `auto` (measured in docs/benchmarks.md, "Encoder runtimes"): on CUDA the encoder stays on
onnxruntime; on a CPU, OpenVINO when it is installed (2-3x onnxruntime's CPU provider on Shift-GCN), else
onnxruntime. Precision `auto` would be bf16 under OpenVINO on a CPU with native bf16 dot products
(`avx512_bf16` or `amx_bf16` in /proc/cpuinfo) only if bf16 passed the accuracy gate on real data
(benchmarks/accuracy_gate.py, tests/service/engine/test_accuracy_gate.py); it does not (the NTU-120
checkpoint's features fall to cosine 0.998), so `auto` serves f32 and bf16 is an explicit opt-in. Both settings
can be forced (SCALE_ENCODER_RUNTIME, SCALE_ENCODER_PRECISION). The class and sample sides stay on
onnxruntime: they cost well under 1 % of a request.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.engine.loading import StartupError

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The accuracy gate's verdict on bf16 (top-1 unchanged on every real clip, cosine >= 0.999, SCALE ranking
# unchanged; benchmarks/results/accuracy_gate.json): failed on the NTU-120 X-sub checkpoint (min cosine
# 0.998), so `auto` keeps f32. tests/service/engine/test_accuracy_gate.py recomputes the verdict.
BF16_PASSED_GATE = False


class RuntimeChoiceError(StartupError):
    """The requested encoder runtime or precision cannot run here (message says what to change)."""


@dataclass(frozen=True)
class EncoderRuntime:
    """Which runtime and precision run the encoder graphs, and why (shown by /info and `scale doctor`)."""

    name: str  # "onnxruntime" | "openvino"
    precision: str  # "f32" | "bf16"
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
        if name == "openvino" and native_bf16 and BF16_PASSED_GATE:
            return EncoderRuntime(name, "bf16", f"{why}; CPU has native bf16 ({', '.join(sorted(flags & set(BF16_FLAGS)))}) "
                                                "and bf16 passed the accuracy gate")
        return EncoderRuntime(name, "f32", f"{why}; f32 ({_why_f32(name, native_bf16)})")
    if precision == "bf16" and name != "openvino":
        raise RuntimeChoiceError("SCALE_ENCODER_PRECISION=bf16 needs SCALE_ENCODER_RUNTIME=openvino (or auto on a "
                                 "CPU with OpenVINO installed)")
    if precision == "bf16" and not native_bf16:
        raise RuntimeChoiceError("SCALE_ENCODER_PRECISION=bf16 but this CPU has no native bf16 "
                                 f"({' / '.join(BF16_FLAGS)} missing from /proc/cpuinfo); use f32 or auto")
    return EncoderRuntime(name, precision, f"{why}; SCALE_ENCODER_PRECISION={precision}")


def _why_f32(name: str, native_bf16: bool) -> str:
    if name != "openvino":
        return "onnxruntime runs f32"
    return "bf16 failed the accuracy gate" if native_bf16 else "no native bf16 on this CPU"


class OpenVinoGraph:
    """One ONNX graph compiled by OpenVINO for the CPU at batch 1, answering onnxruntime's `run(names, feeds)`.

    The graph is compiled for a static batch of one (measured 1.3-1.6x faster than the dynamic batch on this
    CPU, and the CPU policy runs one sequence per run); a run of N sequences makes N calls. `streams`
    requests can run at once (one per serving worker, `threads` each); every calling thread gets its own
    infer request, so concurrent runs share the compiled model and nothing else.
    """

    def __init__(self, onnx_path: Path, *, precision: str, streams: int, threads: int) -> None:
        import openvino as ov

        core = ov.Core()
        model = core.read_model(str(onnx_path))
        static = {}
        for port in model.inputs:
            shape = port.get_partial_shape()
            shape[0] = 1
            static[port.get_any_name()] = shape
        model.reshape(static)
        config = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
                  "NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": str(max(1, streams * threads)),
                  "PERFORMANCE_HINT": "THROUGHPUT" if streams > 1 else "LATENCY"}
        self.compiled = core.compile_model(model, "CPU", config)
        # tensor names, as onnxruntime calls them (a port may carry several names after conversion)
        self.outputs = {name: port for port in self.compiled.outputs for name in port.get_names()}
        self.output_order = [sorted(port.get_names())[0] for port in self.compiled.outputs]
        self.precision = precision
        self._local = threading.local()

    def _request(self) -> Any:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph on host arrays (any batch); returns the named outputs (all when None), float32."""
        request = self._request()
        names = output_names or self.output_order
        arrays = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in feeds.items()}
        n = len(next(iter(arrays.values())))
        outs: list[list[np.ndarray]] = [[] for _ in names]
        for i in range(n):  # one call per sequence: the compiled graph's batch is one
            request.infer({name: x[i:i + 1] for name, x in arrays.items()})
            for j, name in enumerate(names):
                # the request reuses its output buffers on the next call: copy out what the caller keeps
                outs[j].append(np.array(request.get_tensor(self.outputs[name]).data, dtype=np.float32))
        return [np.concatenate(o) if o else np.empty((0,), np.float32) for o in outs]

    def get_providers(self) -> list[str]:
        """onnxruntime-style provider list naming this runtime."""
        return [f"OpenVINO:CPU:{self.precision}"]


def encoder_graphs(bundle: Any, runtime: EncoderRuntime, *, streams: int, threads: int) -> tuple[Any, Any]:
    """(encoder, single_person) graphs to run: the bundle's onnxruntime sessions, or OpenVINO on the same files."""
    if runtime.name == "onnxruntime":
        return bundle.encoder, bundle.single_person
    from model.bundle_spec import graph_file

    def compiled(graph: str) -> OpenVinoGraph:
        return OpenVinoGraph(bundle.root / graph_file(graph, bundle.variant), precision=runtime.precision,
                             streams=streams, threads=threads)

    single = compiled("single_person") if bundle.single_person is not None else None
    return compiled("encoder"), single
