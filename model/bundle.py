"""Load and validate a model bundle into onnxruntime sessions (layout and fields: docs/bundle.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from model.bundle_spec import (
    FORMAT_VERSION,
    GRAPH_NAMES,
    MANIFEST_NAME,
    OPTIONAL_GRAPHS,
    TEXT_FILES,
    VARIANTS,
    BundleError,
    ClassTensors,
    Dims,
    GraphSpec,
    Manifest,
    TensorSpec,
    compute_bundle_version,
    graph_file,
    graph_specs,
    sha256_hex,
)

__all__ = [
    "FORMAT_VERSION", "Bundle", "BundleError", "ClassTensors", "Dims", "GraphSpec", "Manifest", "TensorSpec",
    "default_providers", "graph_specs", "load_bundle", "read_manifest", "verify_files",
]

_ORT_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}


def default_providers() -> list[str]:
    """CUDAExecutionProvider first when onnxruntime offers it, CPU always as the fallback."""
    import onnxruntime as ort

    # onnxruntime-gpu lists CUDA even on machines without a GPU (and logs errors when it falls back).
    cuda = "CUDAExecutionProvider" in ort.get_available_providers() and _cuda_device_present()
    return (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]


def _cuda_device_present() -> bool:
    from model.cuda_probe import cuda_device_names  # the NVIDIA driver via ctypes: no torch import

    return bool(cuda_device_names())


def read_manifest(root: Path) -> Manifest:
    """Parse and validate manifest.json; refuses other format versions with a clear BundleError."""
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise BundleError(f"{path}: manifest not found (is {root} a model bundle?)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise BundleError(f"{path}: manifest must be a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(f"{path}: unsupported bundle format_version {version!r}; this code reads "
                          f"format_version {FORMAT_VERSION} (re-export the bundle with this release)")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
                             for e in exc.errors())
        raise BundleError(f"{path}: invalid manifest: {problems}") from exc
    manifest._raw = raw
    return manifest


def verify_files(root: Path, manifest: Manifest) -> dict[str, bytes]:
    """Check every listed graph exists and matches its sha256, then the bundle's content hash."""
    for variant in manifest.variants:
        for graph in GRAPH_NAMES:
            if graph_file(graph, variant) not in manifest.files:
                raise BundleError(f"manifest lists variant {variant!r} but no file {graph_file(graph, variant)}")
    if manifest.text_graph is not None and not set(TEXT_FILES) <= set(manifest.files):
        raise BundleError(f"manifest has a text_graph but files does not list {list(TEXT_FILES)}")
    known = {graph_file(g, v) for v in VARIANTS for g in GRAPH_NAMES + OPTIONAL_GRAPHS} | set(TEXT_FILES)
    unknown = sorted(set(manifest.files) - known)
    if unknown:  # never read paths a manifest makes up (absolute or ../ paths would escape the bundle)
        raise BundleError(f"{root / MANIFEST_NAME}: files lists unknown paths {unknown}; "
                          f"a bundle holds only {sorted(known)}")
    blobs: dict[str, bytes] = {}
    for rel, digest in manifest.files.items():
        path = root / rel
        if not path.is_file():
            raise BundleError(f"{path}: graph file listed in the manifest is missing")
        data = path.read_bytes()
        if sha256_hex(data) != digest:
            raise BundleError(f"{path}: graph file is corrupted or truncated (sha256 mismatch, "
                              f"{len(data)} bytes)")
        blobs[rel] = data
    expected = compute_bundle_version(manifest.hashed_body(), blobs)
    if expected != manifest.bundle_version:
        raise BundleError(f"{root / MANIFEST_NAME}: bundle_version {manifest.bundle_version} does not match "
                          f"the content hash {expected} (manifest edited after export?)")
    return blobs


def _check_tensor(graph: str, kind: str, spec: TensorSpec, actual: Any) -> None:
    shape = list(actual.shape)
    dtype = _ORT_DTYPES.get(actual.type, actual.type)
    where = f"{graph} graph {kind} {spec.name!r}"
    got = f"{actual.name} {shape} {dtype}"
    if actual.name != spec.name:
        raise BundleError(f"{where}: expected {spec.describe()}, got a tensor named {got}")
    if dtype != spec.dtype or len(shape) != len(spec.shape):
        raise BundleError(f"{where}: expected {spec.describe()}, got {got}")
    for axis, (want, have) in enumerate(zip(spec.shape, shape, strict=True)):
        # A dynamic axis in the spec must stay dynamic: a graph frozen at one batch size would fail later.
        if (isinstance(want, int) and have != want) or (isinstance(want, str) and isinstance(have, int)):
            raise BundleError(f"{where}: axis {axis} expected {want}, got {have} "
                              f"(expected {spec.describe()}, got {got})")


