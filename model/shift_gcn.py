"""Shift-GCN (joint stream) in plain PyTorch, with the official checkpoints' parameter names.

Spatial shifts are fixed index permutations (ONNX Gather); the temporal shift is a fixed depthwise
convolution built from the learned per-channel positions (see model/temporal_shift.py).
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

from model.config import FEATURE_DIM, NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS
from model.temporal_shift import TemporalShift, temporal_shift, temporal_shift_kernel

__all__ = ["ShiftGCN", "load_shift_gcn", "temporal_shift", "temporal_shift_kernel"]

# (in_channels, out_channels, temporal stride) of the 10 units l1..l10
UNITS = [(3, 64, 1), (64, 64, 1), (64, 64, 1), (64, 64, 1), (64, 128, 2),
         (128, 128, 1), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 256, 1)]


def spatial_shift_index(num_point: int, channels: int, direction: int) -> torch.Tensor:
    """Flat gather index over (V*C): direction +1 reads in[(v+c) mod V, c], -1 reads in[(v-c) mod V, c]."""
    v = torch.arange(num_point)[:, None]
    c = torch.arange(channels)[None, :]
    return (((v + direction * c) % num_point) * channels + c).reshape(-1)


class ShiftGCNBlock(nn.Module):
    """Spatial shift -> feature mask -> shared linear -> spatial shift back -> BN over V*C_out, + down, relu."""

    def __init__(self, in_channels: int, out_channels: int, num_point: int = NUM_JOINTS):
        super().__init__()
        self.out_channels = out_channels
        self.down = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
                     if in_channels != out_channels else nn.Identity())
        self.Linear_weight = nn.Parameter(torch.randn(in_channels, out_channels) * math.sqrt(1.0 / out_channels))
        self.Linear_bias = nn.Parameter(torch.zeros(1, 1, out_channels))
        self.Feature_Mask = nn.Parameter(torch.zeros(1, num_point, in_channels))
        self.bn = nn.BatchNorm1d(num_point * out_channels)
        self.register_buffer("shift_in", spatial_shift_index(num_point, in_channels, +1))
        self.register_buffer("shift_out", spatial_shift_index(num_point, out_channels, -1))
        if isinstance(self.down, nn.Sequential):
            nn.init.kaiming_normal_(self.down[0].weight, mode="fan_out")
            nn.init.zeros_(self.down[0].bias)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, V) -> (N, C_out, T, V)."""
        n, c, t, v = x0.shape
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v * c)
        x = torch.index_select(x, 1, self.shift_in).view(n * t, v, c)
        x = x * (torch.tanh(self.Feature_Mask) + 1)
        x = torch.matmul(x, self.Linear_weight) + self.Linear_bias
        x = torch.index_select(x.reshape(n * t, v * self.out_channels), 1, self.shift_out)
        x = self.bn(x).view(n, t, v, self.out_channels).permute(0, 3, 1, 2)
        return torch.relu(x + self.down(x0))


