"""Shift-GCN's ten units laid out (N, C, V, T) for the exported graphs: the same function, cheaper on CPUs.

The reference layout (N, C, T, V) makes every spatial shift a transpose to (N*T, V*C) and an element-wise
Gather, and back. With time last, the shift of joint v in channel c is a whole row of T values: the shifts
become row Gathers over (C*V) rows, the shared linear a 1x1 convolution, the BN over V*C a per-(c, v)
affine, and the temporal shift a depthwise (1, K) convolution; no transpose is left inside the trunk.
Measured (docs/benchmarks.md, section 8): about 20 % less encoder time under OpenVINO, features equal to
the reference to 1e-5 (tests/model/test_row_layout.py). The parameters are the reference modules' own.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from model.shift_gcn import UNITS, ShiftGCN, ShiftGCNBlock, ShiftTCN, ShiftUnit
from model.temporal_shift import temporal_shift_kernel


def shift_rows(num_point: int, channels: int, direction: int) -> torch.Tensor:
    """Row index over (C*V): row c*V+v reads row c*V + (v + direction*c) mod V (spatial_shift_index, transposed)."""
    v = torch.arange(num_point)[None, :]
    c = torch.arange(channels)[:, None]
    return (c * num_point + (v + direction * c) % num_point).reshape(-1)


def _affine_of(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) of an eval-mode batch norm."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class RowGCN(nn.Module):
    """ShiftGCNBlock on (N, C_in, V, T) -> (N, C_out, V, T)."""

    def __init__(self, block: ShiftGCNBlock) -> None:
        super().__init__()
        self.block = block
        v, c_in = block.Feature_Mask.shape[1:]
        self.register_buffer("rows_in", shift_rows(v, c_in, +1), persistent=False)
        self.register_buffer("rows_out", shift_rows(v, block.out_channels, -1), persistent=False)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """Row shift in, feature mask, 1x1 linear, row shift out, BN over (c, v), + down, relu."""
        b = self.block
        n, c, v, t = x0.shape
        o = b.out_channels
        x = torch.index_select(x0.reshape(n, c * v, t), 1, self.rows_in).view(n, c, v, t)
        x = x * (torch.tanh(b.Feature_Mask) + 1)[0].t()[:, :, None]
        x = F.conv2d(x, b.Linear_weight.t()[:, :, None, None], b.Linear_bias.reshape(-1))
        x = torch.index_select(x.reshape(n, o * v, t), 1, self.rows_out).view(n, o, v, t)
        scale, shift = _affine_of(b.bn)  # BatchNorm1d over index v*C_out + c
        x = x * scale.view(v, o).t()[:, :, None] + shift.view(v, o).t()[:, :, None]
        return torch.relu(x + b.down(x0))


def _temporal_shift_rows(x: torch.Tensor, ypos: torch.Tensor, stride: int) -> torch.Tensor:
    """model.temporal_shift.temporal_shift with time on the last axis."""
    weight, pad = temporal_shift_kernel(ypos.to(x.dtype), stride)
    out = F.conv2d(x, weight.transpose(2, 3), stride=(1, stride), padding=(0, pad), groups=x.shape[1])
    return out[..., : x.shape[3] // stride]


class RowTCN(nn.Module):
    """ShiftTCN on (N, C, V, T) -> (N, C, V, T // stride)."""

    def __init__(self, tcn: ShiftTCN) -> None:
        super().__init__()
        self.tcn = tcn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """BN, temporal shift, 1x1 conv, relu, temporal shift with stride, BN."""
        t = self.tcn
        x = _temporal_shift_rows(t.bn(x), t.shift_in.ypos, 1)
        x = torch.relu(t.temporal_linear(x))
        return t.bn2(_temporal_shift_rows(x, t.shift_out.ypos, t.shift_out.stride))


class RowUnit(nn.Module):
    """ShiftUnit on (N, C, V, T); its one direct Relu is the unit's output (openvino_graph cuts there)."""

    def __init__(self, unit: ShiftUnit) -> None:
        super().__init__()
        self.unit, self.gcn, self.tcn = unit, RowGCN(unit.gcn1), RowTCN(unit.tcn1)

    def _residual(self, x: torch.Tensor) -> torch.Tensor | float:
        unit = self.unit
        if not unit.has_residual:
            return 0.0
        if isinstance(unit.residual, nn.Identity):
            return x
        conv = unit.residual.conv
        return unit.residual.bn(F.conv2d(x, conv.weight, conv.bias, stride=(1, conv.stride[0])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """relu(tcn(gcn(x)) + residual(x))."""
        return torch.relu(self.tcn(self.gcn(x)) + self._residual(x))


class RowTrunk(nn.Module):
    """The ten units on (N, C, T, V) input, run as (N, C, V, T): output (N, 256, V, T / 4)."""

    def __init__(self, model: ShiftGCN) -> None:
        super().__init__()
        for i in range(1, len(UNITS) + 1):
            self.add_module(f"l{i}", RowUnit(getattr(model, f"l{i}")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Units l1..l10 with time last (pooling over the last two axes is the same in either order)."""
        x = x.transpose(2, 3)
        for i in range(1, len(UNITS) + 1):
            x = getattr(self, f"l{i}")(x)
        return x


def use_row_layout(model: ShiftGCN) -> ShiftGCN:
    """Make `model` (an eval-mode copy meant for export) run its units through a RowTrunk; returns it."""
    if model.training:
        raise ValueError("the row layout folds batch norms: put the encoder in eval mode first")
    model.row_trunk = RowTrunk(model)
    return model


def row_layout_copy(model: nn.Module) -> nn.Module:
    """An export copy of an eval-mode ShiftGCN in the row layout; any other module is returned as it is."""
    if not isinstance(model, ShiftGCN) or model.training:
        return model
    return use_row_layout(copy.deepcopy(model))
