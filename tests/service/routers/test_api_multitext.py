"""Classes with several texts: registration, listing, and ranking by the documented aggregate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.config import DEFAULT_PROMPT_TEMPLATE
from service.registry import ClassRecord
from tests.service.svc_support import reference, running_app, skeleton, within_tolerance

pytestmark = pytest.mark.integration

DESCRIPTIONS = ["the arm swings up and down", "feet leave the ground"]
VERBATIM = "a person hops in place"


def _texts() -> list[str]:
    head = DEFAULT_PROMPT_TEMPLATE.format(label="jumping")
    return [head] + [f"{head}. {d}" for d in DESCRIPTIONS[1:]] + [VERBATIM]


def _log_mean_exp_energy(energies: list[float]) -> float:
    m = min(energies)
    return m - math.log(sum(math.exp(-(e - m)) for e in energies) / len(energies))


def test_three_texts_rank_by_documented_aggregate() -> None:
    texts = _texts()  # label prompt, one description, one verbatim text
    assert len(texts) == 3
    seqs = [skeleton(s) for s in (3, 4)]
    with running_app() as client:
        multi = client.post("/classes", json={"classes": [
            {"label": "jumping", "descriptions": DESCRIPTIONS[1:], "texts": [VERBATIM]}]})
        assert multi.status_code == 200, multi.text
        cls = multi.json()["classes"][0]
        assert cls["texts"] == texts and cls["prompt"] == texts[0]
        # each text on its own, as separate single-text classes (explicit prompts)
        singles = client.post("/classes", json={"classes": [{"label": f"t{i}", "prompt": t}
                                                            for i, t in enumerate(texts)]}).json()["classes"]
        other = client.post("/classes", json={"classes": [{"label": "sitting down"}]}).json()["classes"][0]
        single_ids = [c["id"] for c in singles]
        answers = {}
        for rule in ("logmeanexp", "min", "mean_conditioning"):
            r = client.post("/recognize", json={"skeletons": [s.tolist() for s in seqs], "top_k": 5,
                                                "aggregation": rule})
            assert r.status_code == 200, r.text
            answers[rule] = r.json()
        default = client.post("/recognize", json={"skeletons": [s.tolist() for s in seqs], "top_k": 5}).json()
    want_e, want_u = reference(seqs, texts)  # torch, one text per column: the independent computation
    for i in range(len(seqs)):
        by_id = {item["class_id"]: item for item in answers["logmeanexp"]["results"][i]}
        single = np.array([by_id[c]["energy"] for c in single_ids])
        assert within_tolerance(single, want_e[i]).all()
        # E = -log mean exp(-E_t) = m - log mean exp(-(E_t - m)), by hand from the singles' energies and torch
        lme = _log_mean_exp_energy([float(e) for e in single])
        lme_torch = _log_mean_exp_energy([float(e) for e in want_e[i]])
        assert by_id[cls["id"]]["energy"] == pytest.approx(lme, abs=1e-4)
        assert by_id[cls["id"]]["energy"] == pytest.approx(lme_torch, abs=2e-4 + 1e-5 * abs(lme_torch))
        w = [math.exp(-(e - single.min())) for e in single]
        unc = sum(wi * by_id[c]["uncertainty"] for wi, c in zip(w, single_ids, strict=True)) / sum(w)
        assert by_id[cls["id"]]["uncertainty"] == pytest.approx(unc, abs=1e-5)
        # the rank of the class among the others follows that aggregate
        order = [item["class_id"] for item in answers["logmeanexp"]["results"][i]]
        energies = {**{c: by_id[c]["energy"] for c in single_ids}, cls["id"]: lme,
                    other["id"]: by_id[other["id"]]["energy"]}
        assert order == sorted(energies, key=energies.get)
        mins = {item["class_id"]: item for item in answers["min"]["results"][i]}
        assert mins[cls["id"]]["energy"] == pytest.approx(float(single.min()), abs=1e-5)
        assert mins[cls["id"]]["uncertainty"] == pytest.approx(by_id[single_ids[int(single.argmin())]]
                                                               ["uncertainty"], abs=1e-6)
        assert default["results"][i] == answers["logmeanexp"]["results"][i]  # the default rule
        # mean of conditionings: a different number than the min and the log-mean-exp of the singles
        mean = {item["class_id"]: item for item in answers["mean_conditioning"]["results"][i]}
        assert mean[single_ids[0]]["energy"] == pytest.approx(by_id[single_ids[0]]["energy"], abs=1e-5)
        assert not math.isclose(mean[cls["id"]]["energy"], lme, abs_tol=1e-3)


def test_multi_text_ids_listing_and_idempotence() -> None:
    texts = _texts()
    with running_app() as client:
        first = client.post("/classes", json={"classes": [{"label": "jumping", "prompt": texts[0],
                                                           "texts": texts[1:]}]}).json()
        # the same set in another order and spacing is the same class; a one-text class keeps its old id
        again = client.post("/classes", json={"classes": [{"label": "jumping", "prompt": texts[2],
                                                           "texts": [" " + texts[1], texts[0] + "  "]}]}).json()
        one = client.post("/classes", json={"classes": [{"label": "jumping"}]}).json()
        listed = client.get("/classes").json()
        bad = client.post("/classes", json={"classes": [{"label": "x", "texts": ["a"] * 20}]})
        empty = client.post("/classes", json={"classes": [{"label": "x", "descriptions": ["  "]}]})
    cid = first["classes"][0]["id"]
    assert again["classes"][0]["id"] == cid
    assert again["registry_version"] == first["registry_version"]
    assert one["classes"][0]["id"] == ClassRecord.create("jumping", texts[0]).id != cid
    assert one["classes"][0]["texts"] == [texts[0]]
    assert {c["id"]: c["texts"] for c in listed["classes"]}[cid] == texts
    assert bad.status_code == 422 and "too-many-texts" in bad.json()["type"]
    assert empty.status_code == 422 and "descriptions[0]" in empty.json()["detail"]


def test_record_json_round_trip_and_old_form() -> None:
    multi = ClassRecord.create("jumping", ["a  b", "c", "a b"], created_at=1.0)
    assert multi.all_texts == ("a b", "c") and multi.prompt == "a b"
    assert ClassRecord.from_json(multi.to_json()) == multi
    single = ClassRecord.create("jumping", "a b", created_at=1.0)
    assert "texts" not in single.to_json()  # stored exactly as before several texts existed
    assert ClassRecord.from_json(single.to_json()).all_texts == ("a b",)
    with pytest.raises(ValueError, match="does not match"):
        ClassRecord(single.id, "jumping", None, "a b", 1.0, ("a b", "c")).validate()
