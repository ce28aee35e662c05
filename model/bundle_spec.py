"""Model bundle contract: file layout, graph I/O specs and the manifest schema (docs/bundle.md)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from model.config import (
    CLIP_CONTEXT_LENGTH,
    NUM_CHANNELS,
    NUM_JOINTS,
    NUM_PERSONS,
    PreprocessConfig,
    ScaleConfig,
)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
GRAPH_NAMES = ("encoder", "class_side", "sample_side")
OPTIONAL_GRAPHS = ("single_person",)  # listed in `files` when exported; older bundles lack them
VARIANTS = ("fp32", "fp16")
OPSET = 17
DEFAULT_TOLERANCE = {"energy_abs": 1e-4, "energy_rel": 1e-5}
TEXT_GRAPH_FILE = "text.onnx"  # optional CLIP text tower (fp32 only), see TextGraphInfo
TOKENIZER_FILE = "tokenizer.json"
TEXT_FILES = (TEXT_GRAPH_FILE, TOKENIZER_FILE)


class BundleError(ValueError):
    """A bundle that cannot be used: missing/invalid manifest, wrong version, corrupted or mismatched graph."""


def graph_file(graph: str, variant: str = "fp32") -> str:
    """Path of a graph file relative to the bundle root (fp16 graphs live under fp16/)."""
    if graph not in GRAPH_NAMES + OPTIONAL_GRAPHS:
        raise BundleError(f"unknown graph {graph!r}; expected one of {GRAPH_NAMES + OPTIONAL_GRAPHS}")
    if variant not in VARIANTS:
        raise BundleError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return f"{graph}.onnx" if variant == "fp32" else f"{variant}/{graph}.onnx"


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (ints are static, strings are dynamic axes) and element type of one graph tensor."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"

    def describe(self) -> str:
        """Human-readable form used in error messages, e.g. `feature [B, 256] float32`."""
        return f"{self.name} [{', '.join(str(d) for d in self.shape)}] {self.dtype}"


@dataclass(frozen=True)
class GraphSpec:
    """Inputs and outputs of one graph, in order."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """The `dynamic_axes` argument torch.onnx.export needs for this spec."""
        axes: dict[str, dict[int, str]] = {}
        for spec in self.inputs + self.outputs:
            dyn = {i: d for i, d in enumerate(spec.shape) if isinstance(d, str)}
            if dyn:
                axes[spec.name] = dyn
        return axes


class ClassTensors(NamedTuple):
    """Per-class tensors the class-side graph produces and the sample-side graph consumes."""

    enc_c: Any
    dec_c: Any
    prior_mu: Any
    prior_logvar: Any


class Dims(BaseModel):
    """Tensor widths shared by all graphs."""

    model_config = ConfigDict(extra="forbid")

    feature_dim: int = Field(gt=0)
    text_dim: int = Field(gt=0)
    cond_dim: int = Field(gt=0)
    latent_dim: int = Field(gt=0)
    encoder_hidden: int = Field(gt=0)
    decoder_hidden: int = Field(gt=0)
    num_class: int = Field(gt=0)
    context_length: int = Field(default=CLIP_CONTEXT_LENGTH, gt=0)


def graph_specs(dims: Dims, num_frames: int) -> dict[str, GraphSpec]:
    """The fixed I/O contract of the three graphs (docs/design.md, "Model bundle")."""
    d = dims
    cls_out = (
        TensorSpec("enc_c", ("K", d.encoder_hidden)),
        TensorSpec("dec_c", ("K", d.decoder_hidden)),
        TensorSpec("prior_mu", ("K", d.latent_dim)),
        TensorSpec("prior_logvar", ("K", d.latent_dim)),
    )
    return {
        "encoder": GraphSpec(
            inputs=(TensorSpec("skeleton", ("batch", NUM_CHANNELS, num_frames, NUM_JOINTS, NUM_PERSONS)),),
            outputs=(TensorSpec("feature", ("batch", d.feature_dim)),
                     TensorSpec("logits", ("batch", d.num_class))),
        ),
        "class_side": GraphSpec(
            inputs=(TensorSpec("text_global", ("K", d.text_dim)),
                    TensorSpec("text_tokens", ("K", d.context_length, d.text_dim)),
                    TensorSpec("token_mask", ("K", d.context_length))),
            outputs=cls_out,
        ),
        "sample_side": GraphSpec(
            inputs=(TensorSpec("feature", ("B", d.feature_dim)),) + cls_out,
            outputs=(TensorSpec("energy", ("B", "K")), TensorSpec("uncertainty", ("B", "K"))),
        ),
        # optional: first person of sequences whose second person is absent -> the same feature (docs/bundle.md)
        "single_person": GraphSpec(
            inputs=(TensorSpec("person", ("batch", NUM_CHANNELS, num_frames, NUM_JOINTS)),),
            outputs=(TensorSpec("feature", ("batch", d.feature_dim)),),
        ),
    }


class TextInfo(BaseModel):
    """How class texts must be encoded so conditionings match training."""

    model_config = ConfigDict(extra="forbid")

    model_name: str
    prompt_template: str
    weights_id: str

    @field_validator("prompt_template")
    @classmethod
    def _has_label(cls, v: str) -> str:
        if "{label}" not in v:
            raise ValueError("prompt_template must contain '{label}'")
        return v


class TextGraphInfo(BaseModel):
    """The CLIP text tower as an ONNX graph plus its tokenizer (optional: older bundles use open_clip)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(default=TEXT_GRAPH_FILE, pattern=f"^{TEXT_GRAPH_FILE}$")
    tokenizer: str = Field(default=TOKENIZER_FILE, pattern=f"^{TOKENIZER_FILE}$")
    clean: Literal["ftfy+html+whitespace+lower"] = "ftfy+html+whitespace+lower"  # model.text_onnx.clean_text
    context_length: int = Field(default=CLIP_CONTEXT_LENGTH, gt=2)
    sot_token_id: int = Field(ge=0)
    eot_token_id: int = Field(ge=0)
    vocab_size: int = Field(gt=0)


