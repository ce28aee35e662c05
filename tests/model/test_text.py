"""Text conditioning on a randomly initialised ViT-B/32 text tower (no CLIP weights here), prompts, weight lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.text import (
    WEIGHTS_ENV,
    MissingWeightsError,
    TextEncoder,
    load_text_encoder,
    make_prompt,
    resolve_weights,
)

pytestmark = pytest.mark.unit
torch.set_num_threads(1)

OPENAI_REPO = "timm/vit_base_patch32_clip_224.openai"


@pytest.fixture(scope="module")
def built() -> tuple[TextEncoder, bool]:
    """One random tower per module (a few seconds), and whether building it left the global RNG alone."""
    state = torch.get_rng_state()
    enc = load_text_encoder(random_init_seed=0)
    return enc, torch.equal(state, torch.get_rng_state())


@pytest.fixture(scope="module")
def encoder(built) -> TextEncoder:
    return built[0]


def test_shapes_dtypes_and_identity(encoder: TextEncoder, built) -> None:
    feats = encoder.encode(["The Human Action of drink water", "a", "kick something"])
    assert feats.global_emb.shape == (3, 512) and feats.global_emb.dtype == np.float32
    assert feats.tokens.shape == (3, 77, 512) and feats.tokens.dtype == np.float32
    assert feats.mask.shape == (3, 77) and feats.mask.dtype == np.float32
    assert encoder.weights_id == "random-init:seed=0" and encoder.model.visual is None
    assert built[1], "building the random tower must not consume the caller's RNG"


def test_mask_covers_sot_to_eot_for_a_known_prompt(encoder: TextEncoder) -> None:
    # "The Human Action of drink water" is six single-BPE words: SOT + 6 + EOT = 8 real positions
    mask = encoder.encode([make_prompt("drink water")]).mask[0]
    np.testing.assert_array_equal(mask, np.r_[np.ones(8), np.zeros(69)].astype(np.float32))


def test_global_is_encode_text_and_tokens_are_ln_final(encoder: TextEncoder) -> None:
    texts = ["The Human Action of wave", "The Human Action of sit down. A person lowers onto a chair"]
    feats = encoder.encode(texts, batch_size=1)
    model, ids = encoder.model, encoder.tokenizer(texts)
    with torch.no_grad():
        want_global = model.encode_text(ids)
        # independent forward of the tower up to ln_final
        h = model.token_embedding(ids) + model.positional_embedding
        h = model.ln_final(model.transformer(h, attn_mask=model.attn_mask))
    np.testing.assert_allclose(feats.global_emb, want_global.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats.tokens, h.numpy(), rtol=1e-5, atol=1e-5)
    # global = EOT row of the tokens times the projection, not normalised
    eot = ids.argmax(dim=1)
    projected = feats.tokens[np.arange(2), eot.numpy()] @ model.text_projection.detach().numpy()
    np.testing.assert_allclose(feats.global_emb, projected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(np.linalg.norm(feats.global_emb, axis=1), 1.0)


def test_equal_texts_give_equal_features(encoder: TextEncoder) -> None:
    feats = encoder.encode(["jump up", "clapping", "jump up"])
    assert np.array_equal(feats.global_emb[0], feats.global_emb[2])
    assert np.array_equal(feats.tokens[0], feats.tokens[2])
    assert not np.allclose(feats.global_emb[0], feats.global_emb[1])
    alone = encoder.encode(["jump up"])
    np.testing.assert_allclose(alone.global_emb[0], feats.global_emb[0], rtol=1e-5, atol=1e-5)


def test_same_seed_same_tower(encoder: TextEncoder) -> None:
    again = load_text_encoder(random_init_seed=0)
    a, b = encoder.encode(["hand waving"]), again.encode(["hand waving"])
    assert np.array_equal(a.global_emb, b.global_emb)


def test_encode_rejects_non_strings(encoder: TextEncoder) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        encoder.encode("not a list")
    with pytest.raises(TypeError, match="sequence of strings"):
        encoder.encode(["ok", 3])


def test_make_prompt() -> None:
    assert make_prompt("drink water") == "The Human Action of drink water"
    assert make_prompt("wave", "A hand moves side to side") == "The Human Action of wave. A hand moves side to side"
    assert make_prompt("wave", template="a person doing {label}") == "a person doing wave"
    assert make_prompt("ignored", "ignored too", prompt="  custom text ") == "custom text"
    with pytest.raises(ValueError, match="label"):
        make_prompt("  ")
    with pytest.raises(ValueError, match="template"):
        make_prompt("wave", template="no placeholder")


@pytest.fixture()
def offline_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    return tmp_path / "hf" / "hub"


def test_missing_weights_error_says_how_to_provide_them(offline_empty_cache: Path) -> None:
    with pytest.raises(MissingWeightsError) as info:
        load_text_encoder()
    message = str(info.value)
    assert WEIGHTS_ENV in message and OPENAI_REPO in message
    # what to get, how to get it, and the exact places it is looked up
    assert "open_clip_model.safetensors" in message and "--clip-weights" in message
    assert f"hf download {OPENAI_REPO} open_clip_model.safetensors" in message
    repo_dir = offline_empty_cache / ("models--" + OPENAI_REPO.replace("/", "--"))
    assert str(repo_dir / "snapshots" / "<commit>" / "open_clip_model.safetensors") in message
    assert str(repo_dir / "refs" / "main") in message


def test_bad_explicit_paths_are_named(offline_empty_cache: Path, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(MissingWeightsError, match="does not exist: .*nope.safetensors .*the weights argument"):
        resolve_weights(tmp_path / "nope.safetensors", "ViT-B-32-quickgelu")
    with pytest.raises(MissingWeightsError, match="nope.safetensors .*came from the --clip-weights flag"):
        resolve_weights(tmp_path / "nope.safetensors", "ViT-B-32-quickgelu", source="the --clip-weights flag")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "gone.bin"))
    with pytest.raises(MissingWeightsError, match=f"gone.bin .*came from the environment variable {WEIGHTS_ENV}"):
        resolve_weights(None, "ViT-B-32-quickgelu")


def test_prefilled_hf_cache_is_found_offline(offline_empty_cache: Path) -> None:
    # the Hugging Face cache layout: refs/main names a snapshot folder holding the file
    repo_dir = offline_empty_cache / ("models--" + OPENAI_REPO.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("a" * 40)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"placeholder")
    assert resolve_weights(None, "ViT-B-32-quickgelu") == snapshot / "open_clip_model.safetensors"


TINY_CLIP = {
    "embed_dim": 8, "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture()
def tiny_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A tiny CLIP architecture registered with open_clip and its random weights saved as safetensors."""
    import json

    import open_clip
    from safetensors.torch import save_file

    (tmp_path / "scale-tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(tmp_path / "scale-tiny-clip.json")
    torch.manual_seed(3)
    model = open_clip.create_model("scale-tiny-clip", pretrained=None).eval()
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    return model, path


def test_real_loading_path_from_a_local_file(tiny_weights, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    model, path = tiny_weights
    enc = load_text_encoder(weights=path, model_name="scale-tiny-clip")
    assert enc.weights_id == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    feats = enc.encode(["The Human Action of wave"])
    with torch.no_grad():
        want = model.encode_text(enc.tokenizer(["The Human Action of wave"]))
    np.testing.assert_allclose(feats.global_emb, want.numpy(), rtol=1e-6, atol=1e-6)
    assert feats.tokens.shape == (1, 77, 16)
    monkeypatch.setenv(WEIGHTS_ENV, str(path))
    assert load_text_encoder(model_name="scale-tiny-clip").weights_id == enc.weights_id
