"""MicroBatcher: union of candidates, per-request slicing, batch limits, queue-full, failures, shutdown."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from model.bundle import ClassTensors
from service.engine.batcher import BatcherClosed, MicroBatcher, QueueFull, stack_classes
from service.metrics import Metrics

pytestmark = pytest.mark.unit


def fake_score(x: np.ndarray, key, cls: ClassTensors) -> tuple[np.ndarray, np.ndarray]:
    """A sample-side stand-in whose (i, k) entry depends on both the sequence and the class."""
    s = x.reshape(len(x), -1).sum(1, dtype=np.float64)[:, None]
    return (s * cls.enc_c[:, 0][None] + cls.prior_mu[:, 0][None]).astype(np.float32), \
        (s + cls.dec_c[:, 0][None]).astype(np.float32)


def reference(x: np.ndarray, ids: tuple[str, ...], rows: dict[str, ClassTensors]) -> tuple[np.ndarray, np.ndarray]:
    """Float64 per-request computation of what fake_score gives for exactly these columns."""
    s = x.reshape(len(x), -1).astype(np.float64).sum(1)[:, None]
    enc = np.array([rows[c].enc_c[0] for c in ids], np.float64)
    mu = np.array([rows[c].prior_mu[0] for c in ids], np.float64)
    dec = np.array([rows[c].dec_c[0] for c in ids], np.float64)
    return s * enc[None] + mu[None], s + dec[None]


def make_rows(n: int, seed: int = 0) -> dict[str, ClassTensors]:
    rng = np.random.default_rng(seed)
    return {f"{i:016x}": ClassTensors(*(rng.normal(size=w).astype(np.float32) for w in (4, 3, 2, 2)))
            for i in range(n)}


class Recorder:
    """Wraps a score function, recording the batch size and class-set key of every run."""

    def __init__(self, fn=fake_score, gate: threading.Event | None = None, fail: bool = False) -> None:
        self.fn, self.gate, self.fail = fn, gate, fail
        self.sizes: list[int] = []
        self.keys: list[tuple] = []

    def __call__(self, x, key, cls):
        if self.gate is not None:
            self.gate.wait(10)
        self.sizes.append(len(x))
        self.keys.append(key)
        if self.fail:
            raise RuntimeError("boom in the engine")
        return self.fn(x, key, cls)


def test_stack_classes_matches_rows() -> None:
    rows = make_rows(3)
    stacked = stack_classes(list(rows.values()))
    assert stacked.enc_c.shape == (3, 4) and stacked.prior_logvar.shape == (3, 2)
    np.testing.assert_array_equal(stacked.dec_c[1], rows["0000000000000001"].dec_c)


def test_concurrent_jobs_share_runs_and_get_their_own_columns() -> None:
    rows = make_rows(6)
    ids = list(rows)
    rng = np.random.default_rng(1)
    jobs = [(rng.normal(size=(int(rng.integers(1, 4)), 2, 3)).astype(np.float32),
             tuple(rng.permutation(ids)[: int(rng.integers(1, 6))])) for _ in range(20)]
    rec = Recorder()
    metrics = Metrics()

    async def main():
        b = MicroBatcher(rec, max_batch_size=16, max_wait_ms=50, queue_size=100, metrics=metrics)
        b.start()
        try:
            return await asyncio.gather(*(b.submit(x, c, {k: rows[k] for k in c}) for x, c in jobs))
        finally:
            await b.stop()

    answers = asyncio.run(main())
    for (x, c), (energy, unc) in zip(jobs, answers, strict=True):
        ref_e, ref_u = reference(x, c, rows)
        assert energy.shape == (len(x), len(c))
        np.testing.assert_allclose(energy, ref_e, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(unc, ref_u, rtol=1e-5, atol=1e-4)
    total = sum(len(x) for x, _ in jobs)
    assert sum(rec.sizes) == total
    assert len(rec.sizes) < len(jobs), "concurrent requests were not merged"
    assert max(rec.sizes) <= 16
    assert metrics.inference_runs._value.get() == len(rec.sizes)
    assert metrics.registry.get_sample_value("scale_batch_size_sequences_sum") == total


def test_large_job_is_split_into_runs_of_at_most_max_batch_size() -> None:
    rows = make_rows(2)
    rec = Recorder()
    big = np.arange(7 * 6, dtype=np.float32).reshape(7, 2, 3)  # every sequence distinct: order is checked
    small = np.ones((2, 2, 3), np.float32)

    async def main():
        b = MicroBatcher(rec, max_batch_size=4, max_wait_ms=20, queue_size=10)
        b.start()
        try:
            return await asyncio.gather(b.submit(small, tuple(rows), rows), b.submit(big, tuple(rows), rows))
        finally:
            await b.stop()

    (e_small, _), (e_big, u_big) = asyncio.run(main())
    assert e_small.shape == (2, 2) and e_big.shape == (7, 2)
    assert max(rec.sizes) <= 4 and sum(rec.sizes) == 9  # 7 sequences never make one run of 7
    want_e, want_u = reference(big, tuple(rows), rows)
    np.testing.assert_allclose(e_big, want_e, rtol=1e-6)
    np.testing.assert_allclose(u_big, want_u, rtol=1e-6)


def test_split_request_fails_as_a_whole_when_one_part_fails() -> None:
    rows = make_rows(1)

    def fail_on_second_part(x, key, cls):
        if x[0, 0, 0] >= 4:
            raise RuntimeError("boom in part two")
        return fake_score(x, key, cls)

    async def main():
        b = MicroBatcher(fail_on_second_part, max_batch_size=4, max_wait_ms=0, queue_size=10)
        b.start()
        try:
            with pytest.raises(RuntimeError, match="part two"):
                await b.submit(np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 2, 3), np.float32),
                               tuple(rows), rows)
            return await b.submit(np.zeros((2, 2, 3), np.float32), tuple(rows), rows)
        finally:
            await b.stop()

    assert asyncio.run(main())[0].shape == (2, 1)


def test_workers_run_side_by_side() -> None:
    rows = make_rows(1)
    meet = threading.Barrier(2, timeout=5)  # breaks unless two runs are in flight at the same time

    def together(x, key, cls):
        meet.wait()
        return fake_score(x, key, cls)

    async def main(workers: int):
        b = MicroBatcher(together, max_batch_size=1, max_wait_ms=0, queue_size=10, workers=workers)
        b.start()
        try:
            return await asyncio.gather(*(b.submit(np.full((1, 2, 3), i, np.float32), tuple(rows), rows)
                                          for i in range(4)), return_exceptions=True)
        finally:
            await b.stop()

    out = asyncio.run(main(2))
    assert all(not isinstance(o, BaseException) for o in out)
    for i, (energy, _) in enumerate(out):  # each request got its own answer back
        np.testing.assert_allclose(energy, reference(np.full((1, 2, 3), i, np.float32), tuple(rows), rows)[0],
                                   rtol=1e-6)
    meet.reset()
    assert any(isinstance(o, threading.BrokenBarrierError) for o in asyncio.run(main(1)))


def test_queue_full_raises_with_retry_after() -> None:
    rows = make_rows(1)
    gate = threading.Event()
    rec = Recorder(gate=gate)
    x = np.zeros((1, 2, 3), np.float32)

    async def main():
        b = MicroBatcher(rec, max_batch_size=1, max_wait_ms=0, queue_size=2, metrics=Metrics())
        b.start()
        first = asyncio.ensure_future(b.submit(x, tuple(rows), rows))
        await asyncio.sleep(0.05)  # the worker now blocks inside the run on `gate`
        queued = [asyncio.ensure_future(b.submit(x, tuple(rows), rows)) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFull) as err:
            await b.submit(x, tuple(rows), rows)
        gate.set()
        done = await asyncio.gather(first, *queued)
        await b.stop()
        return err.value, done

    err, done = asyncio.run(main())
    assert err.retry_after >= 1 and "full" in str(err)
    assert len(done) == 3 and all(e.shape == (1, 1) for e, _ in done)


def test_queue_capacity_counts_sequences_not_requests() -> None:
    rows = make_rows(1)
    gate = threading.Event()

    async def main():
        b = MicroBatcher(Recorder(gate=gate), max_batch_size=1, max_wait_ms=0, queue_size=3)
        b.start()
        first = asyncio.ensure_future(b.submit(np.zeros((1, 2, 3), np.float32), tuple(rows), rows))
        await asyncio.sleep(0.05)
        two = asyncio.ensure_future(b.submit(np.zeros((2, 2, 3), np.float32), tuple(rows), rows))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull, match="2 sequences"):
            await b.submit(np.zeros((2, 2, 3), np.float32), tuple(rows), rows)
        one_more = asyncio.ensure_future(b.submit(np.zeros((1, 2, 3), np.float32), tuple(rows), rows))
        gate.set()
        out = await asyncio.gather(first, two, one_more)
        await b.stop()
        return [e.shape for e, _ in out]

    assert asyncio.run(main()) == [(1, 1), (2, 1), (1, 1)]


def test_engine_failure_fails_the_batch_and_the_worker_survives() -> None:
    rows = make_rows(1)
    rec = Recorder(fail=True)
    x = np.zeros((1, 2, 3), np.float32)

    async def main():
        b = MicroBatcher(rec, max_batch_size=4, max_wait_ms=1, queue_size=10)
        b.start()
        with pytest.raises(RuntimeError, match="boom"):
            await b.submit(x, tuple(rows), rows)
        rec.fail = False
        energy, _ = await b.submit(x, tuple(rows), rows)
        await b.stop()
        return energy

    assert asyncio.run(main()).shape == (1, 1)


def test_stop_fails_queued_jobs_and_submit_after_stop() -> None:
    rows = make_rows(1)
    gate = threading.Event()
    rec = Recorder(gate=gate)
    x = np.zeros((1, 2, 3), np.float32)

    async def main():
        b = MicroBatcher(rec, max_batch_size=1, max_wait_ms=0, queue_size=5)
        b.start()
        running = asyncio.ensure_future(b.submit(x, tuple(rows), rows))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(b.submit(x, tuple(rows), rows))
        await asyncio.sleep(0)
        threading.Timer(0.1, gate.set).start()
        await b.stop()
        results = await asyncio.gather(running, waiting, return_exceptions=True)
        with pytest.raises(BatcherClosed):
            await b.submit(x, tuple(rows), rows)
        return results

    results = asyncio.run(main())
    assert isinstance(results[1], BatcherClosed)


def test_missing_class_tensors_are_refused() -> None:
    rows = make_rows(1)

    async def main():
        b = MicroBatcher(Recorder(), max_batch_size=1, max_wait_ms=0, queue_size=5)
        b.start()
        try:
            await b.submit(np.zeros((1, 2, 3), np.float32), ("ffffffffffffffff",), rows)
        finally:
            await b.stop()

    with pytest.raises(ValueError, match="missing"):
        asyncio.run(main())
