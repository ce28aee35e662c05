"""SCALE training objective: -ELBO + lambda1 * L_SCALE + lambda2 * L_proto, and the cyclical beta schedule."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.config import ScaleConfig
from model.scorer import ScaleScorer


class LossOutput(NamedTuple):
    """Batch-mean loss terms; `total` carries the gradient, the others are its parts (already weighted 1)."""

    total: Tensor
    nelbo: Tensor
    scale: Tensor
    proto: Tensor
    uncertainty: Tensor  # mean u at the positive class (detached)


def cyclical_beta(step: int, total_steps: int, cycles: int = 4, ramp: float = 0.5) -> float:
    """KL weight: within each of `cycles` equal cycles, 0 -> 1 linearly over the first `ramp` fraction, then 1."""
    if total_steps <= 0 or cycles <= 0 or not 0.0 < ramp <= 1.0:
        raise ValueError(f"need total_steps > 0, cycles > 0, 0 < ramp <= 1; got {total_steps}, {cycles}, {ramp}")
    period = total_steps / cycles
    phase = (min(max(step, 0), total_steps - 1) % period) / period
    return float(min(1.0, phase / ramp))


def scale_loss(
    e_pos: Tensor, e_cand: Tensor, neg_mask: Tensor, sim: Tensor, u: Tensor, cfg: ScaleConfig
) -> Tensor:
    """Batch mean of exp(-gamma u) softplus(E+ - logsumexp_neg(E_j + alpha s_j) + tau - beta_u u).

    e_pos (B,), e_cand (B,J) energies against J candidate classes, neg_mask (B,J) bool marks the negatives
    of each sample, sim (B,J) cosine of the positive's and candidate's global text embeddings, u (B,).
    A sample without any negative contributes 0.
    """
    has_neg = neg_mask.any(dim=1)
    sign = -1.0 if cfg.negative_pool == "softmin" else 1.0  # softmin: E_neg = -logsumexp(-E_j + alpha s_j)
    logits = torch.where(neg_mask, sign * e_cand + cfg.alpha * sim, torch.full_like(e_cand, -torch.inf))
    # rows without negatives would give logsumexp(-inf...) = -inf and NaN gradients: make them finite, drop later
    logits = torch.where(has_neg.unsqueeze(1), logits, torch.zeros_like(logits))
    delta = e_pos - sign * torch.logsumexp(logits, dim=1) + cfg.tau - cfg.beta_u * u
    per_sample = torch.exp(-cfg.gamma * u) * F.softplus(delta)
    return torch.where(has_neg, per_sample, torch.zeros_like(per_sample)).mean()


def proto_loss(mu_pos: Tensor, proto: Tensor, y: Tensor, temperature: float) -> Tensor:
    """Cross-entropy of cos(mu_q(x, c_y+), c_lat_j) / temperature over all K classes, target y."""
    logits = F.normalize(mu_pos, dim=-1) @ F.normalize(proto, dim=-1).T / temperature
    return F.cross_entropy(logits, y)


def as_text_tensors(text: Any, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(global, tokens, mask) from a TextFeatures-like object or a 3-sequence, as tensors like `like`."""
    parts = (text.global_emb, text.tokens, text.mask) if hasattr(text, "global_emb") else tuple(text)
    if len(parts) != 3:
        raise ValueError("text must be TextFeatures or (global (K,D), tokens (K,L,D), mask (K,L))")
    return tuple(  # type: ignore[return-value]
        torch.as_tensor(np.asarray(p) if not isinstance(p, Tensor) else p).to(like.device, like.dtype) for p in parts
    )


def total_loss(
    scorer: ScaleScorer, x: Tensor, y: Tensor, text: Any, cfg: ScaleConfig | None = None,
    beta: float = 1.0, generator: torch.Generator | None = None, class_side: Any = None,
) -> LossOutput:
    """L_total for features x (B, feature_dim) with labels y (B,) indexing the K classes of `text`.

    `class_side` (a ClassSide of the K classes, e.g. averaged over several texts per class) replaces
    scorer.class_side(text); `text` then only supplies the global embeddings of the similarity term.
    """
    cfg = cfg if cfg is not None else scorer.cfg
    g, tokens, mask = as_text_tensors(text, x)
    k = g.shape[0]
    y = torch.as_tensor(y, device=x.device).long()
    if y.dim() != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"y must be (B,) = ({x.shape[0]},), got {tuple(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= k):
        raise ValueError(f"labels must index the {k} classes of the class set, got range [{int(y.min())}, {int(y.max())}]")
    cls = scorer.class_side(g, tokens, mask) if class_side is None else class_side
    # candidates: classes present in the batch ("batch") or the whole class set ("all_seen")
    cand = torch.unique(y) if cfg.negatives == "batch" else torch.arange(k, device=x.device)
    pos = torch.searchsorted(cand, y)  # column of y_b among the candidates
    sub = type(cls)(*(t[cand] for t in cls))
    out = scorer.score(x, sub, beta=beta, sample=True, generator=generator)
    rows = torch.arange(x.shape[0], device=x.device)
    nelbo = (out.recon_nll[rows, pos] + beta * out.kl[rows, pos]).mean()
    u_pos = out.uncertainty[rows, pos]
    zero = x.new_zeros(())
    scale = zero
    if cfg.use_scale_loss:
        src = out if cfg.scale_energy_mode == "sample" else scorer.score(x, sub, beta=cfg.beta_inference)
        e_cand = src.recon_nll + cfg.beta_inference * src.kl  # the energy that ranks at inference
        gn = F.normalize(g, dim=-1)
        sim = gn[y] @ gn[cand].T
        neg_mask = cand.unsqueeze(0) != y.unsqueeze(1)
        u = u_pos.detach() if cfg.stop_grad_uncertainty else u_pos
        scale = scale_loss(e_cand[rows, pos], e_cand, neg_mask, sim, u, cfg)
    proto = proto_loss(out.mu_q[rows, pos], cls.proto, y, cfg.proto_temperature) if cfg.use_proto_loss else zero
    total = nelbo + cfg.lambda_scale * scale + cfg.lambda_proto * proto
    return LossOutput(total, nelbo, scale, proto, u_pos.detach().mean())
