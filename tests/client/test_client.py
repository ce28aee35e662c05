"""ScaleClient / AsyncScaleClient: request building and error mapping (unit), then against the real service."""

from __future__ import annotations

import asyncio
import inspect
import io
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from client import (
    AsyncScaleClient,
    AuthenticationError,
    ClassSpec,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ScaleAPIError,
    ScaleClient,
    ScaleConnectionError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
    npy_bytes,
)
from client.calls import _recognize_call
from client.errors import error_from_response
from client.models import parse_recognitions

from .live_service import SKELETONS, demo_bundle_path, free_port, running_service

CLIPS = ("S001C001P001R001A011.skeleton", "S002C001P003R001A003.skeleton")


def _response(status: int, body: object = None, headers: dict[str, str] | None = None,
              text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", "http://test/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.unit
@pytest.mark.parametrize(("status", "cls"), [(404, NotFoundError), (422, ValidationError), (401, AuthenticationError),
                                             (413, PayloadTooLargeError), (429, RateLimitedError),
                                             (503, ServiceUnavailableError), (502, ServerError)])
def test_problem_json_maps_to_typed_errors(status: int, cls: type[ScaleAPIError]) -> None:
    body = {"type": "https://scale.example/problems/x", "title": "Some title", "status": status, "detail": "why"}
    err = error_from_response(_response(status, body, {"Retry-After": "7"}))
    assert type(err) is cls
    assert (err.status, err.title, err.detail, err.type, err.retry_after) == (
        status, "Some title", "why", "https://scale.example/problems/x", 7.0)
    assert str(err) == f"{status} Some title: why"


@pytest.mark.unit
def test_error_details_from_validation_lists_and_plain_text() -> None:
    body = {"detail": [{"loc": ["body", "skeleton"], "msg": "field required"}, {"msg": "second"}]}
    err = error_from_response(_response(422, body))
    assert err.detail == "body.skeleton: field required; second" and err.title == "Unprocessable Entity"
    plain = error_from_response(_response(500, text="boom"))
    assert isinstance(plain, ServerError) and plain.detail == "boom" and plain.retry_after is None
    teapot = error_from_response(_response(418, {"title": "t"}))
    assert type(teapot) is ScaleAPIError and teapot.status == 418


@pytest.mark.unit
def test_npy_bytes_round_trip_without_pickle() -> None:
    array = np.arange(2 * 4 * 25 * 3, dtype=np.float64).reshape(2, 4, 25, 3) / 7
    back = np.load(io.BytesIO(npy_bytes(array)), allow_pickle=False)
    assert back.dtype == np.float32 and np.array_equal(back, array.astype(np.float32))


@pytest.mark.unit
def test_recognize_request_bodies() -> None:
    clip = np.zeros((4, 25, 3), np.float32)
    call = _recognize_call([clip], False, 3, ["a", "b"], "json")
    body = json.loads(call.kwargs()["content"])
    assert body == {"skeleton": clip.tolist(), "top_k": 3, "classes": ["a", "b"]}
    batch = json.loads(_recognize_call([clip, clip[:2]], True, None, None, "json").kwargs()["content"])
    assert [np.shape(s) for s in batch["skeletons"]] == [(4, 25, 3), (2, 25, 3)] and "top_k" not in batch
    npy = _recognize_call([clip, clip], True, 2, ["a", "b"], "npy")
    assert npy.headers["Content-Type"] == "application/x-npy" and npy.params == {"top_k": 2, "classes": ["a", "b"]}
    assert np.load(io.BytesIO(npy.content)).shape == (2, 4, 25, 3)


@pytest.mark.unit
def test_bad_local_input_fails_before_sending() -> None:
    clip = np.zeros((4, 25, 3), np.float32)
    clip[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        _recognize_call([clip], False, 3, None, "json").kwargs()
    with pytest.raises(ValueError, match="one shape"):
        _recognize_call([clip, clip[:2]], True, 3, None, "npy")
    with pytest.raises(ValueError, match=r"\(T, 25, 3\)"):
        _recognize_call([np.zeros((25, 3))], False, 3, None, "json")
    with pytest.raises(ValueError, match="encoding"):
        _recognize_call([clip], False, 3, None, "xml")  # type: ignore[arg-type]


@pytest.mark.unit
def test_parse_recognitions_single_and_batch() -> None:
    item = {"class_id": "a", "label": "A", "energy": 1.5, "score": 0.7, "uncertainty": 0.1}
    (single,) = parse_recognitions({"results": [item], "uncertainty": 0.1, "bundle_version": "v", "demo": True})
    assert single.top.energy == 1.5 and single.bundle_version == "v" and single.demo and single.uncertainty == 0.1
    batch = parse_recognitions({"results": [[item], [item, item]], "uncertainty": [0.1, 0.2]})
    assert [len(r.predictions) for r in batch] == [1, 2] and [r.uncertainty for r in batch] == [0.1, 0.2]
    with pytest.raises(ValueError, match="uncertainties"):
        parse_recognitions({"results": [[item], [item]], "uncertainty": [0.1]})
    with pytest.raises(ValueError, match="results"):
        parse_recognitions({"detail": "x"})


@pytest.mark.unit
def test_async_client_has_the_sync_clients_methods() -> None:
    def public(cls: type) -> dict[str, object]:
        return {n: f for n, f in vars(cls).items() if callable(f) and not n.startswith("_")}

    sync, async_ = public(ScaleClient), public(AsyncScaleClient)
    assert set(sync) - {"close"} == set(async_) - {"aclose"}  # as docs/quickstart.md promises
    assert all(inspect.iscoroutinefunction(f) for f in async_.values())


@pytest.mark.unit
def test_api_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"classes": [{"id": "1", "label": "x", "prompt": "p"}]})

    monkeypatch.setenv("SCALE_URL", "http://envhost:9999/")
    monkeypatch.setenv("SCALE_API_KEY", "secret-key-1")
    with ScaleClient(transport=httpx.MockTransport(handler)) as client:
        (cls,) = client.add_classes([ClassSpec("x", "desc"), "y", {"label": "z", "prompt": "a prompt"}])
    request = seen[0]
    assert str(request.url) == "http://envhost:9999/classes" and request.headers["X-API-Key"] == "secret-key-1"
    assert json.loads(request.content) == {"classes": [{"label": "x", "description": "desc"}, {"label": "y"},
                                                       {"label": "z", "prompt": "a prompt"}]}
    assert cls.id == "1"
    monkeypatch.delenv("SCALE_API_KEY")
    with ScaleClient("http://other", transport=httpx.MockTransport(handler)) as client:
        client.list_classes()
    assert "X-API-Key" not in seen[1].headers and seen[1].url.host == "other"