def text_graph_spec(context_length: int, text_dim: int, width: int) -> GraphSpec:
    """I/O of text.onnx: token ids in, exactly the class-side graph's three text inputs out."""
    return GraphSpec(
        inputs=(TensorSpec("token_ids", ("K", context_length), "int64"),),
        outputs=(TensorSpec("text_global", ("K", text_dim)), TensorSpec("text_tokens", ("K", context_length, width)),
                 TensorSpec("token_mask", ("K", context_length))),
    )


class Tolerance(BaseModel):
    """ONNX-vs-PyTorch energy tolerance: |dE| <= energy_abs + energy_rel * |E|."""

    model_config = ConfigDict(extra="forbid")

    energy_abs: float = Field(default=DEFAULT_TOLERANCE["energy_abs"], ge=0)
    energy_rel: float = Field(default=DEFAULT_TOLERANCE["energy_rel"], ge=0)


class Manifest(BaseModel):
    """manifest.json of a bundle; `bundle_version` is a content hash (see `compute_bundle_version`)."""

    model_config = ConfigDict(extra="forbid")

    format_version: int
    bundle_version: str = Field(pattern=r"^[0-9a-f]{16}$")
    created: str
    dims: Dims
    preprocess: dict[str, Any]
    text: TextInfo
    scorer: dict[str, Any]
    score_temperature: float = Field(gt=0)
    training: dict[str, Any] = Field(default_factory=dict)
    opset: int
    tools: dict[str, str]
    variants: list[str]
    files: dict[str, str]  # relative path -> sha256 of its bytes
    demo: bool = False
    note: str = ""
    tolerance: Tolerance = Field(default_factory=Tolerance)
    text_graph: TextGraphInfo | None = None  # absent in older bundles: the service then needs open_clip
    open_set: dict[str, Any] | None = None  # model/openset.py calibration: threshold, tpr, source, ...
    _raw: dict[str, Any] | None = PrivateAttr(default=None)  # the parsed JSON, hashed as written

    def hashed_body(self) -> dict[str, Any]:
        """The manifest as read from disk when available (defaults not filled in), else this model's dump."""
        return self._raw if self._raw is not None else self.model_dump(mode="json")

    @field_validator("preprocess")
    @classmethod
    def _valid_preprocess(cls, v: dict[str, Any]) -> dict[str, Any]:
        PreprocessConfig.from_dict(v)  # raises with a message naming the bad setting
        return v

    @field_validator("scorer")
    @classmethod
    def _valid_scorer(cls, v: dict[str, Any]) -> dict[str, Any]:
        ScaleConfig.from_dict(v)
        return v

    @field_validator("variants")
    @classmethod
    def _valid_variants(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in VARIANTS]
        if bad or "fp32" not in v:
            raise ValueError(f"variants must include 'fp32' and only use {VARIANTS}, got {v}")
        return v

    @property
    def num_frames(self) -> int:
        """Frame length every encoder input must have (the preprocessing length)."""
        return int(self.preprocess["num_frames"])

    def preprocess_config(self) -> PreprocessConfig:
        """The preprocessing settings as the typed config."""
        return PreprocessConfig.from_dict(self.preprocess)

    def scale_config(self) -> ScaleConfig:
        """The scorer settings as the typed config."""
        return ScaleConfig.from_dict(self.scorer)

    def specs(self) -> dict[str, GraphSpec]:
        """Graph I/O specs implied by this manifest's dims and frame length."""
        return graph_specs(self.dims, self.num_frames)


_UNHASHED_FIELDS = ("bundle_version", "created")


def canonical_body(manifest: dict[str, Any]) -> bytes:
    """Manifest JSON without the version and creation time, with sorted keys: the hashed part."""
    body = {k: v for k, v in manifest.items() if k not in _UNHASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def compute_bundle_version(manifest: dict[str, Any], graph_bytes: dict[str, bytes]) -> str:
    """First 16 hex of sha256 over every graph's path and bytes (sorted by path) and the canonical body."""
    h = hashlib.sha256()
    for rel in sorted(graph_bytes):
        h.update(rel.encode() + b"\0")
        h.update(len(graph_bytes[rel]).to_bytes(8, "little"))
        h.update(graph_bytes[rel])
    h.update(canonical_body(manifest))
    return h.hexdigest()[:16]


def sha256_hex(data: bytes) -> str:
    """Full sha256 hex digest of some bytes."""
    return hashlib.sha256(data).hexdigest()
