"""Why `elbo_only` and `full` ablation rows can coincide: the sizes of the loss terms on a trained run.

    PYTHONPATH=. python -m benchmarks.loss_scales --config RUN.toml [--seed 0] > benchmarks/results/loss_scales.txt

Reads the run's features, its scorer (`scorer/seed<n>/scorer.pt`) and its class texts, and prints, over the
training features: the feature scale; the negative ELBO; the SCALE term's margin argument
delta = E+ - logsumexp_neg(E_j + alpha s_j) + tau - beta_u u (model/losses.py) and its softplus; and the
decoder's log-variances (how many sit at the clamp, which is what turns a small miss into a huge NLL).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from model.gaussian import LOGVAR_MIN
from training.config import load_config
from training.pipeline import features_dir, split_of
from training.readers import read_feature_folder
from training.scorer_train import load_scorer
from training.stages import texts_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config)
    split = split_of(cfg)
    folder = read_feature_folder(features_dir(cfg), split)
    scorer, meta = load_scorer(cfg.out / "scorer" / f"seed{args.seed}" / "scorer.pt")
    mc = scorer.cfg
    seen = list(split.seen)
    g, tok, mask = (torch.as_tensor(a) for a in texts_for(cfg).take(seen))
    x = torch.as_tensor(folder.train.features)
    y = torch.as_tensor(np.searchsorted(seen, folder.train.labels))
    with torch.no_grad():
        cls = scorer.class_side(g, tok, mask)
        out = scorer.score(x, cls, beta=mc.beta_inference)
        rows = torch.arange(len(x))
        e_pos = out.energy[rows, y]
        sim = F.normalize(g, dim=-1)[y] @ F.normalize(g, dim=-1).T
        neg = torch.ones_like(out.energy, dtype=torch.bool)
        neg[rows, y] = False
        pool = torch.logsumexp(torch.where(neg, out.energy + mc.alpha * sim, -torch.inf), dim=1)
        hardest = torch.where(neg, out.energy, torch.inf).min(dim=1).values
        delta = e_pos - pool + mc.tau - mc.beta_u * out.uncertainty[rows, y]
        z = out.mu_q[rows, y]
        h = F.silu(scorer.dec_z(z) + cls.dec_c[y])
        logvar_d = scorer.dec_out(h).chunk(2, dim=-1)[1]
    q = lambda t: np.percentile(t.numpy(), [5, 50, 95]).round(2).tolist()  # noqa: E731
    print(f"run {cfg.out} setting {split.name} seed {args.seed}: {len(x)} training features of {len(seen)} seen "
          f"classes, selected epoch {meta.get('selected_epoch')}")
    print(f"features: mean |x| {x.abs().mean():.3f}, std {x.std():.3f}, max {x.abs().max():.2f}")
    print(f"energy of the true class E+ (= negative ELBO, deterministic) 5/50/95 %: {q(e_pos)}")
    print(f"gap to the hardest negative min_j E_j - E+ 5/50/95 %: {q(hardest - e_pos)}")
    print(f"gap to the SPEC's negative pool logsumexp_j(E_j + alpha s_j) - E+ 5/50/95 %: {q(pool - e_pos)}")
    print(f"SCALE margin argument delta 5/50/95 %: {q(delta)}; softplus(delta) mean {F.softplus(delta).mean():.3g}; "
          f"samples with delta > -5 (a gradient above 0.7 %): {(delta > -5).float().mean() * 100:.1f} %")
    at_clamp = (logvar_d <= LOGVAR_MIN + 0.5).float().mean() * 100
    print(f"decoder log-variance 5/50/95 %: {q(logvar_d.flatten())}; {at_clamp:.1f} % of dimensions within 0.5 "
          f"of the clamp {LOGVAR_MIN} (precision {np.exp(-LOGVAR_MIN):.0f}: a miss of 1 there costs "
          f"{0.5 * np.exp(-LOGVAR_MIN):.0f} nats)")


if __name__ == "__main__":
    main()
