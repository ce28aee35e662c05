"""Registry interface shared by every backend: records, snapshots, errors and the Registry protocol."""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

_WS = re.compile(r"\s+")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BUNDLE_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def normalize_prompt(prompt: str) -> str:
    """Strip and collapse runs of whitespace so equal texts map to one class on every replica."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    return _WS.sub(" ", prompt).strip()


def text_hash_for(prompt: str) -> str:
    """Full sha256 hex of the normalised prompt: the conditioning cache key."""
    return hashlib.sha256(normalize_prompt(prompt).encode("utf-8")).hexdigest()


def class_id_for(prompt: str) -> str:
    """Class id: first 16 hex of sha256 of the normalised prompt (idempotent across replicas)."""
    return text_hash_for(prompt)[:16]


def class_id_for_texts(texts: Sequence[str]) -> str:
    """Class id of a text set: sha256 over the sorted, de-duplicated normalised texts (one text: class_id_for)."""
    unique = sorted({normalize_prompt(t) for t in texts})
    if not unique or not unique[0]:
        raise ValueError("a class needs at least one non-empty text")
    if len(unique) == 1:
        return class_id_for(unique[0])
    # Normalised texts hold no newline, so the joined form never equals a single text's.
    return hashlib.sha256("\n".join(unique).encode("utf-8")).hexdigest()[:16]


def unique_texts(texts: Sequence[str]) -> tuple[str, ...]:
    """Normalised texts in their given order, each once."""
    return tuple(dict.fromkeys(normalize_prompt(t) for t in texts))


def is_class_id(value: str) -> bool:
    """True when value has the shape of a class id (16 lowercase hex)."""
    return isinstance(value, str) and bool(_HEX16.match(value))


def check_cache_key(bundle_version: str, text_hash: str) -> None:
    """Refuse cache-key parts that could escape the key namespace."""
    if not isinstance(bundle_version, str) or not _BUNDLE_VERSION.match(bundle_version):
        raise ValueError(f"bundle_version must match [A-Za-z0-9._-]{{1,64}}, got {bundle_version!r}")
    if not isinstance(text_hash, str) or not _HEX64.match(text_hash):
        raise ValueError(f"text_hash must be 64 lowercase hex (sha256), got {text_hash!r}")


@dataclass(frozen=True)
class ClassRecord:
    """One registered action class; `id` is always class_id_for_texts(all_texts).

    `prompt` is the first text; `texts` holds every text when there are several (empty for one text, so a
    single-text record is stored exactly as before several texts existed).
    """

    id: str
    label: str
    description: str | None
    prompt: str
    created_at: float
    texts: tuple[str, ...] = ()

    @property
    def all_texts(self) -> tuple[str, ...]:
        """Every text of the class (its conditioning columns), the prompt first."""
        return self.texts or (self.prompt,)

    @classmethod
    def create(cls, label: str, prompt: str | Sequence[str], description: str | None = None,
               created_at: float | None = None) -> ClassRecord:
        """Build a record from one text or several (ids derived from the text set; created_at defaults to now)."""
        texts = unique_texts([prompt] if isinstance(prompt, str) else list(prompt))
        stamp = time.time() if created_at is None else created_at
        return cls(class_id_for_texts(texts), label, description, texts[0], float(stamp),
                   texts if len(texts) > 1 else ())

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name in ("id", "label", "prompt"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"ClassRecord.{name} must be a str")
        if not self.label.strip():
            raise ValueError("ClassRecord.label must not be empty")
        if not normalize_prompt(self.prompt):
            raise ValueError("ClassRecord.prompt must not be empty")
        if self.description is not None and not isinstance(self.description, str):
            raise ValueError("ClassRecord.description must be a str or None")
        if isinstance(self.created_at, bool) or not isinstance(self.created_at, (int, float)) \
                or not math.isfinite(self.created_at):
            raise ValueError("ClassRecord.created_at must be a finite number")
        if not isinstance(self.texts, tuple) or len(self.texts) == 1 \
                or any(not isinstance(t, str) or not normalize_prompt(t) for t in self.texts):
            raise ValueError("ClassRecord.texts must be empty or a tuple of two or more non-empty strings")
        if self.texts and (self.texts[0] != self.prompt or len(set(self.texts)) != len(self.texts)):
            raise ValueError("ClassRecord.texts must start with the prompt and hold each text once")
        expected = class_id_for_texts(self.all_texts)
        if self.id != expected:
            raise ValueError(f"ClassRecord.id {self.id!r} does not match class_id_for_texts(texts) = "
                             f"{expected!r}")

    def to_json(self) -> str:
        """Compact JSON form stored in the registry (`texts` only when there are several)."""
        data = asdict(self)
        if not self.texts:
            del data["texts"]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> ClassRecord:
        """Parse and validate a stored dict; ValueError on any mismatch."""
        base = {"id", "label", "description", "prompt", "created_at"}
        if not isinstance(data, dict) or set(data) not in (base, base | {"texts"}):
            raise ValueError(f"not a ClassRecord object: {str(data)[:120]!r}")
        if "texts" in data:
            if not isinstance(data["texts"], list):
                raise ValueError("ClassRecord.texts must be a list")
            data = {**data, "texts": tuple(data["texts"])}
        record = cls(**data)
        record.validate()
        return record

    @classmethod
    def from_json(cls, text: str | bytes) -> ClassRecord:
        """Parse and validate the stored JSON form; ValueError on any mismatch."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"ClassRecord JSON is malformed: {exc}") from exc
        return cls.from_dict(data)


