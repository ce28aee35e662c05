"""CLIP text conditionings of a class-name set, computed once and cached on disk as a pickle-free npz."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.config import DEFAULT_CLIP_MODEL


@dataclass(frozen=True)
class ClassTexts:
    """Conditionings of K classes in class-index order (row k = class k)."""

    global_emb: np.ndarray  # (K, 512)
    tokens: np.ndarray  # (K, L, 512)
    mask: np.ndarray  # (K, L)
    prompts: tuple[str, ...]
    weights_id: str

    def take(self, ids: list[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(global, tokens, mask) of the classes `ids`, in that order."""
        ids = np.asarray(ids, dtype=np.int64)
        return self.global_emb[ids], self.tokens[ids], self.mask[ids]


def cache_key(prompts: list[str], weights_id: str, model_name: str) -> str:
    """sha256 over the prompts, the text-tower weights id and the architecture name (first 16 hex)."""
    body = json.dumps({"prompts": list(prompts), "weights_id": weights_id, "model": model_name})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


TRAINING_WEIGHTS_SOURCE = "`weights` in the [text] section of the training config (or --set text.weights=...)"


def expected_weights_id(weights: str, model_name: str, random_init_seed: int | None) -> str:
    """The weights_id load_text_encoder would report, without building the model (cheap cache lookups)."""
    if random_init_seed is not None:
        return f"random-init:seed={random_init_seed}"
    from model.text import resolve_weights, sha256_file

    return f"sha256:{sha256_file(resolve_weights(weights or None, model_name, TRAINING_WEIGHTS_SOURCE))}"


def _load_encoder(weights: str, model_name: str, random_init_seed: int | None, device: str) -> Any:
    from model.text import load_text_encoder  # heavy (open_clip): imported only when texts must be encoded

    return load_text_encoder(weights=weights or None, model_name=model_name,
                             random_init_seed=random_init_seed, device=device, source=TRAINING_WEIGHTS_SOURCE)


def class_texts(
    names: list[str], template: str, cache_dir: str | Path, weights: str = "",
    model_name: str = DEFAULT_CLIP_MODEL, random_init_seed: int | None = None, device: str = "cpu",
    encoder: Any = None,
) -> ClassTexts:
    """Conditionings of `names` under `template`, read from `cache_dir` when this exact set was encoded before."""
    from model.text import make_prompt

    prompts = [make_prompt(name, template=template) for name in names]
    return prompt_texts(prompts, cache_dir, weights, model_name, random_init_seed, device, encoder)


def prompt_texts(
    prompts: list[str], cache_dir: str | Path, weights: str = "", model_name: str = DEFAULT_CLIP_MODEL,
    random_init_seed: int | None = None, device: str = "cpu", encoder: Any = None,
) -> ClassTexts:
    """Conditionings of ready-made prompts (row j = prompts[j]), cached in `cache_dir` like class_texts."""
    wid = encoder.weights_id if encoder is not None else expected_weights_id(weights, model_name, random_init_seed)
    path = Path(cache_dir) / f"text_{cache_key(prompts, wid, model_name)}.npz"
    if path.is_file():
        return read_class_texts(path)
    enc = encoder if encoder is not None else _load_encoder(weights, model_name, random_init_seed, device)
    if enc.weights_id != wid:
        raise RuntimeError(f"text encoder reports weights {enc.weights_id}, expected {wid}")
    feats = enc.encode(prompts)
    texts = ClassTexts(np.asarray(feats.global_emb, np.float32), np.asarray(feats.tokens, np.float32),
                       np.asarray(feats.mask, np.float32), tuple(prompts), str(enc.weights_id))
    write_class_texts(path, texts)
    return texts


def write_class_texts(path: str | Path, texts: ClassTexts) -> Path:
    """Store conditionings as plain arrays (strings as unicode arrays, never objects)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, global_emb=texts.global_emb, tokens=texts.tokens, mask=texts.mask,
             prompts=np.array(texts.prompts, dtype=str), weights_id=np.array(texts.weights_id))
    tmp.replace(path)
    return path


def read_class_texts(path: str | Path) -> ClassTexts:
    """Read what write_class_texts stored, refusing pickled content."""
    with np.load(path, allow_pickle=False) as data:
        return ClassTexts(data["global_emb"], data["tokens"], data["mask"],
                          tuple(str(p) for p in data["prompts"]), str(data["weights_id"]))
