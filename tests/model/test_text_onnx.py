"""The torch-free text path: tokenizer.json ids equal open_clip's, text.onnx features equal open_clip's."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.bundle_spec import TextGraphInfo
from model.text import make_prompt
from model.text_onnx import OnnxTextEncoder, clean_text
from tests.model.test_text import tiny_weights  # noqa: F401  (fixture: a tiny CLIP saved as safetensors)

REPO = Path(__file__).resolve().parents[2]
CLASS_FILES = sorted((REPO / "training" / "resources" / "class_names").glob("ntu120_*.txt"))


@pytest.fixture(scope="module")
def open_clip_tokenizer():
    import open_clip

    return open_clip.get_tokenizer("ViT-B-32-quickgelu")


@pytest.fixture(scope="module")
def onnx_tokenizer(open_clip_tokenizer) -> OnnxTextEncoder:
    """tokenizer.json as export writes it; no graph (tokenize only)."""
    from tokenizers import Tokenizer

    from training.export_text import tokenizer_json

    tok = Tokenizer.from_str(tokenizer_json(open_clip_tokenizer))
    info = TextGraphInfo(sot_token_id=open_clip_tokenizer.sot_token_id,
                         eot_token_id=open_clip_tokenizer.eot_token_id, vocab_size=open_clip_tokenizer.vocab_size)
    return OnnxTextEncoder(None, tok, info, "ViT-B-32-quickgelu", "tokenizer-only")


def ntu_prompts() -> list[str]:
    """The prompt of every NTU-120 class name, in all three naming variants."""
    names = [line.strip() for f in CLASS_FILES for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [make_prompt(name) for name in names]


# Character pools for generated strings: accents, emoji (with ZWJ and skin tones), CJK, Greek final sigma,
# mojibake ftfy repairs, HTML entities, full-width forms, ligatures, control and odd whitespace.
POOLS = ("abcXYZ drink water", "éèêëçàÀÉÇñÑüÜöÖßſ", "😀👋🏽🇫🇷❤️\u200d🔥", "中文日本語한국어", "АБВгде", "Σσς ΑΒΓ",
         " \t\n\u00a0\u2003\u3000", "0123456789٣๓", "!?.,;:'\"-_()[]{}<>/\\", "&amp; &lt;&#39; &nbsp;",
         "'s 'S 'T 're 'LL 'd", "\u0301\u0308\u200b\u200d", "ﬁﬂ ＡＢＣ １２３", "Ã©Ã¨ â€™ Ã¼", "İıǅǄ", "\x00\x1f\x7f\x85")


def generated_strings(n: int, seed: int = 0) -> list[str]:
    """n seeded strings; every tenth one is long enough to be truncated at 77 tokens."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.randint(150, 600) if i % 10 == 0 else rng.randint(0, 40)
        out.append("".join(rng.choice(rng.choice(POOLS)) for _ in range(length)))
    return out


@pytest.mark.unit
def test_ntu_prompts_tokenize_exactly_like_open_clip(open_clip_tokenizer, onnx_tokenizer) -> None:
    prompts = ntu_prompts()
    assert len(prompts) >= 120
    want = open_clip_tokenizer(prompts).numpy()
    got = onnx_tokenizer.tokenize(prompts)
    assert got.dtype == np.int64 and got.shape == (len(prompts), 77)
    np.testing.assert_array_equal(got, want)


@pytest.mark.unit
def test_generated_unicode_and_overlong_strings_tokenize_exactly_like_open_clip(
        open_clip_tokenizer, onnx_tokenizer) -> None:
    texts = generated_strings(1500) + ["", "   ", "<start_of_text>hi", "!!<end_of_text>x", "a 'ſ b",
                                       "x" * 2000, "word " * 200]
    want = open_clip_tokenizer(texts).numpy()
    got = onnx_tokenizer.tokenize(texts)
    mismatched = [t[:60] for t, w, g in zip(texts, want, got, strict=True) if not np.array_equal(w, g)]
    assert not mismatched, f"{len(mismatched)} strings tokenize differently, e.g. {mismatched[:3]}"
    truncated = want[:, -1] == open_clip_tokenizer.eot_token_id  # EOT in the last slot: the text was cut
    assert truncated.sum() >= 100, "the generated strings must exercise truncation"


