"""Typed, TOML-loaded configuration of the offline stages (data, encoder, scorer, evaluation, ablation)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the tomli backport has the same API
    import tomli as tomllib  # type: ignore[no-redef]

from model.config import DEFAULT_CLIP_MODEL, DEFAULT_PROMPT_TEMPLATE, ScaleConfig


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


@dataclass(frozen=True)
class DataConfig:
    """Where the skeletons (or pre-extracted features) come from and which zero-shot split is used."""

    setting: str = "ntu60_55_5"  # key of splits.json, or a [settings.NAME] of dataset_file
    dataset_file: str = ""  # your own dataset's dataset.toml (docs/data.md); empty = the built-in NTU datasets
    class_names: Literal["official", "synse", "star"] = "official"
    skeletons: str = ""  # raw NTU .skeleton folder, or a CTR-GCN style .npz; empty when `features` is set
    cache: str = ""  # skeleton cache written by `prepare` (default: <output>/cache, holding <benchmark>/{train,val}_data.npy)
    features: str = ""  # a SynSE/SA-DVAE feature folder: skips the encoder stages when set
    num_frames: int = 300  # frames fed to Shift-GCN (official: 300); multiple of 4
    workers: int = 0  # parser processes for `prepare`; 0 = one per CPU core (at most 8)

    @property
    def dataset(self) -> str:
        """`ntu60` or `ntu120` (read from the setting name), or the name in dataset_file."""
        if self.dataset_file:
            from training.datasets import load_dataset

            return load_dataset(self.dataset_file).name
        return self.setting.split("_", 1)[0]

    def __post_init__(self) -> None:
        if not self.dataset_file and self.dataset not in ("ntu60", "ntu120"):
            raise ConfigError(f"data.setting must start with ntu60_ or ntu120_ (or set data.dataset_file to your "
                              f"own dataset), got {self.setting!r}")
        if self.class_names not in ("official", "synse", "star"):
            raise ConfigError(f"data.class_names must be official, synse or star, got {self.class_names!r}")
        if self.num_frames < 4 or self.num_frames % 4:
            raise ConfigError(f"data.num_frames must be a positive multiple of 4, got {self.num_frames}")


@dataclass(frozen=True)
class EncoderTrainConfig:
    """Shift-GCN training on the seen classes (official recipe by default)."""

    epochs: int = 140
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    linear_weight_decay: float = 1e-3  # applied to the `Linear_weight` parameters, as the official code does
    milestones: tuple[int, ...] = (60, 80, 100)
    lr_gamma: float = 0.1
    ypos_grad_rule: bool = True
    seed: int = 1
    device: str = "auto"
    num_workers: int = 0

    def __post_init__(self) -> None:
        _positive(self, "epochs", "batch_size", "lr")
        if list(self.milestones) != sorted(self.milestones):
            raise ConfigError(f"encoder.milestones must be increasing, got {list(self.milestones)}")


@dataclass(frozen=True)
class TextStageConfig:
    """CLIP text tower used for class conditionings."""

    weights: str = ""  # local open_clip/OpenAI file; empty = pre-filled HF cache
    model_name: str = DEFAULT_CLIP_MODEL
    template: str = DEFAULT_PROMPT_TEMPLATE
    random_init_seed: int | None = None  # tests/demo only: a random tower of the real architecture
    cache_dir: str = ""  # default: <output>/text_cache
    # several texts per class (docs/training.md, "Descriptions"): empty = the label prompt only
    descriptions: str = ""  # the user's own description file (the project ships none)
    descriptions_format: Literal["auto", "sa-dvae-csv", "lines", "purls-tsv", "json", "tsv"] = "auto"
    descriptions_columns: tuple[str, ...] = ("Head", "Hands", "Torso", "Legs", "Start", "Middle", "End",
                                             "Global Desc")  # purls-tsv only
    descriptions_prompt: Literal["append", "alone"] = "append"  # "<template(label)>. <description>" or as is
    descriptions_with_label: bool = True  # the label prompt is one of each class's texts
    descriptions_train: Literal["draw", "average"] = "draw"  # one text per class and step, or mean conditioning
    descriptions_aggregate: Literal["logmeanexp", "min", "mean_conditioning"] = "logmeanexp"  # evaluation rule

    def __post_init__(self) -> None:
        if "{label}" not in self.template:
            raise ConfigError(f"text.template must contain '{{label}}', got {self.template!r}")
        for key, allowed in (("descriptions_train", ("draw", "average")),
                             ("descriptions_prompt", ("append", "alone")),
                             ("descriptions_aggregate", ("logmeanexp", "min", "mean_conditioning"))):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"text.{key} must be one of {', '.join(allowed)}, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class ScorerTrainConfig:
    """SCALE scorer optimisation and the honest model-selection protocol."""

    epochs: int = 50  # the paper does not state it; selection picks the epoch on pseudo-unseen classes
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 1e-3
    beta_cycles: int = 4
    beta_ratio: float = 0.5  # fraction of each cycle spent ramping beta 0 -> 1
    selection: Literal["pseudo_unseen", "last"] = "pseudo_unseen"
    final: Literal["retrain_all_seen", "pseudo_seen_model"] = "retrain_all_seen"
    val_source: Literal["hash", "synse"] = "hash"  # training.splits.pseudo_unseen_split source
    val_seed: int = 0
    num_val: int = 0  # pseudo-unseen classes; 0 = as many as the setting has unseen classes
    device: str = "auto"
    model: ScaleConfig = field(default_factory=ScaleConfig)

    def __post_init__(self) -> None:
        _positive(self, "epochs", "batch_size", "lr", "beta_cycles")
        if self.selection not in ("pseudo_unseen", "last"):
            raise ConfigError(f"scorer.selection must be pseudo_unseen or last, got {self.selection!r}")
        if self.final not in ("retrain_all_seen", "pseudo_seen_model"):
            raise ConfigError(f"scorer.final must be retrain_all_seen or pseudo_seen_model, got {self.final!r}")


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation protocol: seeds and the GZSL calibration."""

    seeds: tuple[int, ...] = (0, 1, 2)
    gzsl_calibration: float = 0.0  # energy added to seen classes before the GZSL argmin (0 = none)

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("eval.seeds must list at least one seed")


