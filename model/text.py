"""CLIP text conditioning (SPEC §5): prompts, weight resolution, and the one encoder used by training and serving."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model.config import CLIP_CONTEXT_LENGTH, CLIP_TEXT_DIM, DEFAULT_CLIP_MODEL, DEFAULT_PROMPT_TEMPLATE

if TYPE_CHECKING:  # torch is imported where the tower runs: the ONNX serving path needs only make_prompt
    import torch
    from torch import nn

WEIGHTS_ENV = "SCALE_CLIP_WEIGHTS"
PRETRAINED_TAG = "openai"
HF_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


class MissingWeightsError(RuntimeError):
    """No CLIP text weights could be found locally (there is no network fallback)."""


@dataclass(frozen=True)
class TextFeatures:
    """Encoded class texts: global_emb (K,512), tokens (K,77,512) ln_final output, mask (K,77); float32."""

    global_emb: np.ndarray
    tokens: np.ndarray
    mask: np.ndarray

    def __len__(self) -> int:
        return int(self.global_emb.shape[0])


def make_prompt(
    label: str, description: str | None = None, template: str = DEFAULT_PROMPT_TEMPLATE, prompt: str | None = None
) -> str:
    """The class text d_y: an explicit prompt, else template(label) plus '. ' + description when given."""
    if prompt is not None:
        if not prompt.strip():
            raise ValueError("prompt must not be empty")
        return prompt.strip()
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if "{label}" not in template:
        raise ValueError(f"prompt template must contain '{{label}}', got {template!r}")
    text = template.format(label=label.strip())
    if description is not None and description.strip():
        text = f"{text}. {description.strip()}"
    return text


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hf_cache_dir() -> str:
    # read at call time: huggingface_hub freezes HF_HOME at import, tests and deployments set it later
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return os.path.join(home, "hub")


def _hf_repo(model_name: str) -> str:
    import open_clip

    repo = open_clip.get_pretrained_cfg(model_name, PRETRAINED_TAG).get("hf_hub", "").strip("/")
    if not repo:
        raise MissingWeightsError(f"open_clip has no '{PRETRAINED_TAG}' weights for {model_name!r}")
    return repo


def _missing_message(model_name: str, repo: str, cache: str) -> str:
    file = HF_WEIGHT_FILES[0]
    snapshot = os.path.join(cache, "models--" + repo.replace("/", "--"), "snapshots", "<commit>", file)
    return (
        f"CLIP text weights for {model_name!r} not found (lookups here are offline only). "
        f"Get the file {file} (about 605 MB) of the Hugging Face model '{repo}' on a machine with network "
        f"access: `hf download {repo} {file} --local-dir clip/` "
        f"(or https://huggingface.co/{repo}/resolve/main/{file}), copy it here, then either "
        f"(1) pass its path (`scale serve --clip-weights PATH`, `weights = \"PATH\"` in the [text] section of "
        f"a training config or `--set text.weights=\"'PATH'\"` on a training command, or weights=PATH in Python); "
        f"(2) set the environment variable {WEIGHTS_ENV}=/path/to/{file}; or "
        f"(3) put it in the Hugging Face cache as {snapshot}, with the text file "
        f"{os.path.join(cache, 'models--' + repo.replace('/', '--'), 'refs', 'main')} holding <commit> "
        f"(the cache is $HF_HUB_CACHE, else $HF_HOME/hub)."
    )


def resolve_weights(weights: str | os.PathLike | None, model_name: str, source: str | None = None) -> Path:
    """Weights file: explicit path, then $SCALE_CLIP_WEIGHTS, then the offline Hugging Face cache.

    `source` says where an explicit `weights` came from (e.g. "the --clip-weights flag") for the error message.
    """
    explicit = weights if weights is not None else os.environ.get(WEIGHTS_ENV) or None
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            if weights is None:
                source = f"the environment variable {WEIGHTS_ENV}"
            raise MissingWeightsError(f"CLIP weights file does not exist: {path} (the path came from "
                                      f"{source or 'the weights argument'}; a container sees only its mounts)")
        return path
    from huggingface_hub import hf_hub_download

    repo, cache = _hf_repo(model_name), _hf_cache_dir()
    for filename in HF_WEIGHT_FILES:
        try:
            return Path(hf_hub_download(repo, filename, cache_dir=cache, local_files_only=True))
        except OSError:  # LocalEntryNotFoundError is a FileNotFoundError
            continue
    raise MissingWeightsError(_missing_message(model_name, repo, cache))


class TextEncoder:
    """Frozen CLIP text tower: texts -> TextFeatures (global EOT embedding, ln_final tokens, token mask)."""

    def __init__(self, model: nn.Module, tokenizer, model_name: str, weights_id: str, device: str = "cpu") -> None:
        self.model = model.eval().requires_grad_(False).to(device)
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.weights_id = weights_id
        self.device = device
        self.context_length = int(getattr(tokenizer, "context_length", CLIP_CONTEXT_LENGTH))
        self.eot_token_id = int(tokenizer.eot_token_id)
        # The ln_final hook is attached to the shared model: concurrent encodes would read each other's tokens.
        self._lock = threading.Lock()

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids (K, context_length), truncated with EOT kept last."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a sequence of strings")
        return self.tokenizer(list(texts))

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextFeatures:
        """Encode K texts in batches; global_emb is encode_text (not normalised), tokens are pre-projection."""
        import torch

        ids = self.tokenize(texts)
        captured: list[torch.Tensor] = []
        globals_, tokens = [], []
        with self._lock, torch.no_grad():
            hook = self.model.ln_final.register_forward_hook(lambda _m, _i, out: captured.append(out))
            try:
                for start in range(0, ids.shape[0], batch_size):
                    captured.clear()
                    batch = ids[start : start + batch_size].to(self.device)
                    globals_.append(self.model.encode_text(batch).float().cpu())
                    tokens.append(captured[-1].float().cpu())
            finally:
                hook.remove()
        n, length = ids.shape[0], ids.shape[1]
        width = tokens[0].shape[-1] if tokens else CLIP_TEXT_DIM
        eot_pos = (ids == self.eot_token_id).int().argmax(dim=1)
        mask = (torch.arange(length).unsqueeze(0) <= eot_pos.unsqueeze(1)).float()
        return TextFeatures(
            global_emb=torch.cat(globals_).numpy() if globals_ else np.zeros((0, CLIP_TEXT_DIM), np.float32),
            tokens=torch.cat(tokens).numpy() if tokens else np.zeros((0, length, width), np.float32),
            mask=mask.numpy().reshape(n, length),
        )


def load_text_encoder(
    weights: str | os.PathLike | None = None, model_name: str = DEFAULT_CLIP_MODEL,
    random_init_seed: int | None = None, device: str = "cpu", source: str | None = None,
) -> TextEncoder:
    """Build the text tower from local weights (see resolve_weights) or, for tests, a seeded random init."""
    import open_clip
    import torch

    if random_init_seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_init_seed)
            model = open_clip.create_model(model_name, pretrained=None, load_weights=False, device="cpu")
        weights_id = f"random-init:seed={random_init_seed}"
    else:
        path = resolve_weights(weights, model_name, source)
        model = open_clip.create_model(model_name, pretrained=str(path), device="cpu", weights_only=True)
        weights_id = f"sha256:{sha256_file(path)}"
    model.visual = None  # only the text tower is used; frees ~88M parameters
    return TextEncoder(model, open_clip.get_tokenizer(model_name), model_name, weights_id, device)
