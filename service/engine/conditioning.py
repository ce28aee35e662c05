"""Class texts -> per-class tensors: in-process LRU, then the registry's cache, else text tower + class side."""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.bundle import ClassTensors
from service.engine.inference import InferenceEngine
from service.metrics import Metrics
from service.registry import ClassRecord, Registry, text_hash_for

log = logging.getLogger(__name__)
# Texts per text-tower call: its token states are (n, 77, 512) float32, ~160 kB per text.
COMPUTE_CHUNK = 128


_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_FALLBACK_LOCK = threading.Lock()


def encode_lock_for(text_encoder: Any) -> threading.Lock:
    """The one lock serialising encode() calls on this text tower object (shared by all its conditioners)."""
    with _LOCKS_GUARD:
        try:
            return _LOCKS.setdefault(text_encoder, threading.Lock())
        except TypeError:  # not weak-referenceable: one process-wide lock is still correct
            return _FALLBACK_LOCK


class Conditioner:
    """Serves ClassTensors rows (1-D per class) for class records, computing each text at most once."""

    def __init__(self, text_encoder: Any, engine: InferenceEngine, registry: Registry, bundle_version: str,
                 metrics: Metrics | None = None, max_cached: int = 8192) -> None:
        self.text_encoder = text_encoder
        self.engine = engine
        self.registry = registry
        self.bundle_version = bundle_version
        self._metrics = metrics
        self._cache: OrderedDict[str, ClassTensors] = OrderedDict()
        self._max_cached = max_cached
        # TextEncoder.encode captures token states through a module hook: concurrent calls would mix them,
        # also from two conditioners sharing one tower across a bundle reload, so the lock is per tower.
        self._encode_lock = encode_lock_for(text_encoder)
        dims = engine.bundle.manifest.dims
        self._widths = {"enc_c": dims.encoder_hidden, "dec_c": dims.decoder_hidden,
                        "prior_mu": dims.latent_dim, "prior_logvar": dims.latent_dim}

    def _count(self, source: str, n: int = 1) -> None:
        if self._metrics and n:
            self._metrics.conditioning.labels(source).inc(n)

    def _valid(self, tensors: dict[str, np.ndarray] | None) -> ClassTensors | None:
        # A cache entry from another export or a damaged one is a miss, not an error.
        if not tensors or set(tensors) != set(self._widths):
            return None
        if any(np.shape(tensors[k]) != (w,) for k, w in self._widths.items()):
            return None
        return ClassTensors(**{k: np.asarray(tensors[k], np.float32) for k in ClassTensors._fields})

    def _remember(self, text_hash: str, row: ClassTensors) -> None:
        self._cache[text_hash] = row
        self._cache.move_to_end(text_hash)
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)

    def compute(self, prompts: Sequence[str]) -> list[ClassTensors]:
        """Text encoder + class-side graph for K prompts, in chunks so memory stays bounded (blocking)."""
        rows: list[ClassTensors] = []
        for start in range(0, len(prompts), COMPUTE_CHUNK):
            chunk = list(prompts[start:start + COMPUTE_CHUNK])
            with self._encode_lock:
                feats = self.text_encoder.encode(chunk)
            out = self.engine.class_side(feats.global_emb, feats.tokens, feats.mask)
            rows += [ClassTensors(*(np.ascontiguousarray(t[i]) for t in out)) for i in range(len(chunk))]
        return rows

    async def rows(self, records: Sequence[ClassRecord]) -> dict[str, ClassTensors]:
        """id -> ClassTensors row of each record's first text (see text_rows for every text)."""
        by_hash = await self.text_rows([r.prompt for r in records])
        return {r.id: by_hash[text_hash_for(r.prompt)] for r in records}

    async def text_rows(self, texts: Sequence[str]) -> dict[str, ClassTensors]:
        """text sha256 -> ClassTensors row for every text (memory, then registry cache, then computed and stored)."""
        wanted = {text_hash_for(t): t for t in texts}
        out: dict[str, ClassTensors] = {}
        missing: list[str] = []
        for text_hash in wanted:
            row = self._cache.get(text_hash)
            if row is None:
                missing.append(text_hash)
            else:
                out[text_hash] = row
        self._count("memory", len(out))
        if missing:
            cached = await asyncio.gather(*(self.registry.get_conditioning(self.bundle_version, h)
                                            for h in missing))
            still: list[str] = []
            for text_hash, tensors in zip(missing, cached, strict=True):
                row = self._valid(tensors)
                if row is None:
                    still.append(text_hash)
                else:
                    out[text_hash] = row
                    self._remember(text_hash, row)
                    self._count("registry")
            if still:
                computed = await asyncio.get_running_loop().run_in_executor(
                    None, self.compute, [wanted[h] for h in still])
                self._count("computed", len(still))
                for text_hash, row in zip(still, computed, strict=True):
                    out[text_hash] = row
                    self._remember(text_hash, row)
                await asyncio.gather(*(self.registry.put_conditioning(
                    self.bundle_version, h, out[h]._asdict()) for h in still))
        return out