def check_session(graph: str, session: Any, spec: GraphSpec) -> None:
    """Compare a session's input/output names, ranks, static dims and dtypes against the spec."""
    for kind, specs, actual in (("input", spec.inputs, session.get_inputs()),
                                ("output", spec.outputs, session.get_outputs())):
        if len(actual) != len(specs):
            raise BundleError(f"{graph} graph: expected {len(specs)} {kind}s "
                              f"({', '.join(s.name for s in specs)}), got {len(actual)} "
                              f"({', '.join(a.name for a in actual)})")
        for want, have in zip(specs, actual, strict=True):
            _check_tensor(graph, kind, want, have)


@dataclass
class Bundle:
    """A loaded bundle: manifest, one onnxruntime session per graph, and plain-run helpers."""

    root: Path
    manifest: Manifest
    variant: str
    encoder: Any
    class_side: Any
    sample_side: Any
    single_person: Any = None  # optional graph (exact path for absent second persons); None in older bundles

    @property
    def version(self) -> str:
        """The bundle's content hash."""
        return self.manifest.bundle_version

    def providers(self) -> list[str]:
        """Execution providers the sessions actually use."""
        return list(self.encoder.get_providers())

    def run_encoder(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,3,T,25,2) preprocessed skeletons -> (feature (N,256), logits (N,num_class))."""
        feature, logits = self.encoder.run(None, {"skeleton": _f32(x, "skeleton")})
        return feature, logits

    def run_class_side(self, text_global: np.ndarray, text_tokens: np.ndarray,
                       token_mask: np.ndarray) -> ClassTensors:
        """CLIP text features of K classes -> the cacheable per-class tensors."""
        feeds = {"text_global": _f32(text_global, "text_global"), "text_tokens": _f32(text_tokens, "text_tokens"),
                 "token_mask": _f32(token_mask, "token_mask")}
        return ClassTensors(*self.class_side.run(None, feeds))

    def run_sample_side(self, feature: np.ndarray,
                        cls: ClassTensors | Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Features (B,256) against K classes -> (energy (B,K), uncertainty (B,K))."""
        cls = ClassTensors(*cls)
        feeds = {"feature": _f32(feature, "feature")}
        feeds.update({name: _f32(value, name) for name, value in cls._asdict().items()})
        energy, uncertainty = self.sample_side.run(None, feeds)
        return energy, uncertainty


def _f32(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
        raise BundleError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def load_bundle(path: str | Path, providers: Sequence[str] | None = None, variant: str = "fp32",
                session_options: Any = None) -> Bundle:
    """Validate a bundle directory and open its graphs in onnxruntime (CUDA first when available)."""
    import onnxruntime as ort

    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: bundle directory not found")
    manifest = read_manifest(root)
    if variant not in manifest.variants:
        raise BundleError(f"{root}: variant {variant!r} not in this bundle (has {manifest.variants})")
    blobs = verify_files(root, manifest)
    chosen = list(providers) if providers else default_providers()
    specs = manifest.specs()
    options = session_options or ort.SessionOptions()
    options.log_severity_level = 3  # keep CUDA-fallback warnings out of service logs
    sessions: dict[str, Any] = {}
    optional = tuple(g for g in OPTIONAL_GRAPHS if graph_file(g, variant) in manifest.files)
    for graph in GRAPH_NAMES + optional:
        rel = graph_file(graph, variant)
        try:
            sessions[graph] = ort.InferenceSession(blobs[rel], sess_options=options, providers=chosen)
        except Exception as exc:  # onnxruntime raises its own exception types for invalid models
            raise BundleError(f"{root / rel}: onnxruntime cannot load the {graph} graph: {exc}") from exc
        check_session(graph, sessions[graph], specs[graph])
    return Bundle(root=root, manifest=manifest, variant=variant, **sessions)
