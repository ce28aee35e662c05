"""Inputs that used to answer 500 or a misleading message (issue 9, items 2 and 7): each now a clear 4xx."""

from __future__ import annotations

import json

import pytest

from tests.service.routers.test_api_errors import AUTH, LIMITS, assert_problem, npy
from tests.service.svc_support import LABELS, register, registry_state, running_app, skeleton

pytestmark = pytest.mark.integration

GOOD = skeleton(0, frames=20)[0].tolist()


@pytest.fixture(scope="module")
def client():
    with running_app(**LIMITS) as c:
        register(c, LABELS[:3], **AUTH)
        yield c


def raw(body: str | bytes, media: str = "application/json") -> dict:
    return {"content": body.encode() if isinstance(body, str) else body, "headers": {"Content-Type": media}}


@pytest.mark.parametrize("route", ["/recognize", "/detect"])
@pytest.mark.parametrize("depth", [40, 992, 5000])
def test_deeply_nested_json_is_422_not_500(client, depth: int, route: str) -> None:
    body = '{"skeleton": ' + "[" * depth + "]" * depth + "}"
    problem = assert_problem(client.post(route, **raw(body)), 422, "nested", "levels deep")
    assert problem["type"].endswith("/too-deep")


def test_deep_nesting_on_classes_is_4xx_problem(client) -> None:
    body = '{"classes": [{"label": ' + "[" * 5000 + "]" * 5000 + "}]}"
    r = client.post("/classes", content=body.encode(), headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("field", ["label", "description", "prompt"])
def test_lone_surrogate_in_class_text_is_422(client, field: str) -> None:
    before = registry_state(client)
    item = {"label": "fine label", field: "drink \ud800 water"}
    body = json.dumps({"classes": [item]})  # ensure_ascii: the surrogate travels as the escape \ud800
    problem = assert_problem(client.post("/classes", content=body.encode(),
                                         headers={**AUTH, "Content-Type": "application/json"}),
                             422, "surrogate", field)
    assert problem["type"].endswith("/bad-text")
    assert registry_state(client) == before


def test_surrogate_in_an_unknown_field_name_still_renders(client) -> None:
    body = json.dumps({"classes": [{"label": "x", "\udcff": 1}]})
    r = client.post("/classes", content=body.encode(), headers={**AUTH, "Content-Type": "application/json"})
    assert_problem(r, 422, "valid string")


@pytest.mark.parametrize(("label", "needle", "kind"), [
    ("\u200b\u200b", "no visible character", "empty-text"),
    ("\u200b \u2060\ufeff", "no visible character", "empty-text"),
    ("wave\x00hand", "U+0000", "bad-text"),
    ("wave\x1bhand", "U+001B", "bad-text"),
])
def test_invisible_or_control_labels_are_refused(client, label: str, needle: str, kind: str) -> None:
    before = registry_state(client)
    r = client.post("/classes", json={"classes": [{"label": label}]}, headers=AUTH)
    assert assert_problem(r, 422, needle)["type"].endswith("/" + kind)
    assert registry_state(client) == before


@pytest.mark.parametrize("body", [b"\x93NUM", b'{"skeleton": []}', b"hello"])
def test_npy_without_magic_gets_a_clear_message(client, body: bytes) -> None:
    problem = assert_problem(client.post("/recognize", **raw(body, "application/x-npy")), 422, ".npy", "magic")
    assert "allow_pickle" not in problem["detail"]


@pytest.mark.parametrize("value", ["[]", "[[]]", "[[[]]]"])
def test_empty_skeleton_is_empty_sequence(client, value: str) -> None:
    problem = assert_problem(client.post("/recognize", **raw('{"skeleton": ' + value + "}")), 422, "no frames")
    assert problem["type"].endswith("/empty-sequence")


@pytest.mark.parametrize("top_k", [True, "2", 2.0])
def test_top_k_must_be_a_real_integer(client, top_k) -> None:
    r = client.post("/recognize", json={"skeleton": GOOD, "top_k": top_k})
    assert_problem(r, 422, "top_k")


def test_top_k_integer_still_works(client) -> None:
    r = client.post("/recognize", json={"skeleton": GOOD, "top_k": 2})
    assert r.status_code == 200 and len(r.json()["results"]) == 2


def test_malformed_json_has_the_same_problem_type_on_both_routes(client) -> None:
    classes = client.post("/classes", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    recognize = client.post("/recognize", **raw("{not json"))
    types = {assert_problem(r, 422).get("type") for r in (classes, recognize)}
    assert types == {"https://scale.example/problems/bad-json"}


def test_npy_magic_check_keeps_real_npy_working(client) -> None:
    import numpy as np

    r = client.post("/recognize", **raw(npy(np.asarray(GOOD, np.float32)), "application/x-npy"))
    assert r.status_code == 200, r.text
