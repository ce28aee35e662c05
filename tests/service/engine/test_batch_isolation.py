"""An inference error in the middle of a merged batch fails only the request that caused it (issue 9)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from model.bundle import ClassTensors
from service.engine.batcher import MicroBatcher
from service.engine.inference import InferenceEngine
from service.engine.isolation import isolate_failures
from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    register,
    running_app,
    skeleton,
    within_tolerance,
)

POISON = 7.25  # a coordinate value the injected fault recognises after preprocessing


def row_sum_score(skeletons: np.ndarray, key, classes: ClassTensors) -> tuple[np.ndarray, np.ndarray]:
    """A transparent stand-in engine: energy[n, k] = sum(x[n]) + k; raises when a poisoned row is present."""
    if (skeletons == POISON).any():
        raise RuntimeError("injected inference fault")
    total = skeletons.reshape(len(skeletons), -1).sum(axis=1, dtype=np.float64)
    energy = total[:, None] + np.arange(len(classes.enc_c))[None, :]
    return energy.astype(np.float32), np.ones_like(energy, np.float32)


def tensors(k: int) -> dict[str, ClassTensors]:
    return {f"c{i}": ClassTensors(*(np.full(2, i, np.float32) for _ in ClassTensors._fields)) for i in range(k)}


@pytest.mark.unit
def test_poisoned_job_fails_alone_and_the_others_get_their_own_rows() -> None:
    rng = np.random.default_rng(0)
    jobs = [rng.normal(size=(n, 3, 4, 25, 2)).astype(np.float32) for n in (2, 1, 3, 1)]
    jobs[1][0, 0, 0, 0, 0] = POISON  # the second request of the batch carries the fault
    classes = tensors(3)

    async def scenario() -> list[object]:
        batcher = MicroBatcher(isolate_failures(row_sum_score), max_batch_size=64, max_wait_ms=50, queue_size=64)
        batcher.start()
        out = await asyncio.gather(*(batcher.submit(x, ("c2", "c0"), classes) for x in jobs),
                                   return_exceptions=True)
        await batcher.stop()
        return out
    results = asyncio.run(scenario())
    for i, (x, got) in enumerate(zip(jobs, results, strict=True)):
        if i == 1:
            energy, _ = got
            assert np.isnan(energy).all()  # the failed row is marked, never a number
            continue
        energy, uncertainty = got
        # the batcher stacks the union of classes in sorted id order: c0 -> row 0, c2 -> row 1
        want = x.reshape(len(x), -1).sum(axis=1, dtype=np.float64)[:, None] + np.array([1.0, 0.0])[None, :]
        np.testing.assert_allclose(energy, want, rtol=1e-6)
        assert (uncertainty == 1).all()


@pytest.mark.unit
def test_without_isolation_the_whole_batch_failed() -> None:
    """The behaviour the wrapper fixes: the plain batcher fails every request of a failed run."""
    jobs = [np.zeros((1, 3, 4, 25, 2), np.float32) for _ in range(3)]
    jobs[1][0, 0, 0, 0, 0] = POISON

    async def scenario() -> list[object]:
        batcher = MicroBatcher(row_sum_score, max_batch_size=64, max_wait_ms=50, queue_size=64)
        batcher.start()
        out = await asyncio.gather(*(batcher.submit(x, ("c0",), tensors(1)) for x in jobs), return_exceptions=True)
        await batcher.stop()
        return out
    assert all(isinstance(r, RuntimeError) for r in asyncio.run(scenario()))


@pytest.mark.integration
@pytest.mark.parametrize("policy", ["batched", "parallel"])
def test_api_fault_mid_batch_answers_the_other_requests_correctly(monkeypatch: pytest.MonkeyPatch,
                                                                  policy: str) -> None:
    real_score = InferenceEngine.score
    runs: list[int] = []

    def faulty(self, skeletons, key, classes):
        runs.append(len(skeletons))
        if _poisoned(skeletons):  # whether merged with others or alone, this sequence makes the run fail
            raise RuntimeError("injected onnxruntime failure")
        return real_score(self, skeletons, key, classes)

    monkeypatch.setattr(InferenceEngine, "score", faulty)
    good = [skeleton(s, frames=24) for s in (1, 2, 3, 4, 5)]
    poisoned = skeleton(99, frames=24)
    with running_app(max_batch_size=16, max_wait_ms=300, serving_policy=policy) as client:
        register(client, LABELS[:3])
        _poisoned.marker = _encoded_marker(client, poisoned)
        runs.clear()
        bodies = [{"skeleton": s.tolist(), "top_k": 3} for s in good[:2]] + \
                 [{"skeleton": poisoned.tolist(), "top_k": 3}] + [{"skeleton": s.tolist(), "top_k": 3} for s in good[2:]]
        with ThreadPoolExecutor(len(bodies)) as pool:
            answers = list(pool.map(lambda b: client.post("/recognize", json=b), bodies))
    if policy == "batched":
        assert max(runs) > 1, f"the requests were never merged into one run: {runs}"
    else:  # the CPU default: one sequence per run, so the failing run is the poisoned one alone
        assert max(runs) == 1, runs
    assert answers[2].status_code == 500 and answers[2].json()["type"].endswith("/inference-failed")
    ok = [a for i, a in enumerate(answers) if i != 2]
    assert all(a.status_code == 200 for a in ok), [a.text for a in ok]
    energy, _ = reference(good, [prompt_of(lab) for lab in LABELS[:3]])
    for i, answer in enumerate(ok):
        got = {r["label"]: r["energy"] for r in answer.json()["results"]}
        assert within_tolerance(np.array([got[lab] for lab in LABELS[:3]]), energy[i]).all()


def _encoded_marker(client, seq: np.ndarray) -> np.ndarray:
    """The preprocessed encoder input of `seq`, as the fault injector will see it."""
    from model.preprocess import preprocess_batch, to_encoder_input
    from tests.service.svc_support import tiny_bundle

    return to_encoder_input(preprocess_batch([seq], tiny_bundle().preprocess))[0]


def _poisoned(skeletons: np.ndarray) -> bool:
    marker = getattr(_poisoned, "marker", None)
    return marker is not None and any(np.allclose(x, marker, atol=1e-6) for x in skeletons)
