"""POST /recognize end to end: energies and rankings equal the PyTorch models the bundle was exported from."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.service.svc_support import (
    LABELS,
    prompt_of,
    reference,
    register,
    running_app,
    skeleton,
    within_tolerance,
)

pytestmark = pytest.mark.integration


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def check_against_reference(results: list[dict], seq: np.ndarray, labels: list[str], temperature: float) -> None:
    """Energies, ranking, scores and uncertainties of one answer vs the torch models (float64 softmax)."""
    energy, unc = reference([seq], [prompt_of(lab) for lab in labels])
    energy, unc = energy[0].astype(np.float64), unc[0].astype(np.float64)
    by_label = {r["label"]: r for r in results}
    assert set(by_label) == set(labels)
    got = np.array([by_label[lab]["energy"] for lab in labels])
    assert within_tolerance(got, energy).all(), (got, energy)
    np.testing.assert_allclose([by_label[lab]["uncertainty"] for lab in labels], unc, rtol=1e-4, atol=1e-5)
    # The ranking must match wherever the reference separates classes by more than the tolerance.
    ranked = [labels.index(r["label"]) for r in results]
    for a, b in zip(ranked, ranked[1:], strict=False):
        assert energy[a] <= energy[b] + 2 * (1e-4 + 1e-5 * abs(energy[b]))
    z = -energy / temperature
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose([by_label[lab]["score"] for lab in labels], p, rtol=1e-3, atol=1e-6)


def test_register_recognize_delete_recognize_matches_torch() -> None:
    seqs = [skeleton(1), skeleton(2, frames=57, persons=2), skeleton(3, frames=12)]
    labels = list(LABELS[:4])
    with running_app() as client:
        temperature = client.get("/info").json()["manifest"]["score_temperature"]
        classes = register(client, labels)
        r = client.post("/recognize", json={"skeletons": [s.tolist() for s in seqs], "top_k": 10})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["registry_version"] == 1 and len(body["results"]) == 3
        assert body["bundle_version"] == client.get("/info").json()["bundle_version"]
        for seq, results, top_unc in zip(seqs, body["results"], body["uncertainty"], strict=True):
            check_against_reference(results, seq, labels, temperature)
            assert top_unc == results[0]["uncertainty"]
        assert "demo" not in body and "warning" not in body

        gone = classes[1]
        assert client.delete(f"/classes/{gone['id']}").status_code == 204
        r = client.post("/recognize", json={"skeleton": seqs[0].tolist(), "top_k": 10})
        assert r.status_code == 200
        body = r.json()
        assert body["registry_version"] == 2
        assert gone["id"] not in {x["class_id"] for x in body["results"]}
        check_against_reference(body["results"], seqs[0], [lab for lab in labels if lab != gone["label"]],
                                temperature)


def test_npy_body_candidates_and_top_k() -> None:
    seq = skeleton(5, frames=30)
    with running_app() as client:
        classes = register(client, LABELS)
        ids = [c["id"] for c in classes]
        as_json = client.post("/recognize", json={"skeleton": seq[0].tolist(), "top_k": 2,
                                                  "classes": [ids[0], LABELS[2], ids[4]]}).json()
        as_npy = client.post("/recognize", content=npy_bytes(seq[0].astype(np.float64)),
                             params={"top_k": 2, "classes": [ids[0], LABELS[2], ids[4]]},
                             headers={"Content-Type": "application/x-npy"})
        assert as_npy.status_code == 200, as_npy.text
        assert as_npy.json()["results"] == as_json["results"]
        assert len(as_json["results"]) == 2
        assert {r["class_id"] for r in as_json["results"]} <= {ids[0], ids[2], ids[4]}
        full = client.post("/recognize", json={"skeleton": seq[0].tolist(), "top_k": 3,
                                               "classes": [ids[0], ids[2], ids[4]]}).json()
        assert sum(r["score"] for r in full["results"]) == pytest.approx(1.0, abs=1e-6)
        # top_k only cuts the list: scores stay normalised over all three candidates.
        assert full["results"][:2] == as_json["results"]
        batch = client.post("/recognize", content=npy_bytes(np.stack([seq, seq])),
                            headers={"Content-Type": "application/x-npy"})
        assert batch.status_code == 200
        assert [len(x) for x in batch.json()["results"]] == [5, 5]  # default top_k (SCALE_TOP_K=5)
        assert batch.json()["results"][0] == batch.json()["results"][1]


def test_demo_bundle_flags_responses() -> None:
    from tests.service.svc_support import demo_bundle

    with running_app(demo_bundle()) as client:
        info = client.get("/info").json()
        assert info["demo"] is True and "demo" in info["warning"].lower()
        register(client, LABELS[:2])
        body = client.post("/recognize", json={"skeleton": skeleton(0).tolist()}).json()
        assert body["demo"] is True and body["warning"] == info["warning"]
