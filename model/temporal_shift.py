"""Shift-GCN's per-channel fractional temporal shift as a fixed depthwise (K,1) convolution (ONNX-exportable).

The original is a CUDA extension: out[c,t] = (1-d_c) x[c, t*s+y1_c] + d_c x[c, t*s+y1_c+1], zero outside,
y_c = ypos[c] (+0.5 when s = 2), y1_c = floor(y_c), d_c = y_c - y1_c, output length floor(T/s). The same
interpolation weights come from a "hat" function of the offset, w[c,k] = relu(1 - |y_c - (k - P)|), which
is also differentiable in ypos with the original's bilinear gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def shift_radius(ypos: torch.Tensor, stride: int) -> int:
    """Half-width P of the kernel so that every y1_c and y1_c + 1 lies in [-P, P]."""
    offset = 0.5 if stride == 2 else 0.0
    with torch.no_grad():
        reach = float((ypos.detach().abs() + offset).max()) if ypos.numel() else 0.0
    if not math.isfinite(reach):
        raise ValueError("temporal shift positions (ypos) must be finite")
    return int(math.floor(reach)) + 1


def temporal_shift_kernel(ypos: torch.Tensor, stride: int = 1) -> tuple[torch.Tensor, int]:
    """Depthwise conv weight (C, 1, K, 1) with K = 2P+1, and the padding P, for shifts `ypos` (C,)."""
    if stride not in (1, 2):
        raise ValueError(f"temporal shift stride must be 1 or 2, got {stride}")
    if ypos.dim() != 1:
        raise ValueError(f"ypos must be 1-D (channels,), got shape {tuple(ypos.shape)}")
    pad = shift_radius(ypos, stride)
    y = ypos + (0.5 if stride == 2 else 0.0)
    offsets = torch.arange(-pad, pad + 1, dtype=ypos.dtype, device=ypos.device)
    weight = torch.relu(1.0 - (y[:, None] - offsets[None, :]).abs())
    return weight[:, None, :, None], pad


def temporal_shift(x: torch.Tensor, ypos: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Shift (N, C, T, V) along T per channel by `ypos` with linear interpolation; output T is floor(T/s)."""
    if x.dim() != 4 or x.shape[1] != ypos.shape[0]:
        raise ValueError(f"expected x (N, {ypos.shape[0]}, T, V), got shape {tuple(x.shape)}")
    weight, pad = temporal_shift_kernel(ypos.to(x.dtype), stride)
    out = F.conv2d(x, weight, stride=(stride, 1), padding=(pad, 0), groups=x.shape[1])
    # the convolution yields ceil(T/s) rows; the original kernel yields floor(T/s)
    return out[:, :, : x.shape[2] // stride]


def _sign_rule(grad: torch.Tensor) -> torch.Tensor:
    """The original's ypos update rule: a fixed-size step in the gradient's direction."""
    return 0.01 * torch.sign(grad)


class TemporalShift(nn.Module):
    """The original `Shift` module: parameters `xpos` (kept for loading, identity, untrained) and `ypos`."""

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0, ypos_grad_rule: bool = False):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"temporal shift stride must be 1 or 2, got {stride}")
        self.stride = stride
        self.xpos = nn.Parameter(torch.empty(channels).uniform_(-1e-8, 1e-8), requires_grad=False)
        self.ypos = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))
        if ypos_grad_rule:
            self.ypos.register_hook(_sign_rule)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the per-channel temporal shift to (N, C, T, V)."""
        return temporal_shift(x, self.ypos, self.stride)
