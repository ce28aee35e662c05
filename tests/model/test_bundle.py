"""Bundle loader: ONNX-vs-PyTorch parity over batch sizes and class counts, and every refusal path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from model.bundle import BundleError, load_bundle, read_manifest
from model.bundle_spec import FORMAT_VERSION, TextInfo, compute_bundle_version, sha256_hex
from model.config import PreprocessConfig, ScaleConfig
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN
from tests.model import scale_numpy_ref as ref
from training.export import export_bundle

torch.set_num_threads(1)
FRAMES = 16  # the graphs are frame-length agnostic; the real 300 is covered in tests/training/test_export.py
TEXT = TextInfo(model_name="ViT-B-32-quickgelu", prompt_template="The Human Action of {label}",
                weights_id="random-init:seed=0")


def _perturbed_scorer(seed: int) -> ScaleScorer:
    """A scorer whose weights are not at init (larger, varied log-variances) so energies spread out."""
    torch.manual_seed(seed)
    scorer = ScaleScorer(ScaleConfig())
    with torch.no_grad():
        for p in scorer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return scorer.eval()


@pytest.fixture(scope="module")
def models() -> tuple[ShiftGCN, ScaleScorer]:
    torch.manual_seed(0)
    return ShiftGCN(num_class=60).eval(), _perturbed_scorer(1)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory, models) -> Path:
    encoder, scorer = models
    out = tmp_path_factory.mktemp("bundle") / "b"
    return export_bundle(out, encoder, scorer, preprocess=PreprocessConfig(num_frames=FRAMES), text=TEXT,
                         training={"dataset": "unit-test"}, fp16=True)


@pytest.fixture()
def bundle_copy(tmp_path: Path, bundle_dir: Path) -> Path:
    return Path(shutil.copytree(bundle_dir, tmp_path / "copy"))


def text_inputs(k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(k, 512)).astype(np.float32)
    tokens = rng.normal(size=(k, 77, 512)).astype(np.float32)
    real = rng.integers(3, 20, size=k)
    mask = (np.arange(77)[None, :] <= real[:, None]).astype(np.float32)
    return g, tokens, mask


def energy_tol(e: np.ndarray) -> np.ndarray:
    return 1e-4 + 1e-5 * np.abs(e)


def rewrite_manifest(root: Path, edit) -> None:
    """Apply edit(manifest dict) and re-seal files' hashes and bundle_version (a consistent but wrong bundle)."""
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    blobs = {rel: (root / rel).read_bytes() for rel in manifest["files"]}
    manifest["files"] = {rel: sha256_hex(b) for rel, b in blobs.items()}
    manifest["bundle_version"] = compute_bundle_version(manifest, blobs)
    path.write_text(json.dumps(manifest))


@pytest.mark.integration
@pytest.mark.parametrize("batch", [1, 7, 64])
def test_encoder_features_match_torch(bundle_dir: Path, models, batch: int) -> None:
    encoder, _ = models
    bundle = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(batch).normal(size=(batch, 3, FRAMES, 25, 2)).astype(np.float32)
    feature, logits = bundle.run_encoder(x)
    with torch.no_grad():
        want_f, want_l = (t.numpy() for t in encoder.forward_both(torch.from_numpy(x)))
    assert feature.shape == (batch, 256) and logits.shape == (batch, 60)
    np.testing.assert_allclose(feature, want_f, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logits, want_l, rtol=1e-4, atol=1e-5)


@pytest.mark.integration
@pytest.mark.parametrize("batch", [1, 7, 64])
@pytest.mark.parametrize("k", [1, 5, 120])
def test_energies_and_rankings_match_torch(bundle_dir: Path, models, batch: int, k: int) -> None:
    _, scorer = models
    bundle = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    g, tokens, mask = text_inputs(k, seed=k)
    x = np.random.default_rng(batch).normal(size=(batch, 256)).astype(np.float32)
    energy, uncertainty = bundle.run_sample_side(x, bundle.run_class_side(g, tokens, mask))
    with torch.no_grad():
        cls = scorer.class_side(*(torch.from_numpy(a) for a in (g, tokens, mask)))
        out = scorer.score(torch.from_numpy(x), cls)
    want = out.energy.numpy()
    assert energy.shape == uncertainty.shape == (batch, k)
    assert np.all(np.abs(energy - want) <= energy_tol(want))
    np.testing.assert_allclose(uncertainty, out.uncertainty.numpy(), rtol=1e-4, atol=1e-7)
    # rankings agree for every pair of classes whose torch energies differ by more than the tolerance
    gap = want[:, :, None] - want[:, None, :]
    decided = np.abs(gap) > energy_tol(want)[:, :, None] + energy_tol(want)[:, None, :]
    got_gap = energy[:, :, None] - energy[:, None, :]
    assert np.array_equal(np.sign(got_gap[decided]), np.sign(gap[decided]))
    if k > 1:
        assert decided.any()  # the check above must not be vacuous


