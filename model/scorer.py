"""SCALE text-conditioned CVAE energy scorer: class side (per class, cacheable) and sample side (per pair)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from model.config import ScaleConfig
from model.gaussian import LOGVAR_MAX, LOGVAR_MIN, gaussian_nll, kl_diag_gaussians


class ClassSide(NamedTuple):
    """Per-class tensors, computed once per class set and broadcast against samples."""

    enc_c: Tensor  # (K, Hq) W_c c_y + b of the encoder's first layer
    dec_c: Tensor  # (K, Hd) W_c' c_y + b' of the decoder's first layer
    prior_mu: Tensor  # (K, Dz)
    prior_logvar: Tensor  # (K, Dz), clamped
    proto: Tensor  # (K, Dz) c_lat_y = g(h_y)


class ScoreOutput(NamedTuple):
    """Every (sample, class) pair's energy and its parts."""

    energy: Tensor  # (B, K) -ELBO = recon_nll + beta * kl
    recon_nll: Tensor  # (B, K) -log p(x|z,c)
    kl: Tensor  # (B, K) KL(q(z|x,c) || p(z|c))
    uncertainty: Tensor  # (B, K) mean over latent dims of sigma_q^2
    mu_q: Tensor  # (B, K, Dz)
    logvar_q: Tensor  # (B, K, Dz), clamped


def mlp(d_in: int, d_out: int, d_hidden: int | None = None) -> nn.Sequential:
    """One-hidden-layer MLP of hidden width d_in/4 (SPEC §2) with SiLU."""
    hidden = d_hidden if d_hidden is not None else max(1, d_in // 4)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, d_out))


def clamp_logvar(logvar: Tensor) -> Tensor:
    """Keep log-variances in [LOGVAR_MIN, LOGVAR_MAX] so exp() never over/underflows."""
    return logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)


