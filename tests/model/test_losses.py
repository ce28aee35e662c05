"""SCALE losses against an independent NumPy float64 reference; ablation switches; a tiny training run."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import scale_numpy_ref as ref
import torch

from model.config import ScaleConfig
from model.losses import cyclical_beta, proto_loss, scale_loss, total_loss
from model.scorer import ScaleScorer

pytestmark = pytest.mark.unit
torch.set_num_threads(1)

SMALL = {"feature_dim": 12, "text_dim": 16, "cond_dim": 8, "latent_dim": 4}
K, B, SEED = 4, 6, 21


def make(seed: int = 0, **overrides) -> ScaleScorer:
    torch.manual_seed(seed)
    return ScaleScorer(ScaleConfig(**{**SMALL, **overrides})).double()


def problem(k: int = K, b: int = B, labels=None):
    gen = torch.Generator().manual_seed(2)
    g = torch.randn(k, 16, generator=gen, dtype=torch.float64)
    tok = torch.randn(k, 5, 16, generator=gen, dtype=torch.float64)
    mask = torch.ones(k, 5, dtype=torch.float64)
    mask[:, 3:] = 0
    x = torch.randn(b, 12, generator=gen, dtype=torch.float64)
    y = torch.tensor(labels if labels is not None else [0, 2, 2, 3, 0, 2])
    return x, y, (g, tok, mask)


def numpy_total(scorer: ScaleScorer, x, y, text, cfg: ScaleConfig, beta: float, seed: int) -> dict:
    """L_total from the NumPy reference, redrawing the same reparameterisation noise as total_loss."""
    g, tok, mask = (t.numpy() for t in text)
    w = ref.weights(scorer)
    cs = ref.class_side(w, g, tok, mask, cfg.mask_text_tokens)
    cand = sorted(set(y.tolist())) if cfg.negatives == "batch" else list(range(g.shape[0]))
    eps = torch.randn(len(y), len(cand), cfg.latent_dim, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64).numpy()
    nelbo, scale, proto, us = [], [], [], []
    for b, yb in enumerate(y.tolist()):
        xb = x[b].numpy()
        sampled = [ref.pair(w, xb, cs, c, beta, eps[b, j]) for j, c in enumerate(cand)]
        pos = sampled[cand.index(yb)]
        nelbo.append(pos["recon"] + beta * pos["kl"])
        us.append(pos["u"])
        src = sampled if cfg.scale_energy_mode == "sample" else [ref.pair(w, xb, cs, c, 1.0) for c in cand]
        energies = [p["recon"] + cfg.beta_inference * p["kl"] for p in src]
        negs = [(energies[j], ref.cos(g[yb], g[c])) for j, c in enumerate(cand) if c != yb]
        scale.append(ref.scale_term(energies[cand.index(yb)], negs, pos["u"], cfg))
        proto.append(ref.proto_term(pos["mu_q"], cs["proto"], yb, cfg.proto_temperature))
    out = {"nelbo": np.mean(nelbo), "scale": np.mean(scale) if cfg.use_scale_loss else 0.0,
           "proto": np.mean(proto) if cfg.use_proto_loss else 0.0, "uncertainty": np.mean(us)}
    out["total"] = out["nelbo"] + cfg.lambda_scale * out["scale"] + cfg.lambda_proto * out["proto"]
    return out


def run(cfg_overrides: dict, beta: float = 0.6, labels=None):
    scorer = make(**cfg_overrides)
    x, y, text = problem(labels=labels)
    got = total_loss(scorer, x, y, text, scorer.cfg, beta, generator=torch.Generator().manual_seed(SEED))
    return scorer, x, y, text, got


@pytest.mark.parametrize("overrides", [
    {}, {"negatives": "all_seen"}, {"scale_energy_mode": "mean"}, {"mask_text_tokens": False},
    {"alpha": 0.0}, {"alpha": 3.0}, {"gamma": 0.0}, {"beta_u": 0.0},
    {"use_scale_loss": False}, {"use_proto_loss": False}, {"negative_pool": "softmin"},
])
def test_total_loss_matches_numpy(overrides: dict) -> None:
    scorer, x, y, text, got = run(overrides)
    want = numpy_total(scorer, x, y, text, scorer.cfg, 0.6, SEED)
    for name in ("total", "nelbo", "scale", "proto", "uncertainty"):
        assert getattr(got, name).item() == pytest.approx(want[name], rel=1e-5, abs=1e-12), name


def test_scale_loss_switches_reduce_to_their_closed_forms() -> None:
    gen = torch.Generator().manual_seed(3)
    e = torch.randn(5, 4, generator=gen, dtype=torch.float64) * 3
    sim = torch.rand(5, 4, generator=gen, dtype=torch.float64)
    u = torch.rand(5, generator=gen, dtype=torch.float64)
    neg = torch.ones(5, 4, dtype=torch.bool)
    neg[:, 0] = False  # column 0 is the positive
    e_pos = e[:, 0]
    plain = torch.logsumexp(e[:, 1:], dim=1)  # alpha = 0: no similarity term
    base = ScaleConfig(**SMALL)
    cases = {
        "alpha0": (dict(alpha=0.0), torch.exp(-2.0 * u) * torch.nn.functional.softplus(e_pos - plain + 1.0 - 0.5 * u)),
        "gamma0": (dict(gamma=0.0), torch.nn.functional.softplus(
            e_pos - torch.logsumexp(e[:, 1:] + sim[:, 1:], dim=1) + 1.0 - 0.5 * u)),
        "beta_u0": (dict(beta_u=0.0), torch.exp(-2.0 * u) * torch.nn.functional.softplus(
            e_pos - torch.logsumexp(e[:, 1:] + sim[:, 1:], dim=1) + 1.0)),
    }
    for name, (over, per_sample) in cases.items():
        cfg = dataclasses.replace(base, **over)
        assert scale_loss(e_pos, e, neg, sim, u, cfg).item() == pytest.approx(per_sample.mean().item(), rel=1e-12), name
    # beta_u = 0 and gamma = 0: u no longer matters at all
    cfg = dataclasses.replace(base, beta_u=0.0, gamma=0.0)
    assert scale_loss(e_pos, e, neg, sim, u, cfg).item() == scale_loss(e_pos, e, neg, sim, u * 0 + 7.0, cfg).item()


def test_softmin_pool_is_led_by_the_hardest_negative() -> None:
    # energies: positive 0, negatives 1 (hard) and 50 (easy); alpha = 0 so similarity plays no part
    e = torch.tensor([[0.0, 1.0, 50.0]], dtype=torch.float64)
    neg = torch.tensor([[False, True, True]])
    sim, u = torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    cfg = dataclasses.replace(ScaleConfig(**SMALL), alpha=0.0, beta_u=0.0, gamma=0.0, tau=1.0)
    spec = scale_loss(e[:, 0], e, neg, sim, u, cfg).item()
    soft = scale_loss(e[:, 0], e, neg, sim, u, dataclasses.replace(cfg, negative_pool="softmin")).item()
    # hand values: spec E_neg = log(e^1 + e^50); softmin E_neg = -log(e^-1 + e^-50)
    assert spec == pytest.approx(math.log1p(math.exp(0 - math.log(math.exp(1) + math.exp(50)) + 1)), rel=1e-12)
    assert soft == pytest.approx(math.log1p(math.exp(0 + math.log(math.exp(-1) + math.exp(-50)) + 1)), rel=1e-12)
    assert soft > 0.6 and spec < 1e-20  # only the softmin pool still feels the hard negative at the margin


def test_loss_switches_zero_only_their_term() -> None:
    _, _, _, _, full = run({})
    _, _, _, _, no_scale = run({"use_scale_loss": False})
    _, _, _, _, no_proto = run({"use_proto_loss": False})
    assert full.scale.item() > 0 and full.proto.item() > 0
    assert no_scale.scale.item() == 0.0 and no_proto.proto.item() == 0.0
    assert no_scale.nelbo.item() == full.nelbo.item() and no_scale.proto.item() == full.proto.item()
    assert no_proto.nelbo.item() == full.nelbo.item() and no_proto.scale.item() == full.scale.item()
    assert no_scale.total.item() == pytest.approx(full.nelbo.item() + 0.5 * full.proto.item(), rel=1e-12)
    assert no_proto.total.item() == pytest.approx(full.nelbo.item() + full.scale.item(), rel=1e-12)


def scale_grad(overrides: dict) -> torch.Tensor:
    scorer, *_, got = run({"use_proto_loss": False, **overrides})
    got.scale.backward()
    return scorer.enc_out.bias.grad[4:].clone()  # the logvar_q half: reached through u only via the weight/margin


def test_stop_grad_uncertainty_cuts_the_u_path() -> None:
    on, off = scale_grad({"stop_grad_uncertainty": True}), scale_grad({"stop_grad_uncertainty": False})
    assert (on - off).abs().max() > 1e-8
    # with u out of the loss (gamma = beta_u = 0) the switch makes no difference
    neutral = {"gamma": 0.0, "beta_u": 0.0}
    torch.testing.assert_close(scale_grad({**neutral, "stop_grad_uncertainty": True}),
                               scale_grad({**neutral, "stop_grad_uncertainty": False}))


def test_single_class_batch_has_no_negatives_and_finite_gradients() -> None:
    scorer, *_, got = run({}, labels=[1] * B)
    assert got.scale.item() == 0.0
    got.total.backward()
    assert all(torch.isfinite(p.grad).all() for p in scorer.parameters() if p.grad is not None)


def test_proto_loss_matches_numpy() -> None:
    gen = torch.Generator().manual_seed(9)
    mu = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    protos = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 2])
    want = np.mean([ref.proto_term(mu[b].numpy(), protos.numpy(), int(y[b]), 0.2) for b in range(5)])
    assert proto_loss(mu, protos, y, 0.2).item() == pytest.approx(want, rel=1e-10)


def test_bad_labels_raise() -> None:
    scorer = make()
    x, _, text = problem()
    with pytest.raises(ValueError, match="labels must index the 4 classes"):
        total_loss(scorer, x, torch.tensor([0, 1, 2, 3, 4, 0]), text, scorer.cfg, 1.0)
    with pytest.raises(ValueError, match=r"y must be \(B,\)"):
        total_loss(scorer, x, torch.tensor([0, 1]), text, scorer.cfg, 1.0)


def test_cyclical_beta_hand_values() -> None:
    # 100 steps, 4 cycles of 25 steps, ramp over the first half (12.5 steps)
    assert cyclical_beta(0, 100) == 0.0
    assert cyclical_beta(5, 100) == pytest.approx(5 / 12.5)
    assert cyclical_beta(13, 100) == 1.0 and cyclical_beta(24, 100) == 1.0
    assert cyclical_beta(25, 100) == 0.0 and cyclical_beta(30, 100) == pytest.approx(5 / 12.5)
    assert cyclical_beta(10, 100, cycles=1, ramp=1.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="total_steps"):
        cyclical_beta(0, 0)


@pytest.mark.integration
def test_a_few_adamw_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    scorer = ScaleScorer(ScaleConfig(**SMALL))
    gen = torch.Generator().manual_seed(1)
    centres = torch.randn(K, 12, generator=gen) * 2
    y = torch.arange(32) % K
    x = centres[y] + 0.3 * torch.randn(32, 12, generator=gen)
    text = (torch.randn(K, 16, generator=gen), torch.randn(K, 5, 16, generator=gen), torch.ones(K, 5))

    def loss() -> torch.Tensor:
        return total_loss(scorer, x, y, text, scorer.cfg, 1.0, generator=torch.Generator().manual_seed(0)).total

    with torch.no_grad():
        before = loss().item()
    opt = torch.optim.AdamW(scorer.parameters(), lr=1e-2, weight_decay=1e-3)
    for _ in range(30):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = loss().item()
    assert after < before - 0.1 * abs(before)
