"""One loaded bundle and everything that depends on it, swapped as a whole by a hot reload."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from model.bundle import Bundle
from model.config import PreprocessConfig
from service.engine.batcher import MicroBatcher
from service.engine.conditioning import Conditioner
from service.engine.inference import InferenceEngine
from service.engine.isolation import isolate_failures
from service.engine.policy import ServingPolicy, device_of, resolve_policy, usable_cores
from service.engine.runtimes import encoder_graphs, resolve_encoder_runtime
from service.metrics import Metrics
from service.registry import Registry
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ModelState:
    """Bundle, engine, text tower, conditioner and batcher of one bundle version; its references never change.

    A request takes the current ModelState once (service.deps.use_model) and uses only it, so the class-side
    rows it computes and the graph that scores them always come from the same bundle, even when a reload
    swaps in another ModelState meanwhile. `active` counts such requests; a replaced state is retired (its
    batcher stopped) only once it drops to zero.
    """

    bundle: Bundle
    engine: InferenceEngine
    text_encoder: Any
    conditioner: Conditioner
    batcher: MicroBatcher
    preprocess: PreprocessConfig
    policy: ServingPolicy | None = None
    loaded_at: float = field(default_factory=time.time)
    active: int = 0

    @property
    def version(self) -> str:
        """The bundle version every answer names."""
        return self.bundle.version

    @property
    def demo(self) -> bool:
        """True when the bundle's labels are not meaningful."""
        return bool(self.bundle.manifest.demo)

    @property
    def warning(self) -> str | None:
        """The demo warning shown in /info and recognize answers (None for a real bundle)."""
        if not self.demo:
            return untrained_text_warning(self.bundle.manifest.training, self.bundle.manifest.text.weights_id)
        return self.bundle.manifest.note or "DEMO bundle: rankings are NOT meaningful."

    @asynccontextmanager
    async def in_use(self) -> Any:
        """Count one request using this state for the duration of the block."""
        self.active += 1
        try:
            yield self
        finally:
            self.active -= 1

    async def retire(self, drain_timeout_s: float = 60.0) -> None:
        """Wait until no request uses this state (bounded), then stop its batcher (queued jobs still fail)."""
        deadline = time.monotonic() + drain_timeout_s
        while self.active > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self.active > 0:
            log.warning("bundle %s retired with %d requests still using it", self.version, self.active)
        await self.batcher.stop()
        log.info("bundle %s retired", self.version)


def build_model(settings: Settings, metrics: Metrics, bundle: Bundle, text_encoder: Any,
                registry: Registry) -> ModelState:
    """Engine, batcher (not started) and conditioner for a loaded bundle and its matching text tower."""
    device = device_of(bundle.providers())
    policy = resolve_policy(settings, device)
    # the policy's concurrent runs become OpenVINO streams; its threads per run, their threads
    runtime = resolve_encoder_runtime(settings.encoder_runtime, settings.encoder_precision, device)
    graphs = encoder_graphs(bundle, runtime, streams=policy.workers,
                            threads=policy.intra_op_threads or max(1, usable_cores() // policy.workers))
    engine = InferenceEngine(bundle, policy.max_batch_size, single_person=settings.single_person, runtime=runtime,
                             encoder_graphs=graphs)
    batcher = MicroBatcher(isolate_failures(engine.score), max_batch_size=policy.max_batch_size, max_wait_ms=policy.max_wait_ms,
                           queue_size=settings.queue_size, metrics=metrics, workers=policy.workers)
    conditioner = Conditioner(text_encoder, engine, registry, bundle.version, metrics)
    return ModelState(bundle=bundle, engine=engine, text_encoder=text_encoder, conditioner=conditioner,
                      batcher=batcher, preprocess=bundle.manifest.preprocess_config(), policy=policy)


def untrained_text_warning(training: dict, weights_id: str) -> str | None:
    """The warning for a bundle `scale export` marked as trained with a random text tower, not CLIP's."""
    if training.get("real_text_weights", True) is not False:
        return None
    return (f"text tower {weights_id} is not the real CLIP weights: only classes whose names share words "
            "with the training classes (as in `scale try-it`) can be ranked meaningfully")
