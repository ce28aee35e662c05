"""Registry contract, run against both backends: MemoryRegistry and RedisRegistry behave identically."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from service.registry import ClassRecord, MemoryRegistry, Registry, RegistryFull, class_id_for, text_hash_for
from service.registry.redis_registry import RedisRegistry

BUNDLE = "bundle-0123abcd"
T = TypeVar("T")


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.unit),
                        pytest.param("redis", marks=pytest.mark.integration)])
def make(request: pytest.FixtureRequest) -> Callable[..., Registry]:
    """Factory for a registry of the parametrised backend (Redis: a private server per test)."""
    if request.param == "memory":
        return lambda **kw: MemoryRegistry(**kw)
    url = request.getfixturevalue("redis_server").url
    return lambda **kw: RedisRegistry(url, "t", 0.5, **kw)


def rec(label: str, created_at: float = 1.0, description: str | None = None) -> ClassRecord:
    return ClassRecord.create(label, f"The Human Action of {label}", description, created_at)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario (each test owns its event loop)."""
    return asyncio.run(coro)


@pytest.mark.unit
def test_class_id_is_sha256_of_normalised_prompt() -> None:
    expected = hashlib.sha256(b"The Human Action of drink water").hexdigest()
    assert text_hash_for("  The Human  Action\tof\ndrink water ") == expected
    assert class_id_for("The Human Action of drink water") == expected[:16]
    assert class_id_for("the human action of drink water") != expected[:16]


@pytest.mark.unit
def test_record_validation_names_the_field() -> None:
    good = rec("wave")
    with pytest.raises(ValueError, match="does not match class_id_for"):
        ClassRecord("0" * 16, "wave", None, good.prompt, 1.0).validate()
    with pytest.raises(ValueError, match="label"):
        ClassRecord(good.id, " ", None, good.prompt, 1.0).validate()
    with pytest.raises(ValueError, match="created_at"):
        ClassRecord(good.id, "wave", None, good.prompt, float("nan")).validate()
    assert ClassRecord.from_json(good.to_json()) == good
    with pytest.raises(ValueError, match="not a ClassRecord"):
        ClassRecord.from_json('{"id": "x"}')


def test_add_is_idempotent(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make()
        first = await reg.add([rec("drink water"), rec("wave", 2.0)])
        assert [r.label for r in first] == ["drink water", "wave"]
        snap = await reg.snapshot()
        assert snap.version == 1 and not snap.stale and {r.id for r in snap.classes} == {r.id for r in first}
        # Same text (whitespace differs), other label and time: the stored record comes back unchanged.
        again = ClassRecord.create("other label", "The Human  Action of drink water ", None, 99.0)
        assert await reg.add([again]) == [first[0]]
        assert (await reg.snapshot()).version == 1
        await reg.close()
    run(scenario())


def test_batch_with_repeated_text_registers_once(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make()
        out = await reg.add([rec("clap"), rec("clap", 5.0), rec("jump")])
        assert [r.label for r in out] == ["clap", "jump"] and out[0].created_at == 1.0
        snap = await reg.snapshot()
        assert snap.version == 1 and len(snap.classes) == 2
        await reg.close()
    run(scenario())


def test_remove_and_version_bumps(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make()
        a, b = await reg.add([rec("a"), rec("b", 2.0)])
        (c,) = await reg.add([rec("c", 3.0)])
        assert (await reg.snapshot()).version == 2
        assert await reg.remove(b.id) is True
        snap = await reg.snapshot()
        assert snap.version == 3 and [r.id for r in snap.classes] == [a.id, c.id]
        assert await reg.remove(b.id) is False
        assert await reg.remove("not-an-id") is False
        assert (await reg.snapshot()).version == 3
        await reg.close()
    run(scenario())


def test_snapshot_is_reused_while_unchanged(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make()
        await reg.add([rec("a")])
        first = await reg.snapshot()
        assert await reg.snapshot() is first
        await reg.add([rec("b")])
        assert await reg.snapshot() is not first
        await reg.close()
    run(scenario())


def test_batch_add_is_all_or_nothing(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make(max_classes=3)
        await reg.add([rec("a"), rec("b")])
        with pytest.raises(RegistryFull):
            await reg.add([rec("c"), rec("d")])
        broken = ClassRecord("f" * 16, "e", None, "The Human Action of e", 1.0)
        with pytest.raises(ValueError, match="does not match"):
            await reg.add([rec("c"), broken])
        snap = await reg.snapshot()
        assert snap.version == 1 and sorted(r.label for r in snap.classes) == ["a", "b"]
        # Re-adding existing classes never counts against the limit.
        assert len(await reg.add([rec("a"), rec("b"), rec("c")])) == 3
        assert (await reg.snapshot()).version == 2
        await reg.close()
    run(scenario())


def test_concurrent_adds_all_land(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        first = make()
        # Two Redis clients on one server race on WATCH; a memory registry is one process, so one instance.
        second = make() if isinstance(first, RedisRegistry) else first
        regs = [first, second]
        await asyncio.gather(*(regs[i % 2].add([rec(f"c{i}")]) for i in range(10)))
        for reg in regs:
            snap = await reg.snapshot()
            assert len(snap.classes) == 10 and snap.version == 10
        for reg in {id(r): r for r in regs}.values():
            await reg.close()
    run(scenario())


def test_conditioning_round_trip(make: Callable[..., Registry]) -> None:
    async def scenario() -> None:
        reg = make()
        rng = np.random.default_rng(1)
        tensors = {"enc_c": rng.normal(size=(1, 80)), "prior_logvar": rng.normal(size=(1, 64))}
        h = text_hash_for("The Human Action of wave")
        assert await reg.get_conditioning(BUNDLE, h) is None
        await reg.put_conditioning(BUNDLE, h, tensors)
        out = await reg.get_conditioning(BUNDLE, h)
        assert out is not None and list(out) == list(tensors)
        for k, v in tensors.items():
            np.testing.assert_array_equal(out[k], v.astype(np.float32))
        assert await reg.get_conditioning("other-bundle", h) is None
        with pytest.raises(ValueError, match="bundle_version"):
            await reg.get_conditioning("bad:version", h)
        with pytest.raises(ValueError, match="text_hash"):
            await reg.put_conditioning(BUNDLE, "abc", tensors)
        assert await reg.ping() is True
        await reg.close()
    run(scenario())