@pytest.mark.unit
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120))
def test_arbitrary_unicode_tokenizes_like_open_clip(open_clip_tokenizer, onnx_tokenizer, text: str) -> None:
    np.testing.assert_array_equal(onnx_tokenizer.tokenize([text]), open_clip_tokenizer([text]).numpy())


@pytest.mark.unit
def test_cleaning_matches_open_clip() -> None:
    from open_clip.tokenizer import _clean_lower

    for text in ("  Caf\u00c3\u00a9 &amp;amp; ＡＢ\n\tX ", "HELLO   World", "ǅ Σ"):
        assert clean_text(text) == _clean_lower(text)


@pytest.fixture(scope="module")
def exported_tower(tmp_path_factory: pytest.TempPathFactory):
    """The random-init ViT-B/32 text tower (seed 0) and its exported text.onnx + tokenizer.json."""
    import torch

    from model.text import load_text_encoder
    from training.export_text import export_text_graph

    torch.set_num_threads(2)
    encoder = load_text_encoder(random_init_seed=0)
    out = tmp_path_factory.mktemp("text-graph")
    info = export_text_graph(encoder, out)
    onnx_text = OnnxTextEncoder.from_files(out / info.file, out / info.tokenizer, info,
                                           model_name=encoder.model_name, weights_id=encoder.weights_id)
    return encoder, onnx_text


@pytest.mark.integration
def test_onnx_text_features_equal_open_clip(exported_tower) -> None:
    import torch

    encoder, onnx_text = exported_tower
    texts = ntu_prompts()[:120] + generated_strings(8, seed=1)
    got = onnx_text.encode(texts, batch_size=50)
    want = encoder.encode(texts)
    # independent of TextEncoder: open_clip's own encode_text gives the global embedding
    with torch.no_grad():
        direct = encoder.model.encode_text(encoder.tokenizer(texts)).numpy()
    assert got.global_emb.shape == (128, 512) and got.tokens.shape == (128, 77, 512) and got.mask.shape == (128, 77)
    np.testing.assert_allclose(got.global_emb, direct, atol=1e-4, rtol=0)
    np.testing.assert_allclose(got.tokens, want.tokens, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(got.mask, want.mask)
    # mask: ones up to and including EOT, computed here from the token ids
    ids = encoder.tokenizer(texts).numpy()
    eot = np.argmax(ids == encoder.eot_token_id, axis=1)
    np.testing.assert_array_equal(got.mask, (np.arange(77)[None] <= eot[:, None]).astype(np.float32))


@pytest.mark.integration
def test_real_weights_file_exports_an_equal_text_graph(tiny_weights, tmp_path: Path) -> None:  # noqa: F811
    """The real loading path (a CLIP safetensors file, here a tiny architecture) exports and matches."""
    import torch

    from model.text import load_text_encoder
    from training.export_text import export_text_graph

    model, path = tiny_weights
    encoder = load_text_encoder(weights=path, model_name="scale-tiny-clip")
    info = export_text_graph(encoder, tmp_path)
    onnx_text = OnnxTextEncoder.from_files(tmp_path / info.file, tmp_path / info.tokenizer, info,
                                           model_name=encoder.model_name, weights_id=encoder.weights_id)
    texts = ntu_prompts()[:40]
    got = onnx_text.encode(texts)
    with torch.no_grad():
        want = model.encode_text(encoder.tokenizer(texts)).numpy()
    assert got.tokens.shape == (40, 77, 16)
    np.testing.assert_allclose(got.global_emb, want, atol=1e-5, rtol=0)


@pytest.mark.integration
def test_every_code_point_splits_as_open_clip_splits_it(open_clip_tokenizer) -> None:
    """tokenizer.json's split regex (onig) against open_clip's (the `regex` module) on all of Unicode."""
    import regex
    from tokenizers import Regex, pre_tokenizers

    from training.export_text import split_pattern

    split = pre_tokenizers.Split(Regex(split_pattern()), behavior="removed", invert=True)
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and not chr(c).isspace()]
    for glue in (" ", "'S"):  # alone, and glued to a contraction
        text = glue.join(chars)
        got = [piece for piece, _ in split.pre_tokenize_str(text)]
        want = regex.findall(open_clip_tokenizer.pat, text)
        assert len(got) == len(want) and got == want, next(
            (f"first difference at piece {i}: {g!r} != {w!r}" for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w),
            f"{len(got)} pieces != {len(want)}")
