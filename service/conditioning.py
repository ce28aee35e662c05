"""Class texts -> per-class tensors: in-process LRU, then the registry's cache, else text tower + class side."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from model.bundle import ClassTensors
from service.inference import InferenceEngine
from service.metrics import Metrics
from service.registry import ClassRecord, Registry, text_hash_for

log = logging.getLogger(__name__)


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
        # TextEncoder.encode captures token states through a module hook: concurrent calls would mix them.
        self._encode_lock = threading.Lock()
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
        """Text encoder + class-side graph for K prompts (blocking; run it in a thread)."""
        with self._encode_lock:
            feats = self.text_encoder.encode(list(prompts))
        out = self.engine.class_side(feats.global_emb, feats.tokens, feats.mask)
        return [ClassTensors(*(np.ascontiguousarray(t[i]) for t in out)) for i in range(len(prompts))]

    async def rows(self, records: Sequence[ClassRecord]) -> dict[str, ClassTensors]:
        """id -> ClassTensors row for every record (memory, then registry cache, then computed and stored)."""
        hashes = {r.id: text_hash_for(r.prompt) for r in records}
        out: dict[str, ClassTensors] = {}
        missing: list[ClassRecord] = []
        for record in records:
            row = self._cache.get(hashes[record.id])
            if row is None:
                missing.append(record)
            else:
                out[record.id] = row
        self._count("memory", len(out))
        if missing:
            cached = await asyncio.gather(*(self.registry.get_conditioning(self.bundle_version, hashes[r.id])
                                            for r in missing))
            still: list[ClassRecord] = []
            for record, tensors in zip(missing, cached, strict=True):
                row = self._valid(tensors)
                if row is None:
                    still.append(record)
                else:
                    out[record.id] = row
                    self._remember(hashes[record.id], row)
                    self._count("registry")
            if still:
                computed = await asyncio.get_running_loop().run_in_executor(
                    None, self.compute, [r.prompt for r in still])
                self._count("computed", len(still))
                for record, row in zip(still, computed, strict=True):
                    out[record.id] = row
                    self._remember(hashes[record.id], row)
                await asyncio.gather(*(self.registry.put_conditioning(
                    self.bundle_version, hashes[r.id], out[r.id]._asdict()) for r in still))
        return out
