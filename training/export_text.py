"""Export the CLIP text tower as an ONNX graph plus a torch-free tokenizer.json (docs/bundle.md, "Text graph")."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model.bundle_spec import OPSET, BundleError, TextGraphInfo, text_graph_spec
from model.text_onnx import CONTRACTIONS, OnnxTextEncoder
from training.onnx_graph import export_graph

# Sample texts for tracing and the post-export parity check: short, accented, emoji, and over-long (truncated).
PARITY_TEXTS = ("The Human Action of drink water", "Ça va? naïve café — ÉCOLE", "wave 👋 hello 2 u",
                "a " + "very long prompt " * 40)


class TextTowerGraph(nn.Module):
    """Token ids (K, 77) -> (text_global = encode_text, text_tokens = ln_final output, token_mask up to EOT)."""

    def __init__(self, clip_model: nn.Module, eot_token_id: int) -> None:
        super().__init__()
        self.clip = clip_model
        self.eot_token_id = eot_token_id

    def forward(self, token_ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The same three arrays model.text.TextEncoder.encode returns, as float32."""
        captured: list[Tensor] = []
        hook = self.clip.ln_final.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            text_global = self.clip.encode_text(token_ids)
        finally:
            hook.remove()
        eot_pos = (token_ids == self.eot_token_id).int().argmax(dim=1)
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        mask = (positions.unsqueeze(0) <= eot_pos.unsqueeze(1)).float()
        return text_global.float(), captured[-1].float(), mask


def _class_ranges(char_class: str) -> str:
    """The code points open_clip's `regex` split (case-insensitive) puts in a class, as onig ranges."""
    import regex

    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    runs: list[tuple[int, int]] = []
    for cp in map(ord, regex.findall(char_class, everything, flags=regex.IGNORECASE)):
        if runs and cp == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in runs)


@functools.cache
def split_pattern() -> str:
    """open_clip's split regex for onig with every class spelled out as code point ranges.

    The classes are computed with open_clip's own regex engine and flags, so a `tokenizers` build with older
    Unicode tables splits new characters (e.g. CJK extension H) the same way, and quirks carry over (under
    IGNORECASE U+0345 is neither a letter nor outside `[^\\s\\p{L}\\p{N}]`: open_clip drops it).
    """
    letters, numbers = _class_ranges(r"[\p{L}]"), _class_ranges(r"[\p{N}]")
    others = _class_ranges(r"[^\s\p{L}\p{N}]")
    return f"{CONTRACTIONS}|[{letters}]+|[{numbers}]|[{others}]+"


def tokenizer_json(simple_tokenizer: Any) -> str:
    """A `tokenizers` tokenizer.json equivalent to open_clip's SimpleTokenizer after text cleaning.

    Cleaning (ftfy, HTML unescape, whitespace, lower case) stays in Python (model.text_onnx.clean_text):
    ftfy has no `tokenizers` equivalent, and doing it once in Python keeps the ids identical.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    tok = simple_tokenizer
    if getattr(tok, "reduction_fn", None) is not None or getattr(tok.clean_fn, "__name__", "") != "_clean_lower":
        raise BundleError("only open_clip's default SimpleTokenizer (clean='lower', truncation) can be exported")
    merges = sorted(tok.bpe_ranks, key=tok.bpe_ranks.__getitem__)
    model = models.BPE(vocab=dict(tok.encoder), merges=list(merges), end_of_word_suffix="</w>", fuse_unk=False)
    out = Tokenizer(model)
    out.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(split_pattern()), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    out.decoder = decoders.BPEDecoder(suffix="</w>")
    sot, eot = tok.decoder[tok.sot_token_id], tok.decoder[tok.eot_token_id]
    out.add_special_tokens([AddedToken(sot, special=True, normalized=False),
                            AddedToken(eot, special=True, normalized=False)])
    out.post_processor = processors.TemplateProcessing(
        single=f"{sot} $A {eot}", special_tokens=[(sot, tok.sot_token_id), (eot, tok.eot_token_id)])
    length = int(tok.context_length)
    out.enable_truncation(max_length=length)  # open_clip keeps SOT + the first length-2 tokens + EOT
    out.enable_padding(length=length, pad_id=0, pad_token=tok.decoder[0])  # open_clip pads with id 0
    return out.to_str()


def export_text_graph(text_encoder: Any, out_dir: Path, opset: int = OPSET) -> TextGraphInfo:
    """Write text.onnx and tokenizer.json for a model.text.TextEncoder into out_dir, checked against it."""
    tok = text_encoder.tokenizer
    info = TextGraphInfo(context_length=int(tok.context_length), sot_token_id=int(tok.sot_token_id),
                         eot_token_id=int(tok.eot_token_id), vocab_size=int(tok.vocab_size))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / info.tokenizer).write_text(tokenizer_json(tok), encoding="utf-8")
    graph = TextTowerGraph(text_encoder.model, info.eot_token_id).cpu().eval()
    ids = text_encoder.tokenize(list(PARITY_TEXTS[:2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MultiheadAttention's fast-path notes while tracing
        export_graph(graph, (ids,), text_graph_spec(info.context_length, int(text_encoder.model.text_projection.shape[1]),
                                                     int(text_encoder.model.ln_final.normalized_shape[0])),
                     out_dir / info.file, opset=opset)
    check_text_parity(text_encoder, out_dir, info)
    return info


def check_text_parity(text_encoder: Any, out_dir: Path, info: TextGraphInfo, atol: float = 1e-4) -> None:
    """Refuse a text graph or tokenizer that disagrees with open_clip on PARITY_TEXTS."""
    onnx_text = OnnxTextEncoder.from_files(out_dir / info.file, out_dir / info.tokenizer, info,
                                           model_name=text_encoder.model_name, weights_id=text_encoder.weights_id,
                                           providers=["CPUExecutionProvider"])
    want_ids = text_encoder.tokenize(list(PARITY_TEXTS)).numpy()
    got_ids = onnx_text.tokenize(list(PARITY_TEXTS))
    if not np.array_equal(want_ids, got_ids):
        raise BundleError("export check failed: tokenizer.json gives other token ids than open_clip")
    want, got = text_encoder.encode(list(PARITY_TEXTS)), onnx_text.encode(list(PARITY_TEXTS))
    for name in ("global_emb", "tokens", "mask"):
        diff = float(np.max(np.abs(getattr(want, name) - getattr(got, name))))
        if diff > atol:
            raise BundleError(f"export check failed: text graph output {name} differs from open_clip by {diff}")
