"""`scale serve` start-up wiring: which text weights the demo bundle is built with (no server is started)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import cli.demo_default
import model.text
import training.demo
from cli.main import main

pytestmark = pytest.mark.unit


@pytest.fixture()
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Stop `serve` right after the demo build and record what it was given."""
    for var in ("SCALE_BUNDLE_PATH", "REDIS_URL", "SCALE_REDIS_URL", "SCALE_CLIP_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SCALE_DEMO_DIR", str(tmp_path / "demo"))
    seen: dict = {}

    def fake_build(out_dir, text_encoder=None, **_):
        seen.update(out_dir=Path(out_dir), text=text_encoder)
        raise RuntimeError("stopped after the demo build")

    monkeypatch.setattr(training.demo, "build_demo_bundle", fake_build)
    # the build runs here instead of in a child process, so the replaced loaders are the ones it calls
    monkeypatch.setattr(cli.demo_default, "run_in_child", cli.demo_default.build_demo)
    return seen


def test_demo_bundle_is_built_with_configured_clip_weights(tmp_path, monkeypatch, recorded, capsys) -> None:
    weights = tmp_path / "open_clip_model.safetensors"
    weights.write_bytes(b"not read: the loader is replaced")
    tower = SimpleNamespace(weights_id="sha256:" + "ab" * 32)
    loaded: list = []
    monkeypatch.setattr(model.text, "load_text_encoder", lambda path=None, **_: loaded.append(path) or tower)
    assert main(["serve", "--clip-weights", str(weights)]) == 2
    assert recorded["text"] is tower and [Path(p) for p in loaded] == [weights]
    assert recorded["out_dir"] == tmp_path / "demo"
    assert "stopped after the demo build" in capsys.readouterr().err


def test_demo_bundle_without_weights_uses_the_random_tower(tmp_path, monkeypatch, recorded) -> None:
    tower = SimpleNamespace(weights_id="random-init:seed=0")
    calls: list = []
    monkeypatch.setattr(model.text, "load_text_encoder", lambda path=None, **kw: calls.append((path, kw)) or tower)
    assert main(["serve"]) == 2
    # the demo's seeded random-init tower, handed to the demo build (the server itself serves the text graph)
    assert recorded["text"] is tower and calls == [(None, {"random_init_seed": training.demo.DEMO_SEED})]


def test_missing_clip_weights_name_the_flag_or_the_variable(tmp_path, monkeypatch, recorded, capsys) -> None:
    missing = tmp_path / "empty-mount" / "open_clip_model.safetensors"
    assert main(["serve", "--clip-weights", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"does not exist: {missing} (the path came from the --clip-weights flag" in err
    monkeypatch.setenv("SCALE_CLIP_WEIGHTS", str(missing))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "the path came from the environment variable SCALE_CLIP_WEIGHTS" in err and ".env" in err
    assert "weights argument" not in err
