"""Every refused request: its status, an RFC 9457 problem body naming the problem, and no registry change."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from tests.service.svc_support import LABELS, register, registry_state, running_app, skeleton

pytestmark = pytest.mark.integration

KEY = "test-api-key-123"
AUTH = {"X-API-Key": KEY}
LIMITS = {"max_frames": 64, "max_classes_per_request": 3, "max_text_chars": 40, "max_body_bytes": 200_000,
          "max_sequences": 4, "top_k": 3, "api_key": KEY}


@pytest.fixture(scope="module")
def client():
    with running_app(**LIMITS) as c:
        register(c, LABELS[:3], **AUTH)
        yield c


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def assert_problem(r, status: int, *needles: str) -> dict:
    """Status, problem+json media type, the RFC 9457 members, and a detail that names the problem."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    for needle in needles:
        assert needle.lower() in body["detail"].lower(), (needle, body["detail"])
    return body


def raw_json(text: str) -> dict:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


GOOD = skeleton(0, frames=20)[0]


def poisoned(flat_index: int, value: float) -> str:
    """A JSON body (Python's NaN/Infinity literals) with one coordinate of GOOD replaced."""
    arr = GOOD.astype(np.float64).copy()
    arr.reshape(-1)[flat_index] = value
    return json.dumps({"skeleton": arr.tolist()}, allow_nan=True)

BAD_RECOGNIZE = {
    "nan": (raw_json(poisoned(7, np.nan)), 422, ("NaN/Inf", "[m,t,v,c]=[0, 0, 2, 1]")),
    "inf": (raw_json(poisoned(0, -np.inf)), 422, ("NaN/Inf", "[m,t,v,c]=[0, 0, 0, 0]")),
    "out_of_range": (raw_json(poisoned(5, 2e6)), 422, ("beyond 1e6",)),
    "rank": ({"json": {"skeleton": GOOD[0].tolist()}}, 422, ("'ntu25' expects (T,25,3) or (M,T,25,3)", "rank 2")),
    "joints": ({"json": {"skeleton": GOOD[:, :24].tolist()}}, 422, ("'ntu25' expects (T,25,3)", "got 24 joints")),
    "channels": ({"json": {"skeleton": GOOD[..., :2].tolist()}}, 422, ("'ntu25' expects (T,25,3)", "got 2 channels")),
    "persons": ({"json": {"skeleton": np.stack([GOOD] * 5).tolist()}}, 422, ("persons", "got 5")),
    "strings": ({"json": {"skeleton": np.full((2, 25, 3), "1.5").tolist()}}, 422, ("numbers", "strings")),
    "nulls": ({"json": {"skeleton": [[[None] * 3] * 25] * 2}}, 422, ("numbers", "nulls")),
    "ragged": ({"json": {"skeleton": [GOOD[0].tolist(), GOOD[1, :3].tolist()]}}, 422, ("rectangular",)),
    "empty_frames": ({"content": npy(np.zeros((0, 25, 3), np.float32)),
                      "headers": {"Content-Type": "application/x-npy"}}, 422, ("no frames",)),
    "too_many_frames": ({"json": {"skeleton": skeleton(1, frames=65)[0].tolist()}}, 422,
                        ("65 frames", "limit of 64")),
    "too_many_sequences": ({"json": {"skeletons": [GOOD.tolist()] * 5}}, 422, ("5 sequences", "limit of 4")),
    "empty_batch": ({"json": {"skeletons": []}}, 422, ("at least one",)),
    "both_fields": ({"json": {"skeleton": GOOD.tolist(), "skeletons": [GOOD.tolist()]}}, 422, ("exactly one",)),
    "unknown_candidate": ({"json": {"skeleton": GOOD.tolist(), "classes": ["flying"]}}, 422,
                          ("'flying'", "neither")),
    "too_many_candidates": ({"json": {"skeleton": GOOD.tolist(), "classes": list(LABELS[:4])}}, 422,
                            ("4 candidate classes", "limit of 3")),
    "top_k_zero": ({"json": {"skeleton": GOOD.tolist(), "top_k": 0}}, 422, ("top_k",)),
    "unknown_field": ({"json": {"skeleton": GOOD.tolist(), "topk": 3}}, 422, ("topk",)),
    "bad_json": (raw_json('{"skeleton": [[[1, 2'), 422, ("not valid JSON",)),
    "bad_npy": ({"content": b"\x93NUMPY garbage", "headers": {"Content-Type": "application/x-npy"}}, 422,
                (".npy",)),
    "pickled_npy": ({"content": npy(np.array([{"a": 1}], dtype=object), allow_pickle=True),
                     "headers": {"Content-Type": "application/x-npy"}}, 422, ("pickle",)),
    "text_npy": ({"content": npy(np.array(["abc"])), "headers": {"Content-Type": "application/x-npy"}}, 422,
                 ("dtype",)),
    "media_type": ({"content": b"hello", "headers": {"Content-Type": "text/plain"}}, 415, ("text/plain",)),
    "query_with_json": ({"json": {"skeleton": GOOD.tolist()}, "params": {"top_k": 2}}, 422, ("query",)),
    "too_large_declared": ({"content": b"x" * 200_001, "headers": {"Content-Type": "application/json"}}, 413,
                           ("200001", "limit is 200000")),
    "too_large_streamed": ({"content": iter([b"[" * 100_000, b"[" * 100_000, b"[" * 100]),
                            "headers": {"Content-Type": "application/json"}}, 413, ("more than 200000", "limit is 200000")),
}