@pytest.mark.integration
def test_energies_match_float64_numpy_reference(bundle_dir: Path, models) -> None:
    """The ONNX graphs against the independent loop-based NumPy float64 reference (not via torch)."""
    _, scorer = models
    bundle = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    g, tokens, mask = text_inputs(4, seed=9)
    x = np.random.default_rng(9).normal(size=(3, 256)).astype(np.float32)
    energy, uncertainty = bundle.run_sample_side(x, bundle.run_class_side(g, tokens, mask))
    w = ref.weights(scorer)
    cs = ref.class_side(w, g.astype(np.float64), tokens.astype(np.float64), mask.astype(np.float64), masked=True)
    for b in range(3):
        for k in range(4):
            r = ref.pair(w, x[b].astype(np.float64), cs, k, beta=1.0)
            assert abs(energy[b, k] - r["energy"]) <= 1e-4 + 1e-5 * abs(r["energy"])
            assert abs(uncertainty[b, k] - r["u"]) <= 1e-5 * max(1.0, abs(r["u"]))


@pytest.mark.integration
def test_manifest_records_dims_hash_and_providers(bundle_dir: Path) -> None:
    bundle = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    m = bundle.manifest
    assert m.format_version == FORMAT_VERSION and m.opset == 17 and m.variants == ["fp32", "fp16"]
    assert (m.dims.encoder_hidden, m.dims.decoder_hidden, m.dims.num_class) == ((256 + 256) // 4, (64 + 256) // 4, 60)
    assert m.score_temperature == 256.0 and m.num_frames == FRAMES and not m.demo
    assert bundle.providers() == ["CPUExecutionProvider"]
    for rel, digest in m.files.items():
        assert digest == sha256_hex((bundle_dir / rel).read_bytes())
    raw = json.loads((bundle_dir / "manifest.json").read_text())
    blobs = {rel: (bundle_dir / rel).read_bytes() for rel in m.files}
    assert raw["bundle_version"] == compute_bundle_version(raw, blobs) == bundle.version


@pytest.mark.integration
def test_fp16_variant_close_to_fp32(bundle_dir: Path) -> None:
    b32 = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    b16 = load_bundle(bundle_dir, providers=["CPUExecutionProvider"], variant="fp16")
    x = np.random.default_rng(3).normal(size=(7, 3, FRAMES, 25, 2)).astype(np.float32)
    f32, _ = b32.run_encoder(x)
    f16, _ = b16.run_encoder(x)
    assert f16.dtype == np.float32  # float32 at the boundary
    assert np.max(np.abs(f16 - f32)) <= 1e-2 * np.max(np.abs(f32))
    g, tokens, mask = text_inputs(5, seed=3)
    e32, _ = b32.run_sample_side(f32, b32.run_class_side(g, tokens, mask))
    e16, _ = b16.run_sample_side(f32, b16.run_class_side(g, tokens, mask))
    assert np.max(np.abs(e16 - e32)) <= 1e-2 + 1e-3 * np.max(np.abs(e32))


@pytest.mark.unit
def test_truncated_graph_is_refused_naming_the_file(bundle_copy: Path) -> None:
    path = bundle_copy / "sample_side.onnx"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BundleError, match=r"sample_side\.onnx.*corrupted or truncated"):
        load_bundle(bundle_copy)


@pytest.mark.unit
def test_missing_graph_is_refused(bundle_copy: Path) -> None:
    (bundle_copy / "fp16" / "encoder.onnx").unlink()
    with pytest.raises(BundleError, match=r"fp16/encoder\.onnx.*missing"):
        load_bundle(bundle_copy)


@pytest.mark.unit
def test_manifest_listing_foreign_paths_is_refused(bundle_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"not part of the bundle")
    rewrite_manifest(bundle_copy, lambda m: m["files"].update({str(outside): ""}))
    with pytest.raises(BundleError, match=r"files lists unknown paths \['/"):
        load_bundle(bundle_copy, providers=["CPUExecutionProvider"])


@pytest.mark.unit
def test_other_format_version_is_refused(bundle_copy: Path) -> None:
    rewrite_manifest(bundle_copy, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(BundleError, match=rf"unsupported bundle format_version {FORMAT_VERSION + 1}"):
        load_bundle(bundle_copy)


@pytest.mark.unit
def test_edited_manifest_fails_content_hash(bundle_copy: Path) -> None:
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["score_temperature"] = 1.0
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="does not match the content hash"):
        load_bundle(bundle_copy)


@pytest.mark.unit
def test_hash_covers_the_manifest_as_written(bundle_copy: Path) -> None:
    """Optional fields left out and ints for floats still verify: the loader hashes the JSON it read."""
    def edit(m: dict) -> None:
        m.pop("note")
        m["score_temperature"] = 3

    rewrite_manifest(bundle_copy, edit)
    bundle = load_bundle(bundle_copy, providers=["CPUExecutionProvider"])
    assert bundle.manifest.score_temperature == 3.0 and bundle.manifest.note == ""


