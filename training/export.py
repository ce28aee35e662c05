"""Export a Shift-GCN encoder and a SCALE scorer to ONNX as one versioned model bundle (docs/bundle.md)."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model.bundle_spec import (
    DEFAULT_TOLERANCE,
    FORMAT_VERSION,
    GRAPH_NAMES,
    MANIFEST_NAME,
    OPSET,
    OPTIONAL_GRAPHS,
    BundleError,
    Dims,
    TextInfo,
    compute_bundle_version,
    graph_file,
    graph_specs,
    sha256_hex,
)
from model.config import NUM_CHANNELS, NUM_JOINTS, NUM_PERSONS, PreprocessConfig
from model.row_layout import row_layout_copy
from model.scorer import ScaleScorer
from training.export_trunk import export_single_person
from training.onnx_graph import export_graph


class EncoderGraph(nn.Module):
    """Encoder graph body: skeleton -> (feature, logits), optionally computed in another dtype."""

    def __init__(self, encoder: nn.Module, dtype: torch.dtype = torch.float32, row_layout: bool = True) -> None:
        super().__init__()
        self.encoder, self.dtype = row_layout_copy(encoder) if row_layout else encoder, dtype

    def forward(self, skeleton: Tensor) -> tuple[Tensor, Tensor]:
        """(feature, logits) as float32."""
        feature, logits = self.encoder.forward_both(skeleton.to(self.dtype))
        return feature.float(), logits.float()


class ClassSideGraph(nn.Module):
    """Class-side graph body: CLIP text features -> (enc_c, dec_c, prior_mu, prior_logvar)."""

    def __init__(self, scorer: ScaleScorer, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.scorer, self.dtype = scorer, dtype

    def forward(self, text_global: Tensor, text_tokens: Tensor, token_mask: Tensor) -> tuple[Tensor, ...]:
        """(enc_c, dec_c, prior_mu, prior_logvar) as float32."""
        out = self.scorer.class_side_from_tensors(
            text_global.to(self.dtype), text_tokens.to(self.dtype), token_mask.to(self.dtype))
        return tuple(t.float() for t in out)


class SampleSideGraph(nn.Module):
    """Sample-side graph body: features x per-class tensors -> (energy, uncertainty), z = mu_q."""

    def __init__(self, scorer: ScaleScorer, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.scorer, self.dtype = scorer, dtype

    def forward(self, feature: Tensor, enc_c: Tensor, dec_c: Tensor, prior_mu: Tensor,
                prior_logvar: Tensor) -> tuple[Tensor, Tensor]:
        """(energy (B,K), uncertainty (B,K)) as float32."""
        args = (t.to(self.dtype) for t in (feature, enc_c, dec_c, prior_mu, prior_logvar))
        energy, uncertainty = self.scorer.score_from_tensors(*args)
        return energy.float(), uncertainty.float()


def example_inputs(graph: str, dims: Dims, num_frames: int, seed: int = 0) -> tuple[Tensor, ...]:
    """Small random inputs for tracing and the post-export parity check (B=2, K=3 so axes differ)."""
    g = torch.Generator().manual_seed(seed)
    if graph == "encoder":
        return (torch.randn(2, NUM_CHANNELS, num_frames, NUM_JOINTS, NUM_PERSONS, generator=g),)
    k, length = 3, dims.context_length
    if graph == "class_side":
        mask = (torch.arange(length)[None, :] <= torch.tensor([[4], [9], [length - 1]])).float()
        return (torch.randn(k, dims.text_dim, generator=g), torch.randn(k, length, dims.text_dim, generator=g),
                mask)
    return (torch.randn(2, dims.feature_dim, generator=g), torch.randn(k, dims.encoder_hidden, generator=g),
            torch.randn(k, dims.decoder_hidden, generator=g), torch.randn(k, dims.latent_dim, generator=g),
            0.3 * torch.randn(k, dims.latent_dim, generator=g))


def tool_versions() -> dict[str, str]:
    """Versions of the tools that produced the graphs (recorded in the manifest)."""
    import onnx
    import onnxruntime

    try:
        open_clip = importlib.metadata.version("open_clip_torch")
    except importlib.metadata.PackageNotFoundError:
        open_clip = "not installed"
    return {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "open_clip": open_clip, "numpy": np.__version__}


def _graph_modules(encoder: nn.Module, scorer: ScaleScorer, dtype: torch.dtype) -> dict[str, nn.Module]:
    enc = copy.deepcopy(encoder).cpu().to(dtype).eval()
    sc = copy.deepcopy(scorer).cpu().to(dtype).eval()
    # eval() on the wrappers too: torch.onnx.export restores the wrapper's mode recursively afterwards
    return {"encoder": EncoderGraph(enc, dtype).eval(), "class_side": ClassSideGraph(sc, dtype).eval(),
            "sample_side": SampleSideGraph(sc, dtype).eval()}


def _num_class(encoder: nn.Module, num_frames: int) -> int:
    with torch.no_grad():
        _, logits = copy.deepcopy(encoder).cpu().float().eval().forward_both(
            torch.zeros(1, NUM_CHANNELS, num_frames, NUM_JOINTS, NUM_PERSONS))
    return int(logits.shape[-1])


def _check_parity(root: Path, modules: dict[str, nn.Module], dims: Dims, num_frames: int) -> None:
    """Refuse to publish a bundle whose fp32 graphs disagree with PyTorch on the tracing inputs."""
    import onnxruntime as ort

    for graph in GRAPH_NAMES:
        args = example_inputs(graph, dims, num_frames, seed=1)
        sess = ort.InferenceSession(str(root / graph_file(graph)), providers=["CPUExecutionProvider"])
        got = sess.run(None, {i.name: a.numpy() for i, a in zip(sess.get_inputs(), args, strict=True)})
        with torch.no_grad():
            want = [t.numpy() for t in modules[graph](*args)]
        for name, g, w in zip((o.name for o in sess.get_outputs()), got, want, strict=True):
            if name == "energy":
                tol = DEFAULT_TOLERANCE["energy_abs"] + DEFAULT_TOLERANCE["energy_rel"] * np.abs(w)
            else:  # features and per-class tensors: 1e-4 relative, with a floor at the tensor's scale
                tol = 1e-4 * np.abs(w) + 1e-5 * max(1.0, float(np.max(np.abs(w), initial=0.0)))
            if g.shape != w.shape or not np.all(np.abs(g - w) <= tol):
                raise BundleError(f"export parity check failed: {graph} output {name!r} differs from PyTorch "
                                  f"(max abs diff {np.max(np.abs(g - w)) if g.shape == w.shape else 'shape'})")


def export_bundle(
    out_dir: str | Path, encoder: nn.Module, scorer: ScaleScorer, *, preprocess: PreprocessConfig,
    text: TextInfo, training: dict[str, Any] | None = None, score_temperature: float | None = None,
    fp16: bool = False, demo: bool = False, note: str = "", overwrite: bool = False, text_encoder: Any = None,
    open_set: dict[str, Any] | None = None,
) -> Path:
    """Write encoder/class_side/sample_side ONNX graphs (+ fp16/ variant) and manifest.json atomically.

    With `text_encoder` (a model.text.TextEncoder matching `text`) the bundle also carries text.onnx and
    tokenizer.json, so the service needs neither torch nor open_clip (training/export_text.py).
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (pass overwrite=True / --overwrite to replace it)")
    cfg = scorer.cfg
    num_frames = preprocess.num_frames
    dims = Dims(feature_dim=cfg.feature_dim, text_dim=cfg.text_dim, cond_dim=cfg.cond_dim,
                latent_dim=cfg.latent_dim, encoder_hidden=cfg.encoder_hidden, decoder_hidden=cfg.decoder_hidden,
                num_class=_num_class(encoder, num_frames))
    specs = graph_specs(dims, num_frames)
    variants = ["fp32", "fp16"] if fp16 else ["fp32"]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fp32_modules = _graph_modules(encoder, scorer, torch.float32)
        for variant in variants:
            modules = fp32_modules if variant == "fp32" else _graph_modules(encoder, scorer, torch.float16)
            for graph in GRAPH_NAMES:
                args = example_inputs(graph, dims, num_frames)
                export_graph(modules[graph], args, specs[graph], tmp / graph_file(graph, variant))
        _check_parity(tmp, fp32_modules, dims, num_frames)
        export_single_person(encoder, dims, num_frames, tmp, variants)  # optional graph: docs/bundle.md
        blobs = {graph_file(g, v): (tmp / graph_file(g, v)).read_bytes() for v in variants
                 for g in GRAPH_NAMES + OPTIONAL_GRAPHS if (tmp / graph_file(g, v)).is_file()}
        text_graph = _export_text(text_encoder, text, dims, tmp, blobs) if text_encoder is not None else None
        manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION, "bundle_version": "", "created": _now(),
            "dims": dims.model_dump(), "preprocess": preprocess.to_dict(), "text": text.model_dump(),
            "scorer": cfg.to_dict(), "training": dict(training or {}),
            "score_temperature": float(score_temperature if score_temperature is not None else cfg.feature_dim),
            "opset": OPSET, "tools": tool_versions(), "variants": variants,
            "files": {rel: sha256_hex(data) for rel, data in sorted(blobs.items())},
            "demo": bool(demo), "note": note, "tolerance": dict(DEFAULT_TOLERANCE),
        }
        if text_graph is not None:
            manifest["text_graph"] = text_graph
        if open_set is not None:  # optional: bundles without a calibration stay byte-identical
            manifest["open_set"] = dict(open_set)
        manifest = json.loads(json.dumps(manifest))  # the hash sees exactly what the reader will parse
        manifest["bundle_version"] = compute_bundle_version(manifest, blobs)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _export_text(text_encoder: Any, text: TextInfo, dims: Dims, tmp: Path,
                 blobs: dict[str, bytes]) -> dict[str, Any]:
    """Add text.onnx + tokenizer.json to the bundle being written; returns the manifest's text_graph entry."""
    from training.export_text import export_text_graph

    if text_encoder.weights_id != text.weights_id or text_encoder.model_name != text.model_name:
        raise BundleError(f"text encoder {text_encoder.model_name} {text_encoder.weights_id} is not the one the "
                          f"manifest names ({text.model_name} {text.weights_id})")
    widths = (int(text_encoder.model.text_projection.shape[1]), int(text_encoder.model.ln_final.normalized_shape[0]))
    if widths != (dims.text_dim, dims.text_dim) or text_encoder.context_length != dims.context_length:
        raise BundleError(f"text tower {text.model_name} gives {widths[0]}-wide embeddings and {widths[1]}-wide "
                          f"tokens of length {text_encoder.context_length}; the scorer expects {dims.text_dim} and "
                          f"{dims.context_length}")
    info = export_text_graph(text_encoder, tmp)
    for rel in (info.file, info.tokenizer):
        blobs[rel] = (tmp / rel).read_bytes()
    return info.model_dump()


def _publish(tmp: Path, out: Path) -> None:
    """Swap the finished bundle into place so readers never see a half-written one."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{tmp.name}")
        out.rename(old)
    tmp.chmod(0o755)  # mkdtemp makes 0700; the service may run as another user
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
