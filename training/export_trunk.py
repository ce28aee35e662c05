"""Export the optional single-person graph of a bundle: first person -> the exact sequence feature."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from model.bundle_spec import BundleError, Dims, graph_file, graph_specs
from model.config import NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS
from model.row_layout import use_row_layout
from model.shift_gcn import ShiftGCN
from model.single_person import SinglePersonEncoder
from training.onnx_graph import export_graph

GRAPH = "single_person"


class SinglePersonGraph(nn.Module):
    """Graph body: person (N, C, T, V) -> feature (N, 256) float32, computed in `dtype`."""

    def __init__(self, single: SinglePersonEncoder, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.single, self.dtype = single, dtype

    def forward(self, person: Tensor) -> Tensor:
        """(trunk(person) + absent person's constant) / 2 as float32."""
        return self.single(person.to(self.dtype)).float()


def supports_single_person(encoder: nn.Module) -> bool:
    """Only a two-person Shift-GCN has the per-person fold the single-person path relies on."""
    return isinstance(encoder, ShiftGCN) and encoder.num_person == NUM_PERSONS


def single_person_module(encoder: ShiftGCN, num_frames: int, dtype: torch.dtype,
                         row_layout: bool = True) -> SinglePersonGraph:
    """A CPU copy of the encoder in `dtype`, wrapped as the graph body (the constant computed in `dtype`)."""
    enc = copy.deepcopy(encoder).cpu().to(dtype).eval()
    enc = use_row_layout(enc) if row_layout else enc
    return SinglePersonGraph(SinglePersonEncoder(enc, num_frames).eval(), dtype).eval()


def export_single_person(encoder: nn.Module, dims: Dims, num_frames: int, out: Path,
                         variants: list[str]) -> list[str]:
    """Write single_person.onnx (per variant) under `out` and check fp32 against the full encoder; returns paths."""
    if not supports_single_person(encoder):
        return []
    spec = graph_specs(dims, num_frames)[GRAPH]
    example = (torch.randn(2, NUM_CHANNELS, num_frames, NUM_JOINTS, generator=torch.Generator().manual_seed(0)),)
    written = []
    for variant in variants:
        dtype = torch.float32 if variant == "fp32" else torch.float16
        path = out / graph_file(GRAPH, variant)
        export_graph(single_person_module(encoder, num_frames, dtype), example, spec, path)
        written.append(graph_file(GRAPH, variant))
    check_single_person_parity(out / graph_file(GRAPH), encoder, num_frames)
    return written


def check_single_person_parity(path: Path, encoder: nn.Module, num_frames: int) -> None:
    """Refuse a graph whose feature differs from the full encoder's on inputs with an absent second person."""
    import onnxruntime as ort

    x = torch.randn(3, NUM_CHANNELS, num_frames, NUM_JOINTS, NUM_PERSONS, generator=torch.Generator().manual_seed(1))
    x[..., 1] = 0
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"person": np.ascontiguousarray(x[..., 0].numpy())})
    with torch.no_grad():
        want = copy.deepcopy(encoder).cpu().float().eval().forward_features(x).numpy()
    diff = float(np.max(np.abs(got - want)))
    if diff > 1e-4 * max(1.0, float(np.max(np.abs(want)))):
        raise BundleError(f"export parity check failed: single_person feature differs from the full encoder "
                          f"(max abs diff {diff:.3g})")