class ScaleScorer(nn.Module):
    """The SCALE CVAE: text projection f_c, prior, encoder q(z|x,c), decoder p(x|z,c), prototype head g."""

    def __init__(self, cfg: ScaleConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg if cfg is not None else ScaleConfig()
        f, t, c, z = cfg.feature_dim, cfg.text_dim, cfg.cond_dim, cfg.latent_dim
        self.text_a = mlp(t, c)  # MLP_a on h_y
        self.text_b = mlp(t, c)  # MLP_b on mean_L(H_y)
        self.text_w = nn.Linear(2 * c, c)  # W on the concatenation
        self.prior = mlp(c, 2 * z)
        # first layers split so the class half is computed once per class (SPEC §2 cost shape)
        self.enc_x = nn.Linear(f, cfg.encoder_hidden, bias=False)
        self.enc_cond = nn.Linear(c, cfg.encoder_hidden)
        self.enc_out = nn.Linear(cfg.encoder_hidden, 2 * z)
        self.dec_z = nn.Linear(z, cfg.decoder_hidden, bias=False)
        self.dec_cond = nn.Linear(c, cfg.decoder_hidden)
        self.dec_out = nn.Linear(cfg.decoder_hidden, 2 * f)
        self.proto_head = mlp(t, z)  # g

    # ---- class side -------------------------------------------------------------------------------
    def condition(self, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor) -> Tensor:
        """c_y = W [MLP_a(h_y) ; MLP_b(mean_L H_y)], shape (K, cond_dim)."""
        if self.cfg.mask_text_tokens:
            m = token_mask.to(text_tokens.dtype).unsqueeze(-1)
            pooled = (text_tokens * m).sum(1) / m.sum(1).clamp_min(1.0)
        else:
            pooled = text_tokens.mean(1)
        return self.text_w(torch.cat([self.text_a(text_global), self.text_b(pooled)], dim=-1))

    def class_side_from_tensors(
        self, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Unchecked, export-friendly class side: (enc_c, dec_c, prior_mu, prior_logvar)."""
        c = self.condition(text_global, text_tokens, token_mask)
        prior_mu, prior_logvar = self.prior(c).chunk(2, dim=-1)
        return self.enc_cond(c), self.dec_cond(c), prior_mu, clamp_logvar(prior_logvar)

    def class_side(self, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor) -> ClassSide:
        """Per-class tensors for K classes from global (K,text_dim), tokens (K,L,text_dim), mask (K,L)."""
        self._check_text(text_global, text_tokens, token_mask)
        enc_c, dec_c, prior_mu, prior_logvar = self.class_side_from_tensors(text_global, text_tokens, token_mask)
        return ClassSide(enc_c, dec_c, prior_mu, prior_logvar, self.proto_head(text_global))

    def _check_text(self, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor) -> None:
        d = self.cfg.text_dim
        if text_global.dim() != 2 or text_global.shape[1] != d:
            raise ValueError(f"text_global must be (K, {d}), got {tuple(text_global.shape)}")
        k = text_global.shape[0]
        if text_tokens.dim() != 3 or text_tokens.shape[0] != k or text_tokens.shape[2] != d:
            raise ValueError(f"text_tokens must be ({k}, L, {d}), got {tuple(text_tokens.shape)}")
        if tuple(token_mask.shape) != tuple(text_tokens.shape[:2]):
            raise ValueError(f"token_mask must be {tuple(text_tokens.shape[:2])}, got {tuple(token_mask.shape)}")

    # ---- sample side ------------------------------------------------------------------------------
    def pair_forward(
        self, x: Tensor, enc_c: Tensor, dec_c: Tensor, prior_mu: Tensor, prior_logvar: Tensor,
        beta: float, eps: Tensor | None = None,
    ) -> ScoreOutput:
        """All B x K pairs in one broadcast pass; eps (B,K,Dz) makes z a reparameterised sample."""
        h = nn.functional.silu(self.enc_x(x).unsqueeze(1) + enc_c.unsqueeze(0))  # (B, K, Hq)
        mu_q, logvar_q = self.enc_out(h).chunk(2, dim=-1)
        logvar_q = clamp_logvar(logvar_q)
        z = mu_q if eps is None else mu_q + eps * torch.exp(0.5 * logvar_q)
        g = nn.functional.silu(self.dec_z(z) + dec_c.unsqueeze(0))  # (B, K, Hd)
        mu_d, logvar_d = self.dec_out(g).chunk(2, dim=-1)
        recon_nll = gaussian_nll(x.unsqueeze(1), mu_d, clamp_logvar(logvar_d)).sum(-1)
        kl = kl_diag_gaussians(mu_q, logvar_q, prior_mu.unsqueeze(0), prior_logvar.unsqueeze(0)).sum(-1)
        uncertainty = torch.exp(logvar_q).mean(-1)
        return ScoreOutput(recon_nll + beta * kl, recon_nll, kl, uncertainty, mu_q, logvar_q)

    def score_from_tensors(
        self, x: Tensor, enc_c: Tensor, dec_c: Tensor, prior_mu: Tensor, prior_logvar: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Deterministic inference graph (z = mu_q, beta = cfg.beta_inference): (energy, uncertainty)."""
        out = self.pair_forward(x, enc_c, dec_c, prior_mu, prior_logvar, self.cfg.beta_inference)
        return out.energy, out.uncertainty

    def score(
        self, x: Tensor, cls: ClassSide, beta: float | None = None, sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> ScoreOutput:
        """Score x (B, feature_dim) against every class of cls; sample=True draws one z per (b, k)."""
        f = self.cfg.feature_dim
        if x.dim() != 2 or x.shape[1] != f:
            raise ValueError(f"x must be (B, {f}) skeleton features, got {tuple(x.shape)}")
        if cls.enc_c.dim() != 2 or cls.enc_c.shape[1] != self.cfg.encoder_hidden:
            raise ValueError(f"cls.enc_c must be (K, {self.cfg.encoder_hidden}), got {tuple(cls.enc_c.shape)}")
        beta = self.cfg.beta_inference if beta is None else float(beta)
        if not sample:
            return self.pair_forward(x, cls.enc_c, cls.dec_c, cls.prior_mu, cls.prior_logvar, beta)
        shape = (x.shape[0], cls.enc_c.shape[0], self.cfg.latent_dim)
        eps = torch.randn(shape, dtype=x.dtype, device=x.device, generator=generator)
        return self.pair_forward(x, cls.enc_c, cls.dec_c, cls.prior_mu, cls.prior_logvar, beta, eps)

    def energy(self, x: Tensor, cls: ClassSide) -> Tensor:
        """Inference energies (B, K): lower is more compatible."""
        return self.score(x, cls).energy