@pytest.mark.unit
@pytest.mark.parametrize(("field", "pattern"), [("dims", "dims: Field required"),
                                                ("text", "text: Field required")])
def test_missing_manifest_field_is_named(bundle_copy: Path, field: str, pattern: str) -> None:
    rewrite_manifest(bundle_copy, lambda m: m.pop(field))
    with pytest.raises(BundleError, match=pattern):
        read_manifest(bundle_copy)


@pytest.mark.unit
def test_invalid_preprocess_setting_is_named(bundle_copy: Path) -> None:
    rewrite_manifest(bundle_copy, lambda m: m["preprocess"].update(num_frames=30))
    with pytest.raises(BundleError, match="preprocess.*multiple of 4"):
        read_manifest(bundle_copy)


@pytest.mark.unit
def test_retired_preprocess_fields_are_gone_and_old_manifests_still_load(bundle_copy: Path) -> None:
    written = json.loads((bundle_copy / "manifest.json").read_text())["preprocess"]
    assert "max_bodies_read" not in written and "layout" not in written  # new exports carry what is read
    rewrite_manifest(bundle_copy, lambda m: m["preprocess"].update(max_bodies_read=4, layout="nturgb+d"))
    bundle = load_bundle(bundle_copy, providers=["CPUExecutionProvider"])  # a bundle exported before 2026-12
    assert bundle.manifest.preprocess_config() == PreprocessConfig(num_frames=FRAMES)
    rewrite_manifest(bundle_copy, lambda m: m["preprocess"].update(max_bodys=4))
    with pytest.raises(BundleError, match="unknown preprocess keys"):
        read_manifest(bundle_copy)


@pytest.mark.unit
def test_unknown_variant_is_refused(bundle_copy: Path) -> None:
    rewrite_manifest(bundle_copy, lambda m: m.update(variants=["fp32"]))
    with pytest.raises(BundleError, match="variant 'fp16' not in this bundle"):
        load_bundle(bundle_copy, variant="fp16")


def _set_input_dim(path: Path, axis: int, value: int | str) -> None:
    model = onnx.load(str(path))
    dim = model.graph.input[0].type.tensor_type.shape.dim[axis]
    if isinstance(value, int):
        dim.dim_value = value
    else:
        dim.dim_param = value
    onnx.save(model, str(path))


@pytest.mark.unit
def test_graph_with_wrong_input_shape_is_refused(bundle_copy: Path) -> None:
    _set_input_dim(bundle_copy / "encoder.onnx", 2, 64)  # frames 64 while the manifest says 16
    rewrite_manifest(bundle_copy, lambda m: None)
    with pytest.raises(BundleError, match=r"encoder graph input 'skeleton': axis 2 expected 16, got 64"):
        load_bundle(bundle_copy, providers=["CPUExecutionProvider"])


@pytest.mark.unit
def test_graph_frozen_at_one_batch_size_is_refused(bundle_copy: Path) -> None:
    _set_input_dim(bundle_copy / "sample_side.onnx", 0, 1)
    rewrite_manifest(bundle_copy, lambda m: None)
    with pytest.raises(BundleError, match=r"sample_side graph input 'feature': axis 0 expected B, got 1"):
        load_bundle(bundle_copy, providers=["CPUExecutionProvider"])


@pytest.mark.unit
def test_manifest_dims_disagreeing_with_graph_are_refused(bundle_copy: Path) -> None:
    rewrite_manifest(bundle_copy, lambda m: m["dims"].update(latent_dim=32))
    with pytest.raises(BundleError, match=r"class_side graph output 'prior_mu': axis 1 expected 32, got 64"):
        load_bundle(bundle_copy, providers=["CPUExecutionProvider"])


@pytest.mark.unit
def test_not_a_bundle_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle directory not found"):
        load_bundle(tmp_path / "nope")
    with pytest.raises(BundleError, match="manifest not found"):
        load_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path)


@pytest.mark.gpu
def test_cuda_provider_matches_cpu(bundle_dir: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers() or not torch.cuda.is_available():
        pytest.skip("no CUDA device / CUDAExecutionProvider")
    gpu = load_bundle(bundle_dir)
    cpu = load_bundle(bundle_dir, providers=["CPUExecutionProvider"])
    assert gpu.providers()[0] == "CUDAExecutionProvider"
    g, tokens, mask = text_inputs(5, seed=2)
    x = np.random.default_rng(2).normal(size=(7, 256)).astype(np.float32)
    e_gpu, _ = gpu.run_sample_side(x, gpu.run_class_side(g, tokens, mask))
    e_cpu, _ = cpu.run_sample_side(x, cpu.run_class_side(g, tokens, mask))
    assert np.all(np.abs(e_gpu - e_cpu) <= energy_tol(e_cpu))
