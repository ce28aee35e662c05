"""Class registry: interface, in-process and Redis backends, and the conditioning cache encoding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.registry.base import (
    ClassRecord,
    Registry,
    RegistryFull,
    RegistrySnapshot,
    RegistryUnavailable,
    class_id_for,
    class_id_for_texts,
    normalize_prompt,
    text_hash_for,
)
from service.registry.conditioning import ConditioningDecodeError, decode_tensors, encode_tensors
from service.registry.memory import MemoryRegistry

if TYPE_CHECKING:
    from service.settings import Settings

__all__ = [
    "ClassRecord", "ConditioningDecodeError", "MemoryRegistry", "Registry", "RegistryFull",
    "RegistrySnapshot", "RegistryUnavailable", "class_id_for", "class_id_for_texts", "decode_tensors", "encode_tensors",
    "make_registry", "normalize_prompt", "text_hash_for",
]


def make_registry(settings: Settings) -> Registry:
    """RedisRegistry when settings.redis_url is set, else the in-process MemoryRegistry."""
    if settings.redis_url:
        from service.registry.redis_registry import RedisRegistry

        return RedisRegistry.from_settings(settings)
    return MemoryRegistry(max_classes=settings.max_classes)
