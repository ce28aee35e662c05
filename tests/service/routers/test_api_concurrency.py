"""Concurrent recognize requests: 64 answered correctly in fewer inference runs; an overload answers 429."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    settings,
    skeleton,
    text_encoder,
    within_tolerance,
)

pytestmark = pytest.mark.integration
N_REQUESTS = 64


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text page, keyed by (name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


@contextlib.asynccontextmanager
async def ready_client(app):
    """An in-process client for `app` once /readyz is 200 (ASGITransport skips the lifespan: enter it here)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc", timeout=120) as client:
            for _ in range(200):
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            yield client


async def _run(seqs: list[np.ndarray]) -> tuple[list[httpx.Response], str]:
    app = create_app(settings(max_batch_size=16, max_wait_ms=50.0, serving_policy="batched"),
                     text_encoder=text_encoder())
    async with ready_client(app) as client:
        r = await client.post("/classes", json={"classes": [{"label": lab} for lab in LABELS]})
        assert r.status_code == 200
        answers = await asyncio.gather(*(client.post("/recognize", json={"skeleton": s.tolist(), "top_k": 10})
                                         for s in seqs))
        return answers, (await client.get("/metrics")).text


def test_64_concurrent_requests_are_micro_batched() -> None:
    seqs = [skeleton(100 + i, frames=16 + i % 5) for i in range(N_REQUESTS)]
    answers, metrics = asyncio.run(_run(seqs))
    energy, _ = reference(seqs, [prompt_of(lab) for lab in LABELS])
    for i, r in enumerate(answers):
        assert r.status_code == 200, r.text
        got = {x["label"]: x["energy"] for x in r.json()["results"]}
        assert within_tolerance(np.array([got[lab] for lab in LABELS]), energy[i]).all()
    m = samples(metrics)
    runs = m[("scale_inference_runs_total", ())]
    assert 4 <= runs < N_REQUESTS  # at most 16 sequences per run, and merged
    assert m[("scale_batch_size_sequences_count", ())] == runs
    assert m[("scale_batch_size_sequences_sum", ())] == N_REQUESTS
    assert m[("scale_batch_size_sequences_bucket", (("le", "16.0"),))] == runs  # never above max_batch_size
    assert m[("scale_queue_wait_seconds_count", ())] == N_REQUESTS
    ok = ("scale_http_requests_total", (("method", "POST"), ("route", "/recognize"), ("status", "200")))
    assert m[ok] == N_REQUESTS
    assert m[("scale_registry_classes", ())] == len(LABELS)


async def _overload(seqs: list[np.ndarray]) -> tuple[list[httpx.Response], tuple, tuple, str]:
    app = create_app(settings(max_batch_size=1, max_wait_ms=0.0, queue_size=1, serving_policy="batched"),
                     text_encoder=text_encoder())
    async with ready_client(app) as client:
        assert (await client.post("/classes", json={"classes": [{"label": lab} for lab in LABELS]})).is_success
        before = (await client.get("/classes")).json()
        batcher = app.state.service.batcher
        score = batcher._score

        def busy_device(*args: object) -> tuple[np.ndarray, np.ndarray]:
            time.sleep(0.4)  # each run outlasts the burst below, so the one-sequence queue overflows
            return score(*args)

        batcher._score = busy_device
        answers = await asyncio.gather(*(client.post("/recognize", json={"skeleton": s.tolist(), "top_k": 10})
                                         for s in seqs))
        after = (await client.get("/classes")).json()
        return answers, before, after, (await client.get("/metrics")).text


def test_overload_answers_429_with_retry_after_and_serves_the_admitted() -> None:
    seqs = [skeleton(300 + i) for i in range(8)]
    answers, before, after, metrics = asyncio.run(_overload(seqs))
    refused = [r for r in answers if r.status_code == 429]
    served = [(i, r) for i, r in enumerate(answers) if r.status_code == 200]
    assert len(refused) + len(served) == len(seqs), [r.status_code for r in answers]
    assert refused and len(served) >= 2  # the running one and the queued one at least
    for r in refused:
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/queue-full") and "queue is full" in r.json()["detail"]
        assert int(r.headers["Retry-After"]) >= 1
    energy, _ = reference([seqs[i] for i, _ in served], [prompt_of(lab) for lab in LABELS])
    for row, (_, r) in enumerate(served):
        got = {x["label"]: x["energy"] for x in r.json()["results"]}
        assert within_tolerance(np.array([got[lab] for lab in LABELS]), energy[row]).all()
    assert (after["registry_version"], after["classes"]) == (before["registry_version"], before["classes"])
    m = samples(metrics)
    assert m[("scale_http_requests_total", (("method", "POST"), ("route", "/recognize"), ("status", "429")))] \
        == len(refused)
    assert m[("scale_inference_runs_total", ())] == len(served)
