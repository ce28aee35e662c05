"""What makes N-process encoder training equal to one process at the same global batch (docs/training.md).

Three things differ between DistributedDataParallel and one process unless handled:

- batch normalisation: each process sees only its shard of the batch. torch's SyncBatchNorm refuses CPU
  tensors (gloo), so `GlobalBatchNorm` computes the statistics of the whole global batch with a
  differentiable all_reduce on any backend;
- batch composition: DistributedSampler interleaves its own permutation; `global_batches` gives each rank
  its slice of the single-process permutation, so every step trains on the same clips;
- Shift-GCN's ypos rule (0.01 sign(grad)): as a gradient hook it would run on each shard before the
  all_reduce; `apply_sign_rule` runs after it, on the averaged gradient, as one process does.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def world_size() -> int:
    """Processes in the initialised default group (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of each process's input is the sum of every process's gradient."""

    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce(x: torch.Tensor) -> torch.Tensor:
    """Differentiable sum of `x` over the default process group."""
    return _AllReduceSum.apply(x)


class GlobalBatchNorm(_BatchNorm):
    """BatchNorm1d/2d whose training statistics span every process's batch (gradients included)."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2-D, 3-D or 4-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Plain batch norm in one process or in eval mode; global-batch statistics otherwise."""
        if not self.training or world_size() == 1:
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        sums = all_reduce(torch.cat([x.sum(dims), count]))
        n = sums[-1].detach()
        mean = sums[:-1] / n
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / n  # biased, as batch norm normalises
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        return out


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm1d/2d in `module` by a GlobalBatchNorm with the same parameters and buffers."""
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        new.load_state_dict(module.state_dict())
        return new.to(next(module.buffers(), torch.empty(0)).device).train(module.training)
    for name, child in module.named_children():
        module.add_module(name, convert_batchnorm(child))
    return module


def match_grad_layout(model: nn.Module) -> nn.Module:
    """Give 1x1 convolution weights the channels-last layout their gradients come in.

    Shift-GCN feeds its `down` convolutions permuted (channels-last) activations, so their weight gradients
    are channels-last; DDP's buckets follow the parameter's layout and warned "Grad strides do not match
    bucket view strides" (an extra copy per step) until the two agree.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1):
            w = m.weight.data  # .contiguous(channels_last) is a no-op here: with 1x1 kernels both layouts match
            out_c, in_c = w.shape[:2]
            m.weight.data = torch.empty_strided(w.shape, (in_c, 1, in_c, in_c), dtype=w.dtype, device=w.device)
            m.weight.data.copy_(w)
    return model


def global_batches(order: list[int], batch_size: int, rank: int, world: int) -> list[list[int]]:
    """Rank `rank`'s share of each global batch of `batch_size * world` consecutive items of `order`."""
    step = batch_size * world
    return [order[s + rank * batch_size: s + (rank + 1) * batch_size]
            for s in range(0, len(order) - step + 1, step)]


def apply_sign_rule(model: nn.Module, step: float = 0.01) -> None:
    """The original ypos update rule on the (already averaged) gradients of every `ypos` parameter."""
    for name, p in model.named_parameters():
        if name.endswith("ypos") and p.grad is not None:
            p.grad.copy_(step * torch.sign(p.grad))
