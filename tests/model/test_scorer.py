"""ScaleScorer against an independent NumPy float64 reference, plus batching, determinism and input checks."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scale_numpy_ref as ref
import torch

from model.config import ScaleConfig
from model.gaussian import gaussian_nll, kl_diag_gaussians
from model.scorer import ClassSide, ScaleScorer

pytestmark = pytest.mark.unit
torch.set_num_threads(1)

SMALL = {"feature_dim": 12, "text_dim": 16, "cond_dim": 8, "latent_dim": 4}


def make(seed: int = 0, dtype=torch.float64, **overrides) -> ScaleScorer:
    torch.manual_seed(seed)
    return ScaleScorer(ScaleConfig(**{**SMALL, **overrides})).to(dtype)


def texts(k: int, length: int = 6, dim: int = 16, seed: int = 1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(k, dim, generator=gen, dtype=dtype)
    tokens = torch.randn(k, length, dim, generator=gen, dtype=dtype)
    real = torch.randint(2, length + 1, (k,), generator=gen)
    mask = (torch.arange(length).unsqueeze(0) < real.unsqueeze(1)).to(dtype)
    return g, tokens, mask


def np_(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


@pytest.mark.parametrize("masked", [True, False])
def test_class_side_matches_numpy(masked: bool) -> None:
    scorer = make(mask_text_tokens=masked)
    g, tok, mask = texts(3)
    got = scorer.class_side(g, tok, mask)
    want = ref.class_side(ref.weights(scorer), np_(g), np_(tok), np_(mask), masked)
    for name in ClassSide._fields:
        np.testing.assert_allclose(np_(getattr(got, name)), want[name], rtol=1e-5, atol=1e-12, err_msg=name)


def test_masked_pooling_ignores_padding_tokens() -> None:
    g, tok, mask = texts(2)
    noisy = tok + 5.0 * (1.0 - mask).unsqueeze(-1)
    masked, unmasked = make(mask_text_tokens=True), make(mask_text_tokens=False)
    torch.testing.assert_close(masked.class_side(g, noisy, mask).enc_c, masked.class_side(g, tok, mask).enc_c)
    diff = unmasked.class_side(g, noisy, mask).enc_c - unmasked.class_side(g, tok, mask).enc_c
    assert diff.abs().max() > 1e-3


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_deterministic_score_matches_numpy(beta: float) -> None:
    scorer = make()
    g, tok, mask = texts(4)
    cls = scorer.class_side(g, tok, mask)
    x = torch.randn(3, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = scorer.score(x, cls, beta=beta)
    w, cs = ref.weights(scorer), {k: np_(v) for k, v in cls._asdict().items()}
    for b in range(3):
        for k in range(4):
            want = ref.pair(w, np_(x[b]), cs, k, beta)
            assert out.energy[b, k].item() == pytest.approx(want["energy"], rel=1e-5)
            assert out.recon_nll[b, k].item() == pytest.approx(want["recon"], rel=1e-5)
            assert out.kl[b, k].item() == pytest.approx(want["kl"], rel=1e-5)
            assert out.uncertainty[b, k].item() == pytest.approx(want["u"], rel=1e-5)
            np.testing.assert_allclose(np_(out.mu_q[b, k]), want["mu_q"], rtol=1e-5, atol=1e-12)


def test_sampled_score_matches_numpy_with_the_same_noise() -> None:
    scorer = make()
    cls = scorer.class_side(*texts(3))
    x = torch.randn(2, 12, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    out = scorer.score(x, cls, beta=0.5, sample=True, generator=torch.Generator().manual_seed(11))
    eps = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    w, cs = ref.weights(scorer), {k: np_(v) for k, v in cls._asdict().items()}
    for b in range(2):
        for k in range(3):
            want = ref.pair(w, np_(x[b]), cs, k, 0.5, eps=np_(eps[b, k]))
            assert out.energy[b, k].item() == pytest.approx(want["energy"], rel=1e-5)
    assert not torch.allclose(out.energy, scorer.score(x, cls, beta=0.5).energy)


def test_gaussian_helpers_match_closed_forms() -> None:
    gen = np.random.default_rng(0)
    mq, mp, x = gen.normal(size=5), gen.normal(size=5), gen.normal(size=5)
    lvq, lvp = gen.normal(size=5), gen.normal(size=5)
    t = [torch.from_numpy(a) for a in (mq, lvq, mp, lvp)]
    assert kl_diag_gaussians(*t).sum().item() == pytest.approx(ref.kl(mq, lvq, mp, lvp), rel=1e-10)
    assert kl_diag_gaussians(t[0], t[1], t[0], t[1]).abs().max().item() < 1e-12
    nll = gaussian_nll(torch.from_numpy(x), t[0], t[1]).sum().item()
    assert nll == pytest.approx(-ref.log_normal(x, mq, np.exp(lvq)), rel=1e-10)
    # the 0.5*log(2*pi) constant: a standard normal at its mean
    assert gaussian_nll(torch.zeros(1), torch.zeros(1), torch.zeros(1)).item() == pytest.approx(0.5 * math.log(2 * math.pi))


def test_batched_equals_one_class_at_a_time() -> None:
    scorer = make(dtype=torch.float32)
    cls = scorer.class_side(*texts(5, dtype=torch.float32))
    x = torch.randn(4, 12, generator=torch.Generator().manual_seed(3))
    full = scorer.score(x, cls)
    for k in range(5):
        one = scorer.score(x, ClassSide(*(t[k : k + 1] for t in cls)))
        torch.testing.assert_close(one.energy[:, 0], full.energy[:, k], rtol=1e-6, atol=1e-5)
        torch.testing.assert_close(one.uncertainty[:, 0], full.uncertainty[:, k], rtol=1e-6, atol=1e-7)


def test_two_runs_give_bit_identical_energies_and_rankings() -> None:
    scorer = make(dtype=torch.float32)
    cls = scorer.class_side(*texts(6, dtype=torch.float32))
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(4))
    first, second = scorer.energy(x, cls), scorer.energy(x.clone(), cls)
    assert torch.equal(first, second)
    assert torch.equal(first.argsort(dim=1), second.argsort(dim=1))


def test_score_from_tensors_is_score_at_inference_beta() -> None:
    scorer = make(beta_inference=0.8)
    cls = scorer.class_side(*texts(3))
    x = torch.randn(2, 12, dtype=torch.float64)
    energy, unc = scorer.score_from_tensors(x, cls.enc_c, cls.dec_c, cls.prior_mu, cls.prior_logvar)
    out = scorer.score(x, cls)
    assert torch.equal(energy, out.energy) and torch.equal(unc, out.uncertainty)
    torch.testing.assert_close(energy, out.recon_nll + 0.8 * out.kl)


def test_logvars_are_clamped_so_energies_stay_finite() -> None:
    scorer = make()
    with torch.no_grad():
        scorer.enc_out.bias[4:] = 1e4  # logvar_q far above the clamp
        scorer.dec_out.bias[12:] = -1e4  # logvar_d far below it
    out = scorer.score(torch.randn(2, 12, dtype=torch.float64), scorer.class_side(*texts(2)))
    assert torch.isfinite(out.energy).all()
    torch.testing.assert_close(out.uncertainty, torch.full_like(out.uncertainty, math.exp(10.0)))


def test_bad_shapes_raise_clear_errors() -> None:
    scorer = make()
    g, tok, mask = texts(3)
    with pytest.raises(ValueError, match="text_global"):
        scorer.class_side(g[:, :5], tok, mask)
    with pytest.raises(ValueError, match="text_tokens"):
        scorer.class_side(g, tok[:2], mask)
    with pytest.raises(ValueError, match="token_mask"):
        scorer.class_side(g, tok, mask[:, :3])
    with pytest.raises(ValueError, match=r"x must be \(B, 12\)"):
        scorer.score(torch.zeros(2, 7, dtype=torch.float64), scorer.class_side(g, tok, mask))


class _SampleSide(torch.nn.Module):
    def __init__(self, scorer: ScaleScorer) -> None:
        super().__init__()
        self.scorer = scorer

    def forward(self, x, enc_c, dec_c, prior_mu, prior_logvar):
        return self.scorer.score_from_tensors(x, enc_c, dec_c, prior_mu, prior_logvar)


@pytest.mark.integration
def test_sample_side_exports_to_onnx_with_dynamic_batch_and_classes(tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    scorer = make(dtype=torch.float32).eval()
    cls = scorer.class_side(*texts(3, dtype=torch.float32))
    args = (torch.randn(2, 12),) + tuple(t.detach() for t in cls[:4])
    b, k = torch.export.Dim("B"), torch.export.Dim("K")
    torch.onnx.export(_SampleSide(scorer).eval(), args, tmp_path / "s.onnx", dynamo=True,
                      input_names=["feature", "enc_c", "dec_c", "prior_mu", "prior_logvar"],
                      output_names=["energy", "uncertainty"],
                      dynamic_shapes=({0: b}, {0: k}, {0: k}, {0: k}, {0: k}))
    session = ort.InferenceSession(str(tmp_path / "s.onnx"), providers=["CPUExecutionProvider"])
    other = scorer.class_side(*texts(5, seed=8, dtype=torch.float32))  # new K and B than at export
    x = torch.randn(4, 12)
    feed = {n: np_(getattr(other, n)) for n in ("enc_c", "dec_c", "prior_mu", "prior_logvar")}
    energy, unc = session.run(None, {"feature": x.numpy(), **feed})
    want = scorer.score(x, other)
    np.testing.assert_allclose(energy, np_(want.energy), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(unc, np_(want.uncertainty), rtol=1e-5, atol=1e-6)


_ONE_RUN = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from model.config import ScaleConfig
from model.scorer import ScaleScorer
torch.manual_seed(0)
scorer = ScaleScorer(ScaleConfig(feature_dim=12, text_dim=16, cond_dim=8, latent_dim=4)).eval()
gen = torch.Generator().manual_seed(1)
g, tokens = torch.randn(6, 16, generator=gen), torch.randn(6, 6, 16, generator=gen)
mask = (torch.arange(6).unsqueeze(0) < torch.randint(2, 7, (6,), generator=gen).unsqueeze(1)).float()
x = torch.randn(5, 12, generator=torch.Generator().manual_seed(4))
with torch.no_grad():
    energy = scorer.energy(x, scorer.class_side(g, tokens, mask))
np.save(sys.argv[1], energy.numpy(), allow_pickle=False)
"""


def test_two_processes_give_bit_identical_energies_and_rankings(tmp_path) -> None:
    repo = Path(__file__).resolve().parents[2]
    outs = [tmp_path / f"run{i}.npy" for i in range(2)]
    for i, out in enumerate(outs):  # separate interpreters, different hash seeds: nothing shared in memory
        env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONHASHSEED": str(i + 11)}
        subprocess.run([sys.executable, "-c", _ONE_RUN, str(out)], cwd=repo, env=env, check=True, timeout=300)
    first, second = (np.load(out, allow_pickle=False) for out in outs)
    assert first.shape == (5, 6) and np.isfinite(first).all()
    assert first.tobytes() == second.tobytes()
    assert (first.argsort(axis=1) == second.argsort(axis=1)).all()
