"""One ONNX export step shared by every graph of the bundle: trace, name, declare shapes, check."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from model.bundle_spec import OPSET, GraphSpec


def export_graph(module: nn.Module, args: tuple[Tensor, ...], spec: GraphSpec, path: Path,
                 opset: int = OPSET) -> None:
    """torch.onnx.export (TorchScript exporter) with the spec's names and dynamic axes, then check it."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # shape checks in forward() become constants: expected, since the specs fix those axes
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module, args, str(path), input_names=[s.name for s in spec.inputs],
            output_names=[s.name for s in spec.outputs], dynamic_axes=spec.dynamic_axes(),
            opset_version=opset, do_constant_folding=True, dynamo=False,
        )
    model = onnx.load(str(path))
    # The tracer names output axes it cannot prove static (e.g. after chunk); declare the contract's shapes.
    for out, want in zip(model.graph.output, spec.outputs, strict=True):
        dims = out.type.tensor_type.shape.dim
        for dim, size in zip(dims, want.shape, strict=True):
            if isinstance(size, int):
                dim.dim_value = size
            else:
                dim.dim_param = size
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
