"""The bundle's CLIP text tower without torch: tokenizer.json (`tokenizers`) + text.onnx (onnxruntime)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.bundle_spec import BundleError, Manifest, TextGraphInfo, sha256_hex
from model.text import TextFeatures

# open_clip's SimpleTokenizer split pattern without its special tokens (added tokens here); tokenizer.json
# spells the letter and number classes out as code point ranges (training/export_text.py: split_pattern).
CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
SPECIAL_TOKENS = ("<start_of_text>", "<end_of_text>")


def clean_text(text: str) -> str:
    """open_clip's 'lower' cleaning: ftfy.fix_text, HTML unescape twice, collapse whitespace, lower case."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()


class OnnxTextEncoder:
    """Texts -> TextFeatures through tokenizer.json and text.onnx; same interface as model.text.TextEncoder."""

    def __init__(self, session: Any, tokenizer: Any, info: TextGraphInfo, model_name: str, weights_id: str) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.info = info
        self.model_name = model_name
        self.weights_id = weights_id
        self.context_length = info.context_length
        self.eot_token_id = info.eot_token_id

    @classmethod
    def from_files(cls, graph: Path | bytes, tokenizer: Path | str, info: TextGraphInfo, *, model_name: str,
                   weights_id: str, providers: Sequence[str] | None = None) -> OnnxTextEncoder:
        """Open text.onnx (a path or its bytes) and tokenizer.json (a path or its JSON text)."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.log_severity_level = 3
        # Without prepacked weight copies the ~250 MB tower costs its size once, not twice (the text graph
        # runs only when classes are registered, so the packed matmul speed is not worth a second copy).
        options.add_session_config_entry("session.disable_prepacking", "1")
        source = graph if isinstance(graph, bytes) else str(graph)
        session = ort.InferenceSession(source, sess_options=options,
                                       providers=list(providers or ["CPUExecutionProvider"]))
        tok = Tokenizer.from_str(tokenizer) if isinstance(tokenizer, str) else Tokenizer.from_file(str(tokenizer))
        return cls(session, tok, info, model_name, weights_id)

    @classmethod
    def from_bundle(cls, root: Path, manifest: Manifest, providers: Sequence[str] | None = None) -> OnnxTextEncoder:
        """The bundle's text graph, checked against the manifest's sha256 as it is read."""
        info = manifest.text_graph
        if info is None:
            raise BundleError(f"{root}: bundle has no text graph (re-export it to serve without torch)")
        data = {}
        for rel in (info.file, info.tokenizer):
            path = root / rel
            if not path.is_file():
                raise BundleError(f"{path}: text file listed in the manifest is missing")
            data[rel] = path.read_bytes()
            if sha256_hex(data[rel]) != manifest.files.get(rel):
                raise BundleError(f"{path}: text file is corrupted or truncated (sha256 mismatch)")
        del data[info.file]  # checked: onnxruntime reads the file itself (from bytes it keeps a second copy)
        try:
            return cls.from_files(root / info.file, data[info.tokenizer].decode("utf-8"), info,
                                  model_name=manifest.text.model_name, weights_id=manifest.text.weights_id,
                                  providers=providers)
        except Exception as exc:  # onnxruntime / tokenizers raise their own exception types
            raise BundleError(f"{root}: cannot load the text graph or tokenizer: {exc}") from exc

    def providers(self) -> list[str]:
        """Execution providers the text session actually uses."""
        return list(self.session.get_providers())

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids (K, context_length) int64, identical to open_clip's tokenizer."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a sequence of strings")
        cleaned = [clean_text(t) for t in texts]
        ids = np.zeros((len(texts), self.context_length), np.int64)
        for row, enc in enumerate(self.tokenizer.encode_batch(cleaned)):
            ids[row, : len(enc.ids)] = enc.ids[: self.context_length]
        for row, text in enumerate(cleaned):
            if any(special in text for special in SPECIAL_TOKENS):
                ids[row] = self._literal_special_ids(text)
        return ids

    def _literal_special_ids(self, text: str) -> np.ndarray:
        """A text spelling a special token: open_clip only takes it as one where its split regex starts a piece.

        (`tokenizers` would cut it out anywhere, e.g. inside '!!<end_of_text>'.) Rare, so done piece by piece.
        """
        import json

        from tokenizers import Regex, Tokenizer, pre_tokenizers

        config = json.loads(self.tokenizer.to_str())
        plain = Tokenizer.from_str(self.tokenizer.to_str())
        plain.no_padding()
        plain.no_truncation()
        pattern = "|".join(SPECIAL_TOKENS) + "|" + config["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
        split = pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True)
        special_ids = dict(zip(SPECIAL_TOKENS, (self.info.sot_token_id, self.info.eot_token_id), strict=True))
        body: list[int] = []
        for piece, _ in split.pre_tokenize_str(text):
            if piece in special_ids:
                body.append(special_ids[piece])
            else:
                body.extend(plain.encode(piece, add_special_tokens=False).ids)
        tokens = [self.info.sot_token_id, *body[: self.context_length - 2], self.info.eot_token_id]
        return np.pad(np.asarray(tokens, np.int64), (0, self.context_length - len(tokens)))

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> TextFeatures:
        """Encode K texts in batches into (global_emb, tokens, mask), as model.text.TextEncoder.encode does."""
        ids = self.tokenize(texts)
        parts = [self.session.run(None, {"token_ids": ids[i : i + batch_size]})
                 for i in range(0, len(ids), batch_size)]
        if not parts:
            width = int(self.session.get_outputs()[1].shape[-1])
            return TextFeatures(np.zeros((0, int(self.session.get_outputs()[0].shape[-1])), np.float32),
                                np.zeros((0, self.context_length, width), np.float32),
                                np.zeros((0, self.context_length), np.float32))
        return TextFeatures(*(np.concatenate([p[k] for p in parts]).astype(np.float32, copy=False)
                              for k in range(3)))
