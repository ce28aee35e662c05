"""Several texts per class on the client side: class files, request bodies, parsed answers, admin reload call."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from client.api import ScaleClient
from client.classfile import parse_class_lines
from client.models import ActionClass, ClassSpec

pytestmark = pytest.mark.unit


def test_class_file_with_several_descriptions() -> None:
    specs = parse_class_lines(io.StringIO("jumping\tfeet leave the ground\tarms swing up\n"
                                          "waving | one hand moves side to side | palm open\n"
                                          "reading\tlooking at a book\n"), "actions.txt")
    assert specs[0] == ClassSpec("jumping", descriptions=("feet leave the ground", "arms swing up"))
    assert specs[1].descriptions == ("one hand moves side to side", "palm open") and specs[1].description is None
    assert specs[2] == ClassSpec("reading", "looking at a book")  # one description: one text, as before
    assert specs[0].to_json() == {"label": "jumping", "descriptions": ["feet leave the ground", "arms swing up"]}


def test_add_classes_sends_texts_and_parses_them() -> None:
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/reload":
            sent.append(json.loads(request.content))
            return httpx.Response(200, json={"status": "reloaded", "bundle_version": "b"})
        body = json.loads(request.content)
        sent.append(body)
        item = body["classes"][0]
        texts = ["The Human Action of " + item["label"], *item.get("texts", [])]
        return httpx.Response(200, json={"classes": [{"id": "0" * 16, "label": item["label"], "prompt": texts[0],
                                                      "description": None, "created_at": 1.0, "texts": texts}],
                                         "registry_version": 1, "count": 1})

    client = ScaleClient("http://test", transport=httpx.MockTransport(handler))
    (cls,) = client.add_classes([{"label": "jumping", "texts": ["a person hops"]}])
    assert sent[0]["classes"] == [{"label": "jumping", "texts": ["a person hops"]}]
    assert cls.texts == ("The Human Action of jumping", "a person hops")
    assert client.reload_bundle("/bundles/v2") == {"status": "reloaded", "bundle_version": "b"}
    assert sent[1] == {"bundle_path": "/bundles/v2"}
    # an answer from a service without texts still parses: the prompt is the one text
    old = ActionClass.from_json({"id": "1" * 16, "label": "x", "prompt": "p"})
    assert old.texts == ("p",) and old.extra == {}
