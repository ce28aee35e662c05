"""All service settings in one typed place (env prefix SCALE_; REDIS_URL is also read without prefix)."""

from __future__ import annotations

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
    redis_key_prefix: str = "scale"
    redis_timeout_s: float = Field(0.5, gt=0, le=30)
    snapshot_path: Path | None = None
    conditioning_ttl_s: int = Field(30 * 24 * 3600, ge=0)  # 0 = never expire
    retry_after_s: int = Field(5, ge=1, le=3600)
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
    # micro-batching
    max_batch_size: int = Field(64, ge=1, le=65_536)  # sequences per engine call
    max_wait_ms: float = Field(5.0, ge=0, le=1000)
    queue_size: int = Field(1024, ge=1, le=1_000_000)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"

    @field_validator("log_level", "device", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bundle_path", "clip_weights", "snapshot_path", "redis_url", "api_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # An exported-but-empty variable (FOO=) means "not set", not "the current directory".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bundle_path", "clip_weights", "snapshot_path", "demo_dir")
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
        exposed = open_writes_error(self.host, self.api_key is not None, self.allow_open_writes)
        if exposed:
            raise ValueError(exposed)
        return self


def env_name(field: str) -> str:
    """The environment variable that sets a field (REDIS_URL is also accepted for redis_url)."""
    return "REDIS_URL (or SCALE_REDIS_URL)" if field == "redis_url" else ENV_PREFIX + field.upper()


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