@dataclass(frozen=True)
class RegistrySnapshot:
    """The class set at one version; stale=True when served from memory/disk because the store is down."""

    version: int
    classes: tuple[ClassRecord, ...]
    stale: bool = False

    def get(self, class_id: str) -> ClassRecord | None:
        """The record with this id, or None."""
        for record in self.classes:
            if record.id == class_id:
                return record
        return None


class RegistryUnavailable(Exception):
    """The store cannot be reached (or written); callers answer 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class RegistryFull(Exception):
    """Adding the batch would exceed the configured max_classes; nothing was written."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def dedupe(records: list[ClassRecord]) -> list[ClassRecord]:
    """Validate a batch and keep the first record of each id (a batch may repeat a text)."""
    seen: dict[str, ClassRecord] = {}
    for record in records:
        if not isinstance(record, ClassRecord):
            raise TypeError(f"expected ClassRecord, got {type(record).__name__}")
        record.validate()
        seen.setdefault(record.id, record)
    return list(seen.values())


def sorted_classes(records: Any) -> tuple[ClassRecord, ...]:
    """Deterministic order for snapshots: creation time, then id."""
    return tuple(sorted(records, key=lambda r: (r.created_at, r.id)))


@runtime_checkable
class Registry(Protocol):
    """Async class registry + conditioning cache used by the FastAPI app."""

    async def add(self, records: list[ClassRecord]) -> list[ClassRecord]:
        """Atomically register a batch; existing ids return the stored record; version bumps only if new."""
        ...

    async def remove(self, class_id: str) -> bool:
        """Delete a class; False when unknown; bumps the version when removed."""
        ...

    async def snapshot(self) -> RegistrySnapshot:
        """Current class set; cheap when unchanged; last good snapshot (stale=True) when the store is down."""
        ...

    async def get_conditioning(self, bundle_version: str, text_hash: str) -> dict[str, np.ndarray] | None:
        """Cached class-side tensors for (bundle, text), or None on miss/corruption/outage."""
        ...

    async def put_conditioning(self, bundle_version: str, text_hash: str,
                               tensors: dict[str, np.ndarray]) -> None:
        """Best-effort cache write: failures are logged, never raised."""
        ...

    async def ping(self) -> bool:
        """True when the backing store answers."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