def _flaky(statuses: list[int]) -> tuple[list[httpx.Request], object]:
    """A handler answering the given statuses in turn (problem+json, Retry-After: 0), then 200."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= len(statuses):
            status = statuses[len(seen) - 1]
            return httpx.Response(status, json={"title": "busy", "status": status}, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"classes": []})

    return seen, handler


@pytest.mark.unit
def test_retries_follow_retry_after_for_429_and_503_only() -> None:
    seen, handler = _flaky([429, 503])
    with ScaleClient("http://t", transport=httpx.MockTransport(handler), max_retries=2) as client:
        assert client.list_classes() == []
    assert len(seen) == 3
    seen, handler = _flaky([429, 429])
    with ScaleClient("http://t", transport=httpx.MockTransport(handler), max_retries=1) as client:
        with pytest.raises(RateLimitedError) as info:
            client.list_classes()
    assert len(seen) == 2 and info.value.retry_after == 0.0
    seen, handler = _flaky([422])
    with ScaleClient("http://t", transport=httpx.MockTransport(handler), max_retries=5) as client:
        with pytest.raises(ValidationError):
            client.list_classes()
    assert len(seen) == 1
    seen, handler = _flaky([503])

    async def run() -> list:
        async with AsyncScaleClient("http://t", transport=httpx.MockTransport(handler), max_retries=1) as client:
            return await client.list_classes()

    assert asyncio.run(run()) == [] and len(seen) == 2
    with pytest.raises(ValueError, match="max_retries"):
        ScaleClient("http://t", max_retries=-1)


@pytest.mark.unit
def test_unreachable_service_raises_connection_error() -> None:
    with ScaleClient(f"http://127.0.0.1:{free_port()}", timeout=5) as client:
        with pytest.raises(ScaleConnectionError, match="cannot reach"):
            client.healthz()


# ---------------------------------------------------------------- against the real service


@pytest.fixture()
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_bundle_path(tmp_path_factory)


def _clip(shared_data: Path, name: str = CLIPS[0]) -> np.ndarray:
    from model.skeleton_io import read_skeleton

    return read_skeleton(shared_data.joinpath(*SKELETONS, name)).joints


def _softmax_scores(energies: np.ndarray, temperature: float) -> np.ndarray:
    logits = -np.asarray(energies, np.float64) / temperature
    p = np.exp(logits - logits.max())
    return p / p.sum()


@pytest.mark.integration
def test_class_registry_round_trip_and_typed_errors(redis_server, bundle: Path, tmp_path: Path,
                                                    shared_data: Path) -> None:
    clip = _clip(shared_data)
    with running_service(bundle, redis_server.url, tmp_path) as url, ScaleClient(url) as client:
        with pytest.raises(ValidationError, match="no classes are registered"):
            client.recognize(clip)
        added = client.add_classes([ClassSpec("reading"), ClassSpec("handshaking", "two people shake hands")])
        assert [c.label for c in added] == ["reading", "handshaking"]
        assert added[1].prompt == "The Human Action of handshaking. two people shake hands"
        assert all(len(c.id) == 16 and int(c.id, 16) >= 0 for c in added)
        again = client.add_classes(["reading"])
        assert again[0].id == added[0].id  # idempotent for the same text
        listed = client.list_classes()
        assert sorted(c.id for c in listed) == sorted(c.id for c in added)
        assert client.get_class(added[1].id).description == "two people shake hands"
        with pytest.raises(ValidationError, match=r"expects \(T,25,3\).*got 2 channels") as info:
            client.recognize(clip[..., :2])
        assert info.value.status == 422 and info.value.problem["status"] == 422
        bad = clip.copy()
        bad[0, 3, 4, 1] = np.inf
        with pytest.raises(ValidationError, match="NaN/Inf"):
            client.recognize(bad, encoding="npy")
        with pytest.raises(ValidationError, match="neither a registered class id nor a label"):
            client.recognize(clip, classes=["no-such-class"])
        with pytest.raises(ValidationError, match="top_k"):
            client.recognize(clip, top_k=0)
        assert client.delete_class(added[0].id) is None
        with pytest.raises(NotFoundError) as missing:
            client.get_class(added[0].id)
        assert missing.value.status == 404 and added[0].id in missing.value.detail
        with pytest.raises(NotFoundError):
            client.delete_class(added[0].id)
        assert [c.id for c in client.list_classes()] == [added[1].id]


@pytest.mark.integration
def test_recognize_real_clips_sync_and_async(redis_server, bundle: Path, tmp_path: Path,
                                                 shared_data: Path) -> None:
    clip, other = _clip(shared_data), _clip(shared_data, CLIPS[1])
    with running_service(bundle, redis_server.url, tmp_path) as url, ScaleClient(url) as client:
        classes = client.add_classes(["reading", "brushing teeth", "handshaking"])
        info = client.info()
        one = client.recognize(clip, top_k=3)
        energies = np.array([p.energy for p in one.predictions])
        assert len(one.predictions) == 3 and np.all(np.diff(energies) >= 0)
        expected = _softmax_scores(energies, info["manifest"]["score_temperature"])
        np.testing.assert_allclose([p.score for p in one.predictions], expected, rtol=1e-9, atol=1e-12)
        assert one.bundle_version == info["bundle_version"] and one.demo
        assert {p.class_id for p in one.predictions} == {c.id for c in classes}
        binary = client.recognize(clip, top_k=3, encoding="npy")
        assert [p.class_id for p in binary.predictions] == [p.class_id for p in one.predictions]
        np.testing.assert_allclose([p.energy for p in binary.predictions], energies, rtol=1e-5)
        batch = client.recognize_batch([other, clip], top_k=3)
        assert len(batch) == 2
        np.testing.assert_allclose([p.energy for p in batch[1].predictions], energies, rtol=1e-5)
        alone = client.recognize(other, top_k=3)
        np.testing.assert_allclose([p.energy for p in batch[0].predictions],
                                   [p.energy for p in alone.predictions], rtol=1e-5)
        only = client.recognize(clip, classes=[classes[2].id], top_k=5)
        assert [p.class_id for p in only.predictions] == [classes[2].id] and only.top.score == pytest.approx(1.0)
        concurrent = asyncio.run(_async_scenario(url, [clip, other] * 2))
    for got, want in zip(concurrent, [one, alone] * 2, strict=True):
        assert [p.class_id for p in got.predictions] == [p.class_id for p in want.predictions]
        np.testing.assert_allclose([p.energy for p in got.predictions], [p.energy for p in want.predictions],
                                   rtol=1e-5)


async def _async_scenario(url: str, clips: list[np.ndarray]) -> list:
    """Concurrent recognitions (micro-batched by the service) plus the async registry calls."""
    async with AsyncScaleClient(url) as client:
        await client.wait_ready(timeout=30)
        ids = {c.id for c in await client.list_classes()}
        (extra,) = await client.add_classes(["jumping"])
        assert {c.id for c in await client.list_classes()} == ids | {extra.id}
        await client.delete_class(extra.id)
        with pytest.raises(NotFoundError):
            await client.get_class(extra.id)
        answers = list(await asyncio.gather(*[client.recognize(c, top_k=3) for c in clips]))
        # the async client has the sync one's /metrics too; these requests are counted there
        assert 'route="/recognize",status="200"' in await client.metrics()
        return answers


@pytest.mark.integration
def test_api_key_and_body_limit(redis_server, bundle: Path, tmp_path: Path, shared_data: Path) -> None:
    clip = _clip(shared_data)  # 82 frames: ~25 kB as .npy, well over 64 kB as JSON text
    with running_service(bundle, redis_server.url, tmp_path, SCALE_API_KEY="test-key-123",
                         SCALE_MAX_BODY_BYTES="65536", SCALE_ALLOW_UNAUTHENTICATED_REDIS="true") as url:
        with ScaleClient(url) as anonymous:
            with pytest.raises(AuthenticationError) as info:
                anonymous.add_classes(["reading"])
            assert info.value.status == 401
            assert anonymous.list_classes() == []  # reads stay open
        with ScaleClient(url, api_key="wrong-key-456") as wrong, pytest.raises(AuthenticationError):
            wrong.add_classes(["reading"])
        with ScaleClient(url, api_key="test-key-123") as client:
            (cls,) = client.add_classes(["reading"])
            with pytest.raises(PayloadTooLargeError, match="65536"):
                client.recognize(clip)
            assert client.recognize(clip, encoding="npy").top.class_id == cls.id


@pytest.mark.unit
def test_async_detect_sends_the_sequence_as_npy_with_options_in_the_query() -> None:
    import asyncio
    import io

    seen: list[httpx.Request] = []
    seq = np.arange(2 * 10 * 17 * 3, dtype=np.float32).reshape(2, 10, 17, 3)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"segments": [], "background": []})

    async def go() -> dict:
        async with AsyncScaleClient("http://t", transport=httpx.MockTransport(handler)) as client:
            return await client.detect(seq, window=64, layout="coco17", include_windows=True)

    assert asyncio.run(go()) == {"segments": [], "background": []}
    (request,) = seen
    assert request.url.path == "/detect" and request.headers["content-type"] == "application/x-npy"
    assert dict(request.url.params) == {"window": "64", "layout": "coco17", "include_windows": "true"}
    np.testing.assert_array_equal(np.load(io.BytesIO(request.content), allow_pickle=False), seq)
