"""Helpers for the service tests: one tiny bundle, its torch models and a random-init text tower per session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi.testclient import TestClient

from model.bundle_spec import TextInfo
from model.config import DEFAULT_PROMPT_TEMPLATE, PreprocessConfig
from model.preprocess import preprocess_batch, to_encoder_input
from model.shift_gcn import ShiftGCN
from service.app import create_app
from service.settings import Settings

NUM_FRAMES = 32
LABELS = ("walking", "sitting down", "standing up", "jumping", "waving a hand", "clapping")


@functools.cache
def text_encoder() -> Any:
    """The random-init CLIP text tower (seed 0), built once per process."""
    from model.text import load_text_encoder

    torch.set_num_threads(1)
    return load_text_encoder(random_init_seed=0)


@dataclass(frozen=True)
class TinyBundle:
    """An exported bundle plus the exact torch modules it was exported from."""

    path: Path
    encoder: ShiftGCN
    scorer: Any
    preprocess: PreprocessConfig


def _export(demo: bool) -> TinyBundle:
    from training.demo import train_demo_scorer
    from training.export import export_bundle

    te = text_encoder()
    torch.manual_seed(0)
    encoder = ShiftGCN(num_class=60).eval()
    feats = te.encode([DEFAULT_PROMPT_TEMPLATE.format(label=label) for label in LABELS])
    scorer, _ = train_demo_scorer(feats, seed=0, steps=40)
    scorer.eval()
    root = Path(tempfile.mkdtemp(prefix="scale-svc-test-"))
    atexit.register(shutil.rmtree, root, True)
    cfg = PreprocessConfig(num_frames=NUM_FRAMES)
    info = TextInfo(model_name=te.model_name, prompt_template=DEFAULT_PROMPT_TEMPLATE, weights_id=te.weights_id)
    path = export_bundle(root / "bundle", encoder, scorer, preprocess=cfg, text=info,
                         training={"dataset": "service-tests"}, score_temperature=8.0, demo=demo,
                         note="test demo bundle" if demo else "")
    return TinyBundle(path, encoder, scorer, cfg)


@functools.cache
def tiny_bundle() -> TinyBundle:
    """The session's non-demo bundle (T'=32 frames)."""
    return _export(demo=False)


@functools.cache
def demo_bundle() -> TinyBundle:
    """A demo=True export of the same models (for the demo flag/warning)."""
    return _export(demo=True)


def prompt_of(label: str) -> str:
    """The prompt the service builds for a label without description."""
    return DEFAULT_PROMPT_TEMPLATE.format(label=label)


def reference(sequences: Sequence[np.ndarray], prompts: Sequence[str],
              bundle: TinyBundle | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch energies/uncertainties (N,K): training preprocessing, torch Shift-GCN, torch scorer."""
    b = bundle or tiny_bundle()
    x = torch.from_numpy(to_encoder_input(preprocess_batch(list(sequences), b.preprocess)))
    t = text_encoder().encode(list(prompts))
    with torch.no_grad():
        feature = b.encoder.forward_features(x)
        cls = b.scorer.class_side(*(torch.from_numpy(np.asarray(a)) for a in (t.global_emb, t.tokens, t.mask)))
        out = b.scorer.score(feature, cls)
    return out.energy.numpy(), out.uncertainty.numpy()


def within_tolerance(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The bundle's tolerance rule |dE| <= 1e-4 + 1e-5 * |E| (elementwise)."""
    return np.abs(np.asarray(got, np.float64) - want) <= 1e-4 + 1e-5 * np.abs(want)


def skeleton(seed: int, frames: int = 40, persons: int = 1) -> np.ndarray:
    """A synthetic moving skeleton (M,T,25,3) in metres with a non-degenerate spine and shoulders."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(persons, 1, 25, 3))
    base[:, :, 1] = base[:, :, 0] + [0.0, 0.3, 0.05]  # SpineMid above SpineBase
    base[:, :, 8, 0] = base[:, :, 4, 0] + 0.35  # ShoulderRight to the right of ShoulderLeft
    t = np.linspace(0, 2 * np.pi, frames)[None, :, None, None]
    motion = 0.1 * np.sin(t * rng.uniform(0.5, 3, size=(persons, 1, 25, 3)) + rng.uniform(0, 6, (persons, 1, 25, 3)))
    return (base + motion).astype(np.float32) + np.float32(3.0)


def settings(bundle: TinyBundle | None = None, **overrides: Any) -> Settings:
    """Test settings: tiny bundle, in-process registry unless redis_url is given, small batches."""
    values: dict[str, Any] = {"bundle_path": (bundle or tiny_bundle()).path, "redis_url": None,
                              "max_batch_size": 16, "max_wait_ms": 20.0, "device": "cpu"}
    values.update(overrides)
    return Settings(**values)


def wait_ready(client: Any, timeout: float = 30.0) -> None:
    """Poll /readyz until 200 (warm-up runs in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"service not ready after {timeout}s: {client.get('/readyz').json()}")


@contextmanager
def running_app(bundle: TinyBundle | None = None, **overrides: Any) -> Iterator[TestClient]:
    """A started app (lifespan run) behind a TestClient, ready to serve."""
    app = create_app(settings(bundle, **overrides), text_encoder=text_encoder())
    with TestClient(app) as client:
        wait_ready(client)
        yield client


def register(client: TestClient, labels: Sequence[str], **headers: str) -> list[dict[str, Any]]:
    """POST /classes for labels, asserting success; returns the class objects."""
    r = client.post("/classes", json={"classes": [{"label": lab} for lab in labels]}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["classes"]


def registry_state(client: TestClient) -> tuple[int, list[str]]:
    """(registry version, sorted class ids) as the API reports them."""
    body = client.get("/classes").json()
    return body["registry_version"], sorted(c["id"] for c in body["classes"])


def end_stream(ws: Any) -> list[dict[str, Any]]:
    """Send /streams' `end` message and return every event up to and including `end` (or an `error`)."""
    ws.send_json({"type": "end"})
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] not in ("end", "error"):
        events.append(ws.receive_json())
    return events
