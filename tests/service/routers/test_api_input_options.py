"""One set of input options on /recognize, /detect and /streams: mirror, units, warnings, errors at the field."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_layouts import mediapipe_pose
from test_layouts_more import h36m_pose

from service.inputs.layout_input import LayoutOptionsIn
from tests.service.routers.test_api_layouts import moving
from tests.service.svc_support import LABELS, register, running_app, skeleton

pytestmark = pytest.mark.integration
CANDIDATES = list(LABELS[:4])
NTU_SWAP = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22]  # by hand
NPY = {"Content-Type": "application/x-npy"}


def npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr, np.float32), allow_pickle=False)
    return buf.getvalue()


def mediapipe_sequence(frames: int) -> np.ndarray:
    """(T,33,4) an upright MediaPipe person (metres, y down) moving a little, visibility 0.9."""
    xyz = moving(mediapipe_pose(), frames, 0.03, seed=4)
    return np.concatenate([xyz, np.full((frames, 33, 1), 0.9)], axis=-1)


def seen_in_a_mirror(ntu: np.ndarray) -> np.ndarray:
    return ntu[..., NTU_SWAP, :] * [-1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        register(c, CANDIDATES)
        yield c


def kind(response) -> str:
    return response.json()["type"].rsplit("/", 1)[-1]


def energies(results: list[dict]) -> dict[str, float]:
    return {r["label"]: r["energy"] for r in results}


def test_mirror_on_recognize_json_and_npy_undoes_a_mirror_view(client) -> None:
    seq = skeleton(5, frames=30)
    plain = energies(client.post("/recognize", json={"skeleton": seq.tolist(), "top_k": 4}).json()["results"])
    mirrored = seen_in_a_mirror(seq)
    as_json = client.post("/recognize", json={"skeleton": mirrored.tolist(), "mirror": True, "top_k": 4}).json()
    as_npy = client.post("/recognize", content=npy(mirrored), params={"mirror": "true", "top_k": 4},
                         headers=NPY).json()
    unfixed = client.post("/recognize", json={"skeleton": mirrored.tolist(), "top_k": 4}).json()
    for answer in (as_json, as_npy):
        got = energies(answer["results"])
        assert all(abs(got[k] - plain[k]) <= 1e-3 + 1e-4 * abs(plain[k]) for k in plain), (got, plain)
    assert max(abs(energies(unfixed["results"])[k] - plain[k]) for k in plain) > 1e-3  # mirror matters


def test_detect_takes_every_option_in_json_and_query_and_warns_about_centimetres(client) -> None:
    seq = mediapipe_sequence(40) * [100.0, 100.0, 100.0, 1.0]  # landmarks in centimetres
    base = {"skeleton": seq.tolist(), "layout": "mediapipe33", "window": 16, "stride": 8}
    warned = client.post("/detect", json=base)
    assert warned.status_code == 200, warned.text
    assert "centimetres" in warned.json()["warning"] and "units='cm'" in warned.json()["warning"]
    fixed = client.post("/detect", json={**base, "units": "cm", "confidence_threshold": 0.5, "mirror": False})
    assert fixed.status_code == 200 and "warning" not in fixed.json(), fixed.text
    query = {"layout": "mediapipe33", "units": "cm", "confidence_threshold": "0.5", "mirror": "true",
             "window": "16", "stride": "8"}
    r = client.post("/detect", content=npy(seq), params=query, headers=NPY)
    assert r.status_code == 200 and "warning" not in r.json(), r.text


def test_detect_mirror_reproduces_the_unmirrored_answer(client) -> None:
    seq = skeleton(6, frames=40)
    opts = {"window": 16, "stride": 8, "include_windows": True, "smooth": 1}
    plain = client.post("/detect", json={"skeleton": seq.tolist(), **opts}).json()
    fixed = client.post("/detect", json={"skeleton": seen_in_a_mirror(seq).tolist(), "mirror": True, **opts}).json()
    assert [w["label"] for w in fixed["windows"]] == [w["label"] for w in plain["windows"]]
    np.testing.assert_allclose([w["energy"] for w in fixed["windows"]], [w["energy"] for w in plain["windows"]],
                               rtol=1e-4, atol=1e-3)


def test_human36m_sent_as_coco17_gets_a_warning_naming_h36m17(client) -> None:
    seq = np.repeat(h36m_pose()[None], 20, axis=0) + np.random.default_rng(0).normal(0, 0.01, (20, 17, 3))
    r = client.post("/recognize", json={"skeleton": seq.tolist(), "layout": "coco17"})
    assert r.status_code == 200, r.text
    assert "do not look like layout 'coco17'" in r.json()["warning"] and "h36m17" in r.json()["warning"]
    right = client.post("/recognize", json={"skeleton": seq.tolist(), "layout": "h36m17"}).json()
    assert "warning" not in right
    d = client.post("/detect", json={"skeleton": seq.tolist(), "layout": "coco17", "window": 16, "stride": 8})
    assert "h36m17" in d.json()["warning"]


@pytest.mark.parametrize("media", ["application/json", "application/x-npy", "text/plain"])
def test_an_empty_detect_body_is_named_as_such(client, media: str) -> None:
    for body in (b"", b" \n"):
        r = client.post("/detect", content=body, headers={"Content-Type": media})
        assert r.status_code == 422 and kind(r) == "empty-body", r.text
        assert r.json()["detail"].startswith("the body is empty")
    r = client.post("/recognize", content=b"", headers={"Content-Type": media if media != "text/plain" else NPY["Content-Type"]})
    assert kind(r) == "empty-body"


@pytest.mark.parametrize(("shape", "names"), [
    ((10, 17, 3), "coco17, coco17-3d, h36m17"), ((10, 17, 2), "coco17"), ((10, 33, 4), "mediapipe33"),
    ((10, 25, 2), "openpose25"), ((10, 18, 3), "openpose18"), ((10, 133, 3), "coco_wholebody133"),
])
def test_a_pose_array_without_layout_gets_a_hint_naming_the_layouts_that_fit(client, shape, names) -> None:
    for r in (client.post("/recognize", json={"skeleton": np.ones(shape).tolist()}),
              client.post("/detect", json={"skeleton": np.ones(shape).tolist()}),
              client.post("/detect", content=npy(np.ones(shape)), headers=NPY)):
        assert r.status_code == 422 and kind(r) == "bad-shape"
        assert f"fits layout {names}: pass layout" in r.json()["detail"], r.json()["detail"]


@pytest.mark.parametrize(("options", "field"), [
    ({"units": "inch"}, "units"), ({"confidence_threshold": 2}, "confidence_threshold"),
    ({"layout": "coco18"}, "layout"), ({"layout": "coco17", "units": "m"}, "units"),
])
def test_option_errors_point_at_the_field(client, options: dict, field: str) -> None:
    shape = (5, 17, 2) if options.get("layout") == "coco17" else (5, 25, 3)
    seq = np.ones(shape).tolist()
    for route, prefix in (("/recognize", "body"), ("/detect", "body")):
        r = client.post(route, json={"skeleton": seq, **options})
        assert r.status_code == 422 and kind(r) == "bad-layout"
        assert r.json()["errors"][0]["loc"] == [prefix, field], r.json()
    for route in ("/recognize", "/detect"):
        r = client.post(route, content=npy(np.ones(shape)), params=options, headers=NPY)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", field], r.json()


@pytest.mark.parametrize("options", [{"confidence_threshold": False}, {"confidence_threshold": "0.5"},
                                     {"mirror": 0}, {"mirror": "true"}])
def test_json_option_values_of_the_wrong_type_are_refused(client, options: dict) -> None:
    """schemathesis 4.32 found `"confidence_threshold": false` accepted as 0.0; a JSON body's values must have
    the schema's types (a query string's are text, and "true" / "0.5" stay valid there)."""
    seq = np.ones((5, 25, 3)).tolist()
    field = next(iter(options))
    for route in ("/recognize", "/detect"):
        r = client.post(route, json={"skeleton": seq, **options})
        assert r.status_code == 422 and kind(r) == "validation-error", r.text
        assert r.json()["errors"][0]["loc"] == ["body", field], r.json()
        query = client.post(route, content=npy(np.ones((5, 25, 3))), params={field: str(options[field]).lower()},
                            headers=NPY)
        assert query.status_code == (422 if options[field] is False else 200), query.text


def test_streams_take_the_options_and_warn_once_about_centimetres(client) -> None:
    seq = mediapipe_sequence(24) * [100.0, 100.0, 100.0, 1.0]
    with client.websocket_connect("/streams") as ws:
        ws.send_json({"type": "start", "window": 16, "stride": 8, "layout": "mediapipe33", "mirror": True,
                      "confidence_threshold": 0.5})
        assert ws.receive_json()["type"] == "ready"
        for start in (0, 8, 16):
            ws.send_json({"type": "frames", "frames": seq[start:start + 8].tolist()})
        ws.send_json({"type": "end"})
        events = []
        while not events or events[-1]["type"] != "end":
            events.append(ws.receive_json())
    warnings = [e for e in events if e["type"] == "warning"]
    assert len(warnings) == 1 and "centimetres" in warnings[0]["detail"]
    assert any(e["type"] == "window" for e in events)
    with client.websocket_connect("/streams") as ws:
        ws.send_json({"type": "start", "layout": "mediapipe33", "units": "furlong"})
        err = ws.receive_json()
        assert err["type"] == "error" and err["status"] == 422 and "m, cm, mm" in err["detail"]


def test_recognize_query_parameters_cover_every_layout_option(client) -> None:
    """The .npy query of /recognize is declared apart from LayoutOptionsIn: this keeps them from drifting."""
    spec = client.get("/openapi.json").json()["paths"]["/recognize"]["post"]
    names = {p["name"] for p in spec["parameters"] if p["in"] == "query"}
    assert set(LayoutOptionsIn.model_fields) <= names
    assert set(LayoutOptionsIn.model_fields) == {"layout", "units", "confidence_threshold", "mirror"}
    body = spec["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(LayoutOptionsIn.model_fields) <= set(body)  # the published JSON body lists them too


def test_streams_take_the_options_from_the_query_string_too(client) -> None:
    seq = mediapipe_sequence(16) * [100.0, 100.0, 100.0, 1.0]
    with client.websocket_connect("/streams?layout=mediapipe33&units=cm&mirror=true") as ws:
        ws.send_json({"type": "start", "window": 16, "stride": 8})
        assert ws.receive_json()["layout"] == "mediapipe33"
        ws.send_json({"type": "frames", "frames": seq.tolist()})
        ws.send_json({"type": "end"})
        events = []
        while not events or events[-1]["type"] != "end":
            events.append(ws.receive_json())
    assert not [e for e in events if e["type"] == "warning"] and any(e["type"] == "window" for e in events)
