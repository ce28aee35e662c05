"""A bundle `scale export` marked as trained with a random text tower warns in every answer, like the demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.bundle_spec import TextInfo
from model.config import DEFAULT_PROMPT_TEMPLATE
from tests.service.svc_support import NUM_FRAMES, TinyBundle, register, running_app, text_encoder, tiny_bundle


@pytest.mark.integration
def test_random_text_bundle_answers_carry_a_warning_and_stay_non_demo(tmp_path: Path) -> None:
    from training.export import export_bundle

    base, te = tiny_bundle(), text_encoder()
    info = TextInfo(model_name=te.model_name, prompt_template=DEFAULT_PROMPT_TEMPLATE, weights_id=te.weights_id)
    path = export_bundle(tmp_path / "bundle", base.encoder, base.scorer, preprocess=base.preprocess, text=info,
                         training={"real_text_weights": False}, score_temperature=8.0)
    assert json.loads((path / "manifest.json").read_text())["demo"] is False
    with running_app(TinyBundle(path, base.encoder, base.scorer, base.preprocess)) as client:
        assert "not the real CLIP weights" in client.get("/info").json()["warning"]
        register(client, ["wave", "jump"])
        seq = np.random.default_rng(0).normal(size=(1, NUM_FRAMES, 25, 3)).tolist()
        body = client.post("/recognize", json={"skeletons": [seq], "top_k": 2}).json()
        assert "random-init:seed=0 is not the real CLIP weights" in body["warning"] and "demo" not in body
