"""Typed configuration objects for the shared core: one per concern."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

NUM_JOINTS = 25
NUM_PERSONS = 2
NUM_CHANNELS = 3
FEATURE_DIM = 256
CLIP_TEXT_DIM = 512
CLIP_CONTEXT_LENGTH = 77
DEFAULT_PROMPT_TEMPLATE = "The Human Action of {label}"
DEFAULT_CLIP_MODEL = "ViT-B-32-quickgelu"


@dataclass(frozen=True)
class PreprocessConfig:
    """Shift-GCN preprocessing (2s-AGCN `pre_normalization`) settings shared by training and serving."""

    num_frames: int = 300  # padded/resampled length T'; must be a multiple of 4
    max_persons: int = NUM_PERSONS

    def __post_init__(self) -> None:
        if self.num_frames < 4 or self.num_frames % 4:
            raise ValueError(f"num_frames must be a positive multiple of 4, got {self.num_frames}")
        if self.max_persons != NUM_PERSONS:
            raise ValueError("Shift-GCN's data_bn has 2*25*3 channels: max_persons must be 2")

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for manifests and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        """Build from a manifest's `preprocess`; fields older bundles wrote but nothing read are ignored."""
        known = {k: v for k, v in data.items() if k not in RETIRED_PREPROCESS_KEYS}
        unknown = set(known) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown preprocess keys: {sorted(unknown)}")
        return cls(**known)


# Written into every manifest before 2026-12 and read by nothing: the body count read per frame was fixed by
# the reader, the layout by the NTU-25 input contract (non-NTU layouts are mapped at the service's edge).
RETIRED_PREPROCESS_KEYS = ("max_bodies_read", "layout")


@dataclass(frozen=True)
class ScaleConfig:
    """SCALE CVAE scorer: dimensions, the paper's loss hyperparameters and the ablation switches.

    Defaults are the paper's fixed hyperparameters (SPEC §2). D_c and D_z are not given by the paper; the
    defaults here are documented in docs/method.md.
    """

    feature_dim: int = FEATURE_DIM  # x = f_s(X)
    text_dim: int = CLIP_TEXT_DIM  # h_y and rows of H_y
    cond_dim: int = 256  # D_c, text conditioning width
    latent_dim: int = 64  # D_z
    # paper hyperparameters
    alpha: float = 1.0  # semantic-similarity weight inside the negatives' logsumexp
    beta_u: float = 0.5  # uncertainty-adaptive margin weight
    tau: float = 1.0  # margin
    gamma: float = 2.0  # uncertainty reweighting exp(-gamma*u)
    proto_temperature: float = 0.2  # lambda in L_proto
    lambda_scale: float = 1.0  # lambda1
    lambda_proto: float = 0.5  # lambda2
    beta_inference: float = 1.0  # KL weight used for energies at inference
    # ablation switches
    use_scale_loss: bool = True
    use_proto_loss: bool = True
    # choices the paper leaves open (docs/method.md, "Open points")
    stop_grad_uncertainty: bool = True  # u is detached inside L_SCALE so sigma_q cannot be inflated to cut the loss
    scale_energy_mode: Literal["mean", "sample"] = "sample"  # energies inside L_SCALE: one reparameterised sample or z=mu_q
    mask_text_tokens: bool = True  # mean-pool H_y over real tokens only (SOT..EOT)
    negatives: Literal["batch", "all_seen"] = "batch"  # negatives for L_SCALE
    # SPEC: E_neg = logsumexp_j(E_j + alpha s_j), a soft MAXIMUM over negative energies (weights the easiest
    # negatives). "softmin" is the contrastive alternative -logsumexp_j(-E_j + alpha s_j) (hardest negatives).
    negative_pool: Literal["logsumexp", "softmin"] = "logsumexp"

    def __post_init__(self) -> None:
        if self.scale_energy_mode not in ("mean", "sample"):
            raise ValueError(f"scale_energy_mode must be 'mean' or 'sample', got {self.scale_energy_mode!r}")
        if self.negative_pool not in ("logsumexp", "softmin"):
            raise ValueError(f"negative_pool must be 'logsumexp' or 'softmin', got {self.negative_pool!r}")
        if self.negatives not in ("batch", "all_seen"):
            raise ValueError(f"negatives must be 'batch' or 'all_seen', got {self.negatives!r}")
        for name in ("feature_dim", "text_dim", "cond_dim", "latent_dim"):
            if getattr(self, name) < 4:
                raise ValueError(f"{name} must be >= 4")

    @property
    def encoder_hidden(self) -> int:
        """Hidden width of q(z|x,c): input/4 (SPEC §2)."""
        return (self.feature_dim + self.cond_dim) // 4

    @property
    def decoder_hidden(self) -> int:
        """Hidden width of p(x|z,c): input/4."""
        return (self.latent_dim + self.cond_dim) // 4

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form for manifests and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScaleConfig:
        """Build from a dict, refusing unknown keys with a clear error."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown ScaleConfig keys: {sorted(unknown)}")
        return cls(**data)


@dataclass(frozen=True)
class TextConfig:
    """How class texts become CLIP conditionings."""

    model_name: str = DEFAULT_CLIP_MODEL
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    context_length: int = CLIP_CONTEXT_LENGTH
    extra: dict[str, Any] = field(default_factory=dict)