class ShiftTCN(nn.Module):
    """BN -> temporal shift -> 1x1 conv -> relu -> temporal shift (with stride) -> BN."""

    def __init__(self, channels: int, stride: int = 1, ypos_grad_rule: bool = False):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shift_in = TemporalShift(channels, 1, ypos_grad_rule=ypos_grad_rule)
        self.shift_out = TemporalShift(channels, stride, ypos_grad_rule=ypos_grad_rule)
        self.temporal_linear = nn.Conv2d(channels, channels, 1)
        nn.init.kaiming_normal_(self.temporal_linear.weight, mode="fan_out")
        nn.init.zeros_(self.temporal_linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) -> (N, C, T // stride, V)."""
        x = self.shift_in(self.bn(x))
        x = torch.relu(self.temporal_linear(x))
        return self.bn2(self.shift_out(x))


class ConvBN(nn.Module):
    """1x1 convolution with temporal stride, then BN: the residual path of l5 and l8."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, V) -> (N, C_out, ceil(T / stride), V)."""
        return self.bn(self.conv(x))


class ShiftUnit(nn.Module):
    """relu(tcn(gcn(x)) + residual(x))."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, residual: bool, num_point: int,
                 ypos_grad_rule: bool):
        super().__init__()
        self.gcn1 = ShiftGCNBlock(in_channels, out_channels, num_point)
        self.tcn1 = ShiftTCN(out_channels, stride, ypos_grad_rule)
        self.has_residual = residual
        if residual and (in_channels != out_channels or stride != 1):
            self.residual = ConvBN(in_channels, out_channels, stride)
        else:
            self.residual = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One unit of the backbone."""
        y = self.tcn1(self.gcn1(x))
        return torch.relu(y + self.residual(x)) if self.has_residual else torch.relu(y)


class ShiftGCN(nn.Module):
    """Shift-GCN joint stream: input (N, 3, T, 25, 2) with T a multiple of 4; 256-d feature; fc logits."""

    def __init__(self, num_class: int = 60, num_point: int = NUM_JOINTS, num_person: int = NUM_PERSONS,
                 in_channels: int = NUM_CHANNELS, ypos_grad_rule: bool = False):
        super().__init__()
        self.num_class, self.num_point, self.num_person, self.in_channels = num_class, num_point, num_person, in_channels
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * num_point)
        units = list(UNITS)
        units[0] = (in_channels, units[0][1], 1)
        for i, (cin, cout, stride) in enumerate(units, start=1):
            self.add_module(f"l{i}", ShiftUnit(cin, cout, stride, i != 1, num_point, ypos_grad_rule))
        self.fc = nn.Linear(FEATURE_DIM, num_class)
        nn.init.normal_(self.fc.weight, 0, math.sqrt(2.0 / num_class))
        nn.init.zeros_(self.fc.bias)
        self.row_trunk: nn.Module | None = None  # set on export copies (model/row_layout.py)

    def _check(self, x: torch.Tensor) -> None:
        expected = (self.in_channels, self.num_point, self.num_person)
        if x.dim() != 5 or (x.shape[1], x.shape[3], x.shape[4]) != expected:
            raise ValueError(f"ShiftGCN expects (N, {expected[0]}, T, {expected[1]}, {expected[2]}), "
                             f"got {tuple(x.shape)}")
        if x.shape[2] % 4:
            raise ValueError(f"ShiftGCN needs T to be a multiple of 4 (two stride-2 units), got T={x.shape[2]}")

    def units(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) -> the last unit's output, (N, 256, T/4, V) (or (N, 256, V, T/4) in the row layout)."""
        if self.row_trunk is not None and not self.training:  # its batch norms are folded: eval only
            return self.row_trunk(x)
        for i in range(1, len(UNITS) + 1):
            x = getattr(self, f"l{i}")(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) -> (N, 256): the input of `fc`, averaged over time, joints and persons."""
        self._check(x)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        return self.units(x).reshape(n, m, FEATURE_DIM, -1).mean(3).mean(1)

    def forward_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature (N, 256), logits (N, num_class))."""
        feature = self.forward_features(x)
        return feature, self.fc(feature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, num_class)."""
        return self.fc(self.forward_features(x))


def load_shift_gcn(path: str | os.PathLike, num_class: int | None = None, strict: bool = True,
                   ypos_grad_rule: bool = False) -> ShiftGCN:
    """Load a flat Shift-GCN state_dict (official or ours) safely; num_class defaults to fc.weight's rows."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or "fc.weight" not in state:
        raise ValueError(f"{path}: not a Shift-GCN state_dict (no 'fc.weight')")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    found = int(state["fc.weight"].shape[0])
    if num_class is not None and num_class != found:
        raise ValueError(f"{path}: fc has {found} classes, but num_class={num_class} was requested")
    model = ShiftGCN(num_class=found, ypos_grad_rule=ypos_grad_rule)
    model.load_state_dict(state, strict=strict)
    return model.eval()
