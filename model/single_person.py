"""Exact single-person path of Shift-GCN: run only the real person and add the absent person's constant.

The encoder folds persons into the batch after `data_bn` and averages the two per-person pooled features
at the end, so persons never interact. When the second person of a preprocessed sequence is all zeros, its
per-person feature depends only on the weights and T: `data_bn` maps the zero input to its per-(person,
joint, channel) bias term `beta - mean * gamma / sqrt(var + eps)` (not zero), and the trunk of that constant
input is a fixed 256-d vector. The 256-d feature is then `(trunk(person 0) + absent) / 2`, exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import FEATURE_DIM
from model.person_slots import second_person_absent  # noqa: F401  (re-exported: one import for torch users)
from model.shift_gcn import ShiftGCN


def person_trunk(model: ShiftGCN, x: torch.Tensor, slot: int) -> torch.Tensor:
    """(N, C, T, V) skeleton of person `slot` -> (N, 256): data_bn of that slot, the 10 units, pooled over T, V."""
    n, c, t, v = x.shape
    width = v * c
    bn = model.data_bn
    part = slice(slot * width, (slot + 1) * width)  # data_bn's channel index is m*V*C + v*C + c
    y = x.permute(0, 3, 1, 2).reshape(n, width, t)
    y = F.batch_norm(y, bn.running_mean[part], bn.running_var[part], bn.weight[part], bn.bias[part],
                     False, 0.0, bn.eps)
    y = y.view(n, v, c, t).permute(0, 2, 3, 1)
    return model.units(y).reshape(n, FEATURE_DIM, -1).mean(2)


class SinglePersonEncoder(nn.Module):
    """(N, C, T, V) first person -> (N, 256) encoder feature of the sequence whose second person is absent."""

    def __init__(self, model: ShiftGCN, num_frames: int) -> None:
        super().__init__()
        if model.training:
            raise ValueError("SinglePersonEncoder needs an encoder in eval mode (data_bn running statistics)")
        if model.num_person != 2:
            raise ValueError(f"the single-person path needs a two-person encoder, got num_person={model.num_person}")
        self.model, self.num_frames = model, num_frames
        self.register_buffer("absent", absent_feature(model, num_frames))

    def forward(self, person: torch.Tensor) -> torch.Tensor:
        """Mean over the two persons: (trunk(person 0) + absent person's constant) / 2."""
        if person.dim() != 4 or person.shape[2] != self.num_frames:
            raise ValueError(f"expected (N, C, {self.num_frames}, V) first-person input, got {tuple(person.shape)}")
        return (person_trunk(self.model, person, 0) + self.absent) / 2


@torch.no_grad()
def absent_feature(model: ShiftGCN, num_frames: int) -> torch.Tensor:
    """(256,) pooled per-person feature of an all-zero person in slot 1 (a constant of the weights and T)."""
    param = next(model.parameters())
    zeros = torch.zeros(1, model.in_channels, num_frames, model.num_point, dtype=param.dtype, device=param.device)
    return person_trunk(model, zeros, 1)[0]


@torch.no_grad()
def features_split(model: ShiftGCN, single: SinglePersonEncoder | None, x: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V, M) -> (N, 256): the single-person path for rows whose second person is absent."""
    if single is None or x.shape[2] != single.num_frames:
        return model.forward_features(x)
    absent = ~x[..., 1].reshape(x.shape[0], -1).any(1)
    if not bool(absent.any()):
        return model.forward_features(x)
    out = torch.empty(x.shape[0], FEATURE_DIM, dtype=x.dtype, device=x.device)
    out[absent] = single(x[absent][..., 0])
    if not bool(absent.all()):
        out[~absent] = model.forward_features(x[~absent])
    return out
