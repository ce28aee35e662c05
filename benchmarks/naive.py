"""The unfactorised scorer the factorised one is compared against: first layers on [x ; c_y] for every pair."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from model.gaussian import LOGVAR_MAX, LOGVAR_MIN, gaussian_nll, kl_diag_gaussians
from model.scorer import ScaleScorer


class NaiveScorer(nn.Module):
    """Same weights as a ScaleScorer, evaluated the textbook way: no per-class caching, no split layers.

    Every call recomputes the class conditioning c_y from the text features, then runs the encoder MLP on the
    concatenation [x ; c_y] and the decoder MLP on [z ; c_y] for each of the B*K pairs.
    """

    def __init__(self, scorer: ScaleScorer) -> None:
        super().__init__()
        self.scorer = scorer
        cfg = scorer.cfg
        self.beta = cfg.beta_inference
        self.enc_in = nn.Linear(cfg.feature_dim + cfg.cond_dim, cfg.encoder_hidden)
        self.dec_in = nn.Linear(cfg.latent_dim + cfg.cond_dim, cfg.decoder_hidden)
        with torch.no_grad():
            self.enc_in.weight.copy_(torch.cat([scorer.enc_x.weight, scorer.enc_cond.weight], dim=1))
            self.enc_in.bias.copy_(scorer.enc_cond.bias)
            self.dec_in.weight.copy_(torch.cat([scorer.dec_z.weight, scorer.dec_cond.weight], dim=1))
            self.dec_in.bias.copy_(scorer.dec_cond.bias)

    def forward(self, x: Tensor, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor) -> tuple[Tensor, Tensor]:
        """(energy (B,K), uncertainty (B,K)) with z = mu_q, recomputing everything per call."""
        sc = self.scorer
        c = sc.condition(text_global, text_tokens, token_mask)  # (K, Dc)
        prior_mu, prior_logvar = sc.prior(c).chunk(2, dim=-1)
        prior_logvar = prior_logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)
        b, k = x.shape[0], c.shape[0]
        xx = x.unsqueeze(1).expand(b, k, x.shape[1]).reshape(b * k, -1)
        cc = c.unsqueeze(0).expand(b, k, c.shape[1]).reshape(b * k, -1)
        h = nn.functional.silu(self.enc_in(torch.cat([xx, cc], dim=1)))
        mu_q, logvar_q = sc.enc_out(h).chunk(2, dim=-1)
        logvar_q = logvar_q.clamp(LOGVAR_MIN, LOGVAR_MAX)
        g = nn.functional.silu(self.dec_in(torch.cat([mu_q, cc], dim=1)))
        mu_d, logvar_d = sc.dec_out(g).chunk(2, dim=-1)
        recon = gaussian_nll(xx, mu_d, logvar_d.clamp(LOGVAR_MIN, LOGVAR_MAX)).sum(-1)
        pm = prior_mu.unsqueeze(0).expand(b, k, -1).reshape(b * k, -1)
        plv = prior_logvar.unsqueeze(0).expand(b, k, -1).reshape(b * k, -1)
        kl = kl_diag_gaussians(mu_q, logvar_q, pm, plv).sum(-1)
        energy = (recon + self.beta * kl).view(b, k)
        return energy, logvar_q.exp().mean(-1).view(b, k)