@dataclass(frozen=True)
class ComputeConfig:
    """CPU threads of every stage (training, extraction, evaluation): training/threads.py."""

    threads: int = 0  # torch intra-op threads; 0 = auto: idle cores per process (measured, docs/training.md)

    def __post_init__(self) -> None:
        if self.threads < 0:
            raise ConfigError(f"compute.threads must be >= 0 (0 = auto), got {self.threads}")


@dataclass(frozen=True)
class AblationConfig:
    """Which ablation rows (Tables 3-5) to run."""

    variants: tuple[str, ...] = ("elbo_only", "proto", "scale", "full")
    alphas: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0)
    extra: tuple[str, ...] = ("beta_u0", "gamma0")
    # with text.descriptions set: rows "full + descriptions" trained each of these ways, beside label-only "full"
    descriptions: tuple[str, ...] = ("draw", "average")

    def __post_init__(self) -> None:
        bad = [m for m in self.descriptions if m not in ("draw", "average")]
        if bad:
            raise ConfigError(f"ablation.descriptions may list draw and average, got {bad}")


@dataclass(frozen=True)
class PipelineConfig:
    """All stages of one experiment, loaded from one TOML file."""

    output: str = "runs/experiment"
    data: DataConfig = field(default_factory=DataConfig)
    encoder: EncoderTrainConfig = field(default_factory=EncoderTrainConfig)
    text: TextStageConfig = field(default_factory=TextStageConfig)
    scorer: ScorerTrainConfig = field(default_factory=ScorerTrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)

    @property
    def out(self) -> Path:
        """Output folder as a Path."""
        return Path(self.output)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (written next to every result)."""
        return dataclasses.asdict(self)


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if getattr(obj, name) <= 0:
            section = type(obj).__name__
            raise ConfigError(f"{section}.{name} must be > 0, got {getattr(obj, name)}")


_SECTIONS = {
    "data": DataConfig,
    "encoder": EncoderTrainConfig,
    "text": TextStageConfig,
    "scorer": ScorerTrainConfig,
    "eval": EvalConfig,
    "ablation": AblationConfig,
    "compute": ComputeConfig,
}


def _typed(where: str, value: Any, hint: Any) -> Any:
    """`value` checked against a field's type hint (ints accepted for floats, lists for tuples)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, UnionType):  # `int | None`: TOML has no null, so the value must be the other type
        return _typed(where, value, next(a for a in args if a is not type(None)))
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(_typed(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is an int subclass: `epochs = true` must not pass as 1
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise ConfigError(f"{where} must be {'a' if hint is not int else 'an'} {hint.__name__}, got {value!r}")
    return value


def _build(cls: type, section: str, raw: dict[str, Any]) -> Any:
    """Instantiate one dataclass section, refusing unknown keys and converting lists to tuples."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[{section}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ConfigError(f"unknown keys in [{section}]: {sorted(unknown)}")
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "model" and cls is ScorerTrainConfig:
            if not isinstance(value, dict):
                raise ConfigError(f"[scorer.model] must be a table, got {value!r}")
            model_hints = get_type_hints(ScaleConfig)
            value = {k: _typed(f"scorer.model.{k}", v, model_hints[k]) if k in model_hints else v
                     for k, v in value.items()}
            try:
                value = ScaleConfig.from_dict(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"[scorer.model]: {exc}") from exc
        else:
            value = _typed(f"{section}.{key}", value, hints[key])
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[{section}]: {exc}") from exc


def config_from_dict(raw: dict[str, Any]) -> PipelineConfig:
    """Build a PipelineConfig from nested dicts (as parsed from TOML)."""
    unknown = set(raw) - set(_SECTIONS) - {"output"}
    if unknown:
        raise ConfigError(f"unknown top-level keys: {sorted(unknown)}")
    kwargs = {name: _build(cls, name, raw[name]) for name, cls in _SECTIONS.items() if name in raw}
    if "output" in raw:
        kwargs["output"] = str(raw["output"])
    return PipelineConfig(**kwargs)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Load a pipeline TOML file; `overrides` maps 'section.key' to a value applied on top."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {dotted}: {part} is a value, not a section")
        node[leaf] = value
    return config_from_dict(raw)