@pytest.mark.parametrize("case", sorted(BAD_RECOGNIZE))
def test_bad_recognize_requests(client, case: str) -> None:
    kwargs, status, needles = BAD_RECOGNIZE[case]
    before = registry_state(client)
    body = assert_problem(client.post("/recognize", **kwargs), status, *needles)
    if status == 422 and case not in ("bad_json",):
        assert body.get("errors"), "validation problems carry an errors list"
    assert registry_state(client) == before


BAD_CLASSES = {
    "empty_label": ({"classes": [{"label": "  "}]}, 422, ("label must not be empty",)),
    "empty_prompt": ({"classes": [{"label": "a", "prompt": ""}]}, 422, ("prompt must not be empty",)),
    "long_label": ({"classes": [{"label": "x" * 41}]}, 422, ("41 characters", "limit of 40")),
    "long_prompt": ({"classes": [{"label": "x" * 30}]}, 422, ("characters", "limit of 40")),
    "too_many": ({"classes": [{"label": f"c{i}"} for i in range(4)]}, 422, ("4 classes", "limit of 3")),
    "no_list": ({"labels": ["a"]}, 422, ("classes", "labels")),
    "empty_list": ({"classes": []}, 422, ("classes",)),
    "wrong_type": ({"classes": [{"label": 5}]}, 422, ("label",)),
    "empty_plain_label": ({"classes": ["  "]}, 422, ("label must not be empty",)),
    "long_plain_label": ({"classes": ["x" * 41]}, 422, ("41 characters", "limit of 40")),
    "number_as_label": ({"classes": [5]}, 422, ("classes",)),
}


@pytest.mark.parametrize("case", sorted(BAD_CLASSES))
def test_bad_class_registrations(client, case: str) -> None:
    body, status, needles = BAD_CLASSES[case]
    before = registry_state(client)
    problem = assert_problem(client.post("/classes", json=body, headers=AUTH), status, *needles)
    assert problem["errors"] and all("loc" in e and "msg" in e for e in problem["errors"])
    assert registry_state(client) == before


def test_plain_label_strings_register_like_class_objects(client) -> None:
    """`{"classes": ["running"]}` is what the Python client and the CLI accept; the HTTP API takes it too."""
    plain = client.post("/classes", json={"classes": ["running", {"label": "jumping"}]}, headers=AUTH)
    assert plain.status_code == 200, plain.text
    as_object = client.post("/classes", json={"classes": [{"label": "running"}]}, headers=AUTH)
    assert plain.json()["classes"][0]["id"] == as_object.json()["classes"][0]["id"]  # the same class
    assert [c["label"] for c in plain.json()["classes"]] == ["running", "jumping"]
    for c in plain.json()["classes"]:
        assert client.delete(f"/classes/{c['id']}", headers=AUTH).status_code == 204


def test_api_key_guards_writes_only(client) -> None:
    before = registry_state(client)
    new = {"classes": [{"label": "kicking"}]}
    assert_problem(client.post("/classes", json=new), 401, "api key")
    assert_problem(client.post("/classes", json=new, headers={"X-API-Key": "wrong-key-000"}), 401, "wrong")
    assert_problem(client.delete(f"/classes/{before[1][0]}"), 401, "api key")
    assert client.post("/classes", json=new, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert registry_state(client) == before
    assert client.get("/classes").status_code == 200  # reads stay open
    r = client.post("/classes", json=new, headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200
    assert client.delete(f"/classes/{r.json()['classes'][0]['id']}", headers=AUTH).status_code == 204


def test_unknown_class_ids_are_404(client) -> None:
    before = registry_state(client)
    assert_problem(client.get("/classes/0123456789abcdef"), 404, "0123456789abcdef")
    assert_problem(client.delete("/classes/0123456789abcdef", headers=AUTH), 404, "0123456789abcdef")
    assert_problem(client.get("/no/such/route"), 404)
    assert registry_state(client) == before


def test_queue_full_is_429_with_retry_after(client) -> None:
    from service.engine.batcher import QueueFull

    batcher = client.app.state.service.batcher

    async def full(*args, **kwargs):
        raise QueueFull(7)

    before = registry_state(client)
    original = batcher.submit
    batcher.submit = full  # the batcher's own queue accounting is tested in test_batcher.py
    try:
        r = client.post("/recognize", json={"skeleton": GOOD.tolist()})
    finally:
        batcher.submit = original
    body = assert_problem(r, 429, "queue is full")
    assert body["type"].endswith("/queue-full")
    assert int(r.headers["Retry-After"]) >= 1
    assert registry_state(client) == before


def test_recognize_without_classes_is_422() -> None:
    with running_app() as c:
        assert_problem(c.post("/recognize", json={"skeleton": GOOD.tolist()}), 422, "no classes")
        assert registry_state(c) == (0, [])


def test_full_registry_is_422_and_keeps_its_classes() -> None:
    with running_app(max_classes=3, max_classes_per_request=3, top_k=3) as c:
        register(c, LABELS[:2])
        before = registry_state(c)
        r = c.post("/classes", json={"classes": [{"label": LABELS[2]}, {"label": LABELS[3]}]})
        body = assert_problem(r, 422, "holds 2 classes", "max_classes=3")
        assert body["type"].endswith("/too-many-classes")
        assert registry_state(c) == before  # all or nothing: not even the first of the two landed
        register(c, LABELS[2:3])  # exactly at capacity is fine
        assert registry_state(c)[0] == before[0] + 1
