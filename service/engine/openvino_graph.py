"""One bundle graph compiled by OpenVINO for the CPU: f32, bf16, or mixed (an f32 head, then bf16).

Why "mixed": bf16 throughout loses the accuracy gate on the NTU-120 checkpoint (feature cosine 0.998), and
cutting the graph after each backbone unit located the loss in the first units, which see the raw joint
coordinates (bf16 keeps 8 bits of mantissa: millimetres at a metre). Running units l1..l4 (64 channels, the
cheap ones) in f32 and the six deeper, costlier units in bf16 keeps most of bf16's speed and passes the
gate with a margin (docs/benchmarks.md section 8, benchmarks/precision_cut.py and benchmarks/accuracy_gate.py).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("scale.engine")

# Backbone units run in f32 before the bf16 tail under precision "mixed": l1..l4 cost 0-7 % more than l1..l2
# and bring NTU-120's worst cosine from 0.99985 to 0.99996 (benchmarks/results/precision_cut.txt)
F32_HEAD_UNITS = 4


def static_batch_one(model: Any) -> Any:
    """Reshape every input of an OpenVINO model to batch 1 (1.3-1.6x faster than a dynamic batch here)."""
    static = {}
    for port in model.inputs:
        shape = port.get_partial_shape()
        shape[0] = 1
        static[port.get_any_name()] = shape
    model.reshape(static)
    return model


def split_after_unit(model: Any, unit: int) -> tuple[Any, Any] | None:
    """(head, tail) of a static Shift-GCN graph cut at the output of backbone unit `unit`; None when absent."""
    import openvino as ov
    from openvino.passes import ConstantFolding, Manager

    manager = Manager()
    manager.register_pass(ConstantFolding())  # shape arithmetic on the input becomes constants: the tail needs none
    manager.run_passes(model)
    suffix = f"/l{unit}/Relu"

    def cut_of(m: Any) -> Any | None:
        found = [op for op in m.get_ordered_ops() if op.get_friendly_name().endswith(suffix)]
        return found[0] if len(found) == 1 else None

    tail_model = model.clone()
    cut, tail_cut = cut_of(model), cut_of(tail_model)
    if cut is None or tail_cut is None:
        return None
    head = ov.Model([cut.output(0)], model.get_parameters(), "head")
    boundary = ov.opset13.parameter(tail_cut.get_output_partial_shape(0), tail_cut.get_output_element_type(0),
                                    name=f"unit{unit}_output")
    for target in list(tail_cut.output(0).get_target_inputs()):
        target.replace_source_output(boundary.output(0))
    try:
        tail = ov.Model(tail_model.get_results(), [boundary], "tail")
    except RuntimeError:  # the tail still reads the graph's input: no clean cut
        return None
    return head, tail


class OpenVinoGraph:
    """One ONNX graph compiled by OpenVINO for the CPU at batch 1, answering onnxruntime's `run(names, feeds)`.

    The graph is compiled for a static batch of one (the CPU policy runs one sequence per run); a run of N
    sequences makes N calls. `streams` requests can run at once (one per serving worker, `threads` each);
    every calling thread gets its own infer requests, so concurrent runs share the compiled model and
    nothing else. Under "mixed" the graph is two compiled stages run one after the other.
    """

    def __init__(self, onnx_path: Path, *, precision: str, streams: int, threads: int,
                 head_units: int = F32_HEAD_UNITS) -> None:
        import openvino as ov

        core = ov.Core()
        model = static_batch_one(core.read_model(str(onnx_path)))
        config = {"NUM_STREAMS": str(streams), "INFERENCE_NUM_THREADS": str(max(1, streams * threads)),
                  "PERFORMANCE_HINT": "THROUGHPUT" if streams > 1 else "LATENCY",
                  # pinned stream threads measured 9-22 % fewer clips/s under load: the serving process has
                  # other busy threads (event loop, parsing) that pinning leaves no room for
                  "ENABLE_CPU_PINNING": "NO"}
        parts = [(model, precision)]
        if precision == "mixed":
            split = split_after_unit(model, head_units)
            if split is None:
                log.warning("%s: no backbone unit l%d to cut at; running it in f32 instead of mixed precision",
                            onnx_path.name, head_units)
                parts, precision = [(model, "f32")], "f32"
            else:
                parts = [(split[0], "f32"), (split[1], "bf16")]
        self.stages = [core.compile_model(m, "CPU", {**config, "INFERENCE_PRECISION_HINT": p}) for m, p in parts]
        last = self.stages[-1]
        # tensor names, as onnxruntime calls them (a port may carry several names after conversion)
        self.outputs = {name: port for port in last.outputs for name in port.get_names()}
        self.output_order = [sorted(port.get_names())[0] for port in last.outputs]
        self.precision = precision
        self._local = threading.local()

    def _requests(self) -> list[Any]:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = [stage.create_infer_request() for stage in self.stages]
        return requests

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph on host arrays (any batch); returns the named outputs (all when None), float32."""
        requests = self._requests()
        names = output_names or self.output_order
        arrays = {name: np.ascontiguousarray(x, dtype=np.float32) for name, x in feeds.items()}
        n = len(next(iter(arrays.values())))
        outs: list[list[np.ndarray]] = [[] for _ in names]
        for i in range(n):  # one call per sequence: the compiled graph's batch is one
            requests[0].infer({name: x[i:i + 1] for name, x in arrays.items()})
            for previous, request in zip(requests, requests[1:], strict=False):
                request.set_input_tensor(previous.get_output_tensor(0))
                request.infer()
            for j, name in enumerate(names):
                # the request reuses its output buffers on the next call: copy out what the caller keeps
                outs[j].append(np.array(requests[-1].get_tensor(self.outputs[name]).data, dtype=np.float32))
        return [np.concatenate(o) if o else np.empty((0,), np.float32) for o in outs]

    def get_providers(self) -> list[str]:
        """onnxruntime-style provider list naming this runtime."""
        return [f"OpenVINO:CPU:{self.precision}"]
