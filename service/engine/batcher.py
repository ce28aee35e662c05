"""Micro-batching: one queue, N workers; concurrent requests share runs of at most max_batch_size sequences.

Requests larger than max_batch_size are split into parts (so one request never makes one huge run), and
each worker runs one part or batch at a time on its own thread (docs/service.md, "Serving policy").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.bundle import ClassTensors
from service.metrics import Metrics

log = logging.getLogger(__name__)

# (skeletons (N,3,T,25,2), class-set key, stacked class tensors) -> (energy (N,K), uncertainty (N,K))
ScoreFn = Callable[[np.ndarray, Any, ClassTensors], tuple[np.ndarray, np.ndarray]]


class QueueFull(Exception):
    """The batch queue is at capacity; the API answers 429 with Retry-After."""

    def __init__(self, size: int, retry_after: int = 1) -> None:
        super().__init__(f"inference queue is full ({size} sequences waiting); retry shortly")
        self.retry_after = retry_after


class BatcherClosed(Exception):
    """The batcher is stopped (service shutting down)."""


@dataclass
class Job:
    """One request's sequences and candidates, waiting for the worker."""

    skeletons: np.ndarray  # (n,3,T,25,2) preprocessed
    class_ids: tuple[str, ...]
    classes: dict[str, ClassTensors]  # id -> 1-D per-class rows
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        """Number of sequences."""
        return int(self.skeletons.shape[0])


def stack_classes(rows: list[ClassTensors]) -> ClassTensors:
    """Per-class 1-D rows -> (K, ...) tensors."""
    return ClassTensors(*(np.stack([getattr(r, name) for r in rows]).astype(np.float32, copy=False)
                          for name in ClassTensors._fields))


class MicroBatcher:
    """Collects jobs for up to max_wait_ms or max_batch_size sequences, then scores them in one run;
    `workers` runs may be in flight at once (the score function must then be thread-safe)."""

    def __init__(self, score: ScoreFn, *, max_batch_size: int, max_wait_ms: float, queue_size: int,
                 metrics: Metrics | None = None, workers: int = 1) -> None:
        self._score = score
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.queue_size = queue_size  # in sequences, not requests
        self._queued = 0
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._carry: Job | None = None
        self._metrics = metrics
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scale-infer")
        self._tasks: list[asyncio.Task] = []
        self._stacked: tuple[Any, ClassTensors] | None = None
        self._inflight: dict[int, list[Job]] = {}

    @property
    def _task(self) -> asyncio.Task | None:
        return self._tasks[0] if self._tasks else None

    def start(self) -> None:
        """Start the worker tasks on the running loop."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._worker(i), name=f"scale-batcher-{i}")
                           for i in range(self.workers)]

    async def stop(self) -> None:
        """Stop the workers and fail every queued job with BatcherClosed."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        pending = [job for jobs in self._inflight.values() for job in jobs]
        pending += [self._carry] if self._carry else []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for job in pending:
            if not job.future.done():
                job.future.set_exception(BatcherClosed("service is shutting down"))
        self._executor.shutdown(wait=True)

    async def submit(self, skeletons: np.ndarray, class_ids: tuple[str, ...],
                     classes: dict[str, ClassTensors]) -> tuple[np.ndarray, np.ndarray]:
        """Queue one request; returns (energy (n,k), uncertainty (n,k)) with columns in class_ids order."""
        if self._task is None:
            raise BatcherClosed("batcher is not running")
        missing = [c for c in class_ids if c not in classes]
        if missing or not class_ids:
            raise ValueError(f"class tensors missing for {missing}" if missing else "no candidate classes")
        loop = asyncio.get_running_loop()
        step = self.max_batch_size  # a large request becomes several runs: bounded memory per run
        jobs = [Job(skeletons[i:i + step], tuple(class_ids), classes, loop.create_future())
                for i in range(0, int(skeletons.shape[0]), step)]
        total = int(skeletons.shape[0])
        # An empty queue always admits one request, however large, so no request is refused forever.
        if self._queued and self._queued + total > self.queue_size:
            raise QueueFull(self._queued)
        for job in jobs:
            self._queued += job.size
            self._queue.put_nowait(job)
        self._gauge()
        if len(jobs) == 1:
            return await jobs[0].future
        parts = await asyncio.gather(*(job.future for job in jobs), return_exceptions=True)
        for part in parts:
            if isinstance(part, BaseException):
                raise part
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _gauge(self) -> None:
        if self._metrics:
            self._metrics.queue_depth.set(self._queued)

    def _take(self, job: Job) -> Job:
        self._queued -= job.size
        return job

    async def _collect(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        first = self._carry or self._take(await self._queue.get())
        self._carry = None
        batch, total = [first], first.size
        deadline = loop.time() + self.max_wait
        while total < self.max_batch_size:
            remaining = deadline - loop.time()
            try:
                job = self._take(self._queue.get_nowait() if remaining <= 0 else
                                 await asyncio.wait_for(self._queue.get(), remaining))
            except (asyncio.QueueEmpty, asyncio.TimeoutError):  # noqa: UP041 (distinct from TimeoutError on 3.10)
                break
            if total + job.size > self.max_batch_size:
                self._carry = job  # parts are never merged past max_batch_size; it opens the next batch
                break
            batch.append(job)
            total += job.size
        return batch

    async def _worker(self, worker: int = 0) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._inflight[worker] = []
            batch = [job for job in await self._collect() if not job.future.done()]
            self._inflight[worker] = batch
            self._gauge()
            if not batch:
                continue
            try:
                x, key, tensors, index = self._assemble(batch)
                started = time.perf_counter()
                energy, uncertainty = await loop.run_in_executor(self._executor, self._score, x, key, tensors)
                self._record(batch, started)
            except Exception as exc:  # a failed run fails its requests, never the worker
                log.exception("inference run failed for %d requests", len(batch))
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            row = 0
            for job in batch:
                cols = [index[c] for c in job.class_ids]
                part = (energy[row:row + job.size][:, cols], uncertainty[row:row + job.size][:, cols])
                row += job.size
                if not job.future.done():
                    job.future.set_result(part)

    def _assemble(self, batch: list[Job]) -> tuple[np.ndarray, Any, ClassTensors, dict[str, int]]:
        union: dict[str, ClassTensors] = {}
        for job in batch:
            for cid in job.class_ids:
                union.setdefault(cid, job.classes[cid])
        # Ids are content hashes of the prompt, so the sorted id tuple fully names the class tensors.
        key = tuple(sorted(union))
        if self._stacked is None or self._stacked[0] != key:
            self._stacked = (key, stack_classes([union[c] for c in key]))
        index = {cid: i for i, cid in enumerate(key)}
        x = np.concatenate([job.skeletons for job in batch]) if len(batch) > 1 else batch[0].skeletons
        return x, key, self._stacked[1], index

    def _record(self, batch: list[Job], started: float) -> None:
        if not self._metrics:
            return
        m = self._metrics
        m.inference_runs.inc()
        m.inference_seconds.observe(time.perf_counter() - started)
        m.batch_size.observe(sum(job.size for job in batch))
        m.batch_requests.observe(len(batch))
        for job in batch:
            m.queue_wait.observe(started - job.enqueued)
