"""All service settings in one typed place (env prefix SCALE_; REDIS_URL is also read without prefix)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.security import open_writes_error

ENV_PREFIX = "SCALE_"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class SettingsError(ValueError):
    """Invalid configuration; the message names each offending environment variable."""


class Settings(BaseSettings):
    """Service configuration; every field is documented in docs/registry.md (Configuration)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True,
                                      validate_default=True, frozen=True)

    # network
    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=1, le=65535)
    # model
    bundle_path: Path | None = None  # None -> build/load the demo bundle in demo_dir
    demo_dir: Path = Path("~/.cache/scale/demo-bundle")
    clip_weights: Path | None = None  # None -> HF cache / bundle's text tower as configured
    device: Literal["auto", "cuda", "cpu"] = "auto"
    # registry
    redis_url: str | None = Field(None, validation_alias=AliasChoices("SCALE_REDIS_URL", "REDIS_URL", "redis_url"))
    redis_key_prefix: str = "scale"  # a demo bundle uses DEMO_KEY_PREFIX unless this is set explicitly
    redis_timeout_s: float = Field(0.5, gt=0, le=30)
    snapshot_path: Path | None = None
    conditioning_ttl_s: int = Field(30 * 24 * 3600, ge=0)  # 0 = never expire
    retry_after_s: int = Field(5, ge=1, le=3600)
    redis_durable_acks: bool = True  # acknowledge a write once its AOF is on disk (WAITAOF on Redis >= 7.2)
    allow_unauthenticated_redis: bool = False  # with an API key, a Redis open to anyone needs this switch
    # security and request limits
    api_key: SecretStr | None = None  # None -> write routes are open
    allow_open_writes: bool = False  # open writes on a non-loopback host need this explicit switch
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, le=1024 ** 3)
    max_frames: int = Field(600, ge=4, le=100_000)
    max_sequences: int = Field(64, ge=1, le=10_000)  # per request
    max_classes: int = Field(1000, ge=1, le=1_000_000)  # registry size
    max_classes_per_request: int = Field(100, ge=1)
    max_text_chars: int = Field(300, ge=1, le=10_000)
    top_k: int = Field(5, ge=1)  # default when a request gives none
    # several texts per class: how a class's text energies fold into one (model/text_aggregate.py)
    text_aggregation: Literal["logmeanexp", "min", "mean_conditioning"] = "logmeanexp"
    max_texts_per_class: int = Field(16, ge=1, le=256)
    # hot reload: how often a replica checks the fleet's desired bundle in Redis (0 = never follow it)
    bundle_poll_s: float = Field(5.0, ge=0, le=3600)
    bundle_root: Path | None = None  # reloads load bundles only under this directory (default: the bundle's parent)
    # micro-batching
    max_batch_size: int = Field(64, ge=1, le=65_536)  # sequences per engine call
    max_wait_ms: float = Field(5.0, ge=0, le=1000)
    queue_size: int = Field(1024, ge=1, le=1_000_000)
    # serving policy per device (docs/service.md "Serving policy"; measurements in docs/benchmarks.md)
    serving_policy: Literal["auto", "batched", "parallel"] = "auto"  # auto: parallel on CPU, batched on CUDA
    inference_workers: int | None = Field(None, ge=1, le=64)  # parallel: runs at once (default: usable cores)
    cpu_batch_size: int = Field(1, ge=1, le=1024)  # parallel: sequences per run (also caps memory per run)
    intra_op_threads: int | None = Field(None, ge=1, le=256)  # onnxruntime threads per run (parallel: cores/workers)
    single_person: bool = True  # use the bundle's exact single-person graph for sequences with one person
    ort_cpu_arena: bool = True  # onnxruntime enable_cpu_mem_arena
    ort_mem_pattern: bool = True  # onnxruntime enable_mem_pattern
    ort_arena_extend_strategy: Literal["next_power_of_two", "same_as_requested"] = "same_as_requested"
    # encoder runtime on CPU (service/engine/runtimes.py; docs/service.md "Encoder runtime")
    encoder_runtime: Literal["auto", "onnxruntime", "openvino"] = "auto"  # auto: OpenVINO on CPU when installed
    encoder_precision: Literal["auto", "f32", "mixed", "bf16"] = "auto"  # auto: mixed on OpenVINO + native bf16
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    # untrimmed sequences (/detect) and live streams (/streams); see docs/service.md
    detect_max_frames: int = Field(36_000, ge=16, le=1_000_000)  # 20 min at 30 fps
    detect_max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024, le=1024 ** 3)
    detect_window: int = Field(128, ge=8, le=4096)
    detect_stride: int = Field(32, ge=1, le=4096)
    stream_max_sessions: int = Field(64, ge=1, le=100_000)
    stream_max_message_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    stream_max_buffer_frames: int = Field(1024, ge=16, le=100_000)
    stream_idle_timeout_s: float = Field(30.0, gt=0, le=3600)

    @field_validator("log_level", "device", "serving_policy", "ort_arena_extend_strategy", "encoder_runtime",
                     "encoder_precision", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bundle_path", "clip_weights", "snapshot_path", "redis_url", "api_key", "bundle_root",
                     mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # An exported-but-empty variable (FOO=) means "not set", not "the current directory".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bundle_path", "clip_weights", "snapshot_path", "demo_dir", "bundle_root")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_key_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX_RE.match(value):
            raise ValueError("must be 1-64 characters from [A-Za-z0-9_.-]")
        return value

    @field_validator("api_key")
    @classmethod
    def _key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters (or unset to leave writes open)")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        for small in ("max_classes_per_request", "top_k"):
            if getattr(self, small) > self.max_classes:
                raise ValueError(f"{env_name(small)}={getattr(self, small)} must not exceed "
                                 f"{env_name('max_classes')}={self.max_classes}")
        if self.detect_stride > self.detect_window:
            raise ValueError(f"{env_name('detect_stride')}={self.detect_stride} must not exceed "
                             f"{env_name('detect_window')}={self.detect_window}")
        exposed = open_writes_error(self.host, self.api_key is not None, self.allow_open_writes)
        if exposed:
            raise ValueError(exposed)
        return self


def env_name(field: str) -> str:
    """The environment variable that sets a field (REDIS_URL is also accepted for redis_url)."""
    return "REDIS_URL (or SCALE_REDIS_URL)" if field == "redis_url" else ENV_PREFIX + field.upper()


def setting_source(field: str, flag: str | None = None) -> str:
    """'the --flag flag', 'the environment variable SCALE_X ...', or 'the settings passed to create_app'."""
    if flag is not None:
        return f"the {flag} flag"
    variable = env_name(field)
    if variable in os.environ:
        return (f"the environment variable {variable} (set in the shell, or from `.env` / `environment:` when "
                "run by docker compose)")
    return f"the settings passed to the service ({field})"


def _describe(err: dict[str, Any]) -> str:
    loc = err.get("loc", ())
    field = str(loc[0]) if loc else ""
    if field in ("SCALE_REDIS_URL", "REDIS_URL"):
        field = "redis_url"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if field not in Settings.model_fields:
        return f"settings: {msg}"
    shown = "" if field in ("api_key", "redis_url") else f" (got {err.get('input')!r})"
    return f"{env_name(field)} [{field}]: {msg}{shown}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (+ keyword overrides); SettingsError names every bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe(err) for err in exc.errors()]
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None
