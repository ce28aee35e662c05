"""Independent NumPy float64 reference of the SCALE scorer and losses, written from the formulas (SPEC §2).

It reads only the module's weights (state_dict) and loops over samples, classes and negatives explicitly, so
it shares no code path with model/scorer.py or model/losses.py.
"""

from __future__ import annotations

import math

import numpy as np

LOGVAR_LO, LOGVAR_HI = -10.0, 10.0


def weights(module) -> dict[str, np.ndarray]:
    """state_dict as float64 numpy arrays."""
    return {k: v.detach().cpu().double().numpy() for k, v in module.state_dict().items()}


def silu(a: np.ndarray) -> np.ndarray:
    return a / (1.0 + np.exp(-a))


def mlp(w: dict, name: str, a: np.ndarray) -> np.ndarray:
    hidden = silu(a @ w[f"{name}.0.weight"].T + w[f"{name}.0.bias"])
    return hidden @ w[f"{name}.2.weight"].T + w[f"{name}.2.bias"]


def class_side(w: dict, g: np.ndarray, tokens: np.ndarray, mask: np.ndarray, masked: bool) -> dict:
    """Per-class tensors for each class k, one at a time."""
    out: dict[str, list] = {"enc_c": [], "dec_c": [], "prior_mu": [], "prior_logvar": [], "proto": []}
    for k in range(g.shape[0]):
        if masked:
            real = tokens[k][mask[k] > 0]
            pooled = real.mean(axis=0)
        else:
            pooled = tokens[k].mean(axis=0)
        cat = np.concatenate([mlp(w, "text_a", g[k]), mlp(w, "text_b", pooled)])
        c = w["text_w.weight"] @ cat + w["text_w.bias"]
        prior = mlp(w, "prior", c)
        dz = prior.shape[0] // 2
        out["enc_c"].append(w["enc_cond.weight"] @ c + w["enc_cond.bias"])
        out["dec_c"].append(w["dec_cond.weight"] @ c + w["dec_cond.bias"])
        out["prior_mu"].append(prior[:dz])
        out["prior_logvar"].append(np.clip(prior[dz:], LOGVAR_LO, LOGVAR_HI))
        out["proto"].append(mlp(w, "proto_head", g[k]))
    return {k: np.stack(v) for k, v in out.items()}


def kl(mq, lvq, mp, lvp) -> float:
    """KL(N(mq, sq^2) || N(mp, sp^2)) summed, in the log-sigma form."""
    sq, sp = np.exp(0.5 * lvq), np.exp(0.5 * lvp)
    return float(np.sum(np.log(sp / sq) + (sq**2 + (mq - mp) ** 2) / (2 * sp**2) - 0.5))


def log_normal(x, mu, var) -> float:
    """log prod_i N(x_i; mu_i, var_i) written as the density."""
    return float(np.sum(np.log(np.exp(-((x - mu) ** 2) / (2 * var)) / np.sqrt(2 * math.pi * var))))


def pair(w: dict, x: np.ndarray, cs: dict, k: int, beta: float, eps: np.ndarray | None = None) -> dict:
    """ELBO pieces for one sample x against class k."""
    hq = silu(w["enc_x.weight"] @ x + cs["enc_c"][k])
    o = w["enc_out.weight"] @ hq + w["enc_out.bias"]
    dz = o.shape[0] // 2
    mu_q, lv_q = o[:dz], np.clip(o[dz:], LOGVAR_LO, LOGVAR_HI)
    z = mu_q if eps is None else mu_q + eps * np.sqrt(np.exp(lv_q))
    hd = silu(w["dec_z.weight"] @ z + cs["dec_c"][k])
    d = w["dec_out.weight"] @ hd + w["dec_out.bias"]
    f = d.shape[0] // 2
    mu_d, lv_d = d[:f], np.clip(d[f:], LOGVAR_LO, LOGVAR_HI)
    recon = -log_normal(x, mu_d, np.exp(lv_d))
    kl_val = kl(mu_q, lv_q, cs["prior_mu"][k], cs["prior_logvar"][k])
    return {"energy": recon + beta * kl_val, "recon": recon, "kl": kl_val,
            "u": float(np.exp(lv_q).mean()), "mu_q": mu_q}


def softplus(a: float) -> float:
    return math.log1p(math.exp(-abs(a))) + max(a, 0.0)


def logsumexp(vals: list[float]) -> float:
    m = max(vals)
    return m + math.log(sum(math.exp(v - m) for v in vals))


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def scale_term(e_pos: float, negs: list[tuple[float, float]], u: float, cfg) -> float:
    """exp(-gamma u) softplus(E+ - logsumexp(E_j + alpha s_j) + tau - beta_u u); negs = [(E_j, s_j)]."""
    if not negs:
        return 0.0
    if getattr(cfg, "negative_pool", "logsumexp") == "softmin":
        e_neg = -logsumexp([-e + cfg.alpha * s for e, s in negs])
    else:
        e_neg = logsumexp([e + cfg.alpha * s for e, s in negs])
    return math.exp(-cfg.gamma * u) * softplus(e_pos - e_neg + cfg.tau - cfg.beta_u * u)


def proto_term(mu: np.ndarray, protos: np.ndarray, target: int, temperature: float) -> float:
    logits = np.array([cos(mu, p) / temperature for p in protos])
    return float(-(logits[target] - logsumexp(list(logits))))
