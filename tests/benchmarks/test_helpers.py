"""Pure helpers of the benchmark scripts: statistics, tables, parameter counts and the naive scorer's maths."""

from __future__ import annotations

import numpy as np
import pytest
import scale_numpy_ref as ref
import torch
from torch import nn

from benchmarks.common import format_table, summarize, time_call
from benchmarks.encoder import count_params, parameter_counts
from benchmarks.naive import NaiveScorer
from model.config import ScaleConfig
from model.scorer import ScaleScorer
from model.shift_gcn import ShiftGCN

pytestmark = pytest.mark.unit
torch.set_num_threads(1)

SMALL = {"feature_dim": 12, "text_dim": 16, "cond_dim": 8, "latent_dim": 4}


def test_summarize_matches_hand_computed_percentiles() -> None:
    t = summarize([10.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0, 5.0], inner=4)
    # sorted 1..10: median (5+6)/2; p90 at rank 0.9*9 = 8.1 -> 9 + 0.1*(10-9)
    assert t.median_s == pytest.approx(5.5)
    assert t.p90_s == pytest.approx(9.1)
    assert (t.min_s, t.repeats, t.inner) == (1.0, 10, 4)
    assert t.as_ms()["median_ms"] == pytest.approx(5500.0)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [-1.0], [[1.0, 2.0]]])
def test_summarize_rejects_bad_samples(bad) -> None:
    with pytest.raises(ValueError, match="times|sequence"):
        summarize(bad)


def test_time_call_counts_warmup_and_blocks() -> None:
    calls = []
    t = time_call(lambda: calls.append(1), repeats=5, warmup=2, min_block_s=0.0)
    # min_block_s=0 -> one call per block: warm-up + calibration call + one per block
    assert len(calls) == 2 + 1 + 5
    assert t.repeats == 5 and t.inner == 1
    with pytest.raises(ValueError, match="repeats"):
        time_call(lambda: None, repeats=0)


def test_format_table_aligns_and_checks_rows() -> None:
    text = format_table(["B", "ms"], [[1, 0.5], [256, 12.25], [3, None]])
    lines = text.splitlines()
    assert lines[0] == "  B      ms"
    assert lines[1] == "---  ------"
    assert lines[2:] == ["  1   0.500", "256  12.250", "  3       -"]
    with pytest.raises(ValueError, match="one cell per header"):
        format_table(["a", "b"], [[1]])


def test_count_params_by_hand() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_params(net) == (3 * 4 + 4) + (4 * 2 + 2)
    assert count_params(net, ("1.",)) == 3 * 4 + 4


def test_parameter_counts_split_heads() -> None:
    torch.manual_seed(0)
    enc, sc = ShiftGCN(num_class=60), ScaleScorer(ScaleConfig())
    p = parameter_counts(enc, sc)
    assert p["encoder_total"] - p["encoder_without_fc"] == 256 * 60 + 60
    # proto_head g = MLP 512 -> 128 -> latent 64
    assert p["scorer_total"] - p["scorer_inference"] == (512 * 128 + 128) + (128 * 64 + 64)
    assert p["encoder_plus_scorer"] == sum(x.numel() for m in (enc, sc) for x in m.parameters())


@pytest.mark.parametrize("masked", [True, False])
def test_naive_scorer_matches_numpy_reference(masked: bool) -> None:
    torch.manual_seed(3)
    scorer = ScaleScorer(ScaleConfig(**SMALL, mask_text_tokens=masked)).double().eval()
    naive = NaiveScorer(scorer).double().eval()
    gen = torch.Generator().manual_seed(4)
    k, length, b = 3, 6, 2
    g = torch.randn(k, 16, generator=gen, dtype=torch.float64)
    tokens = torch.randn(k, length, 16, generator=gen, dtype=torch.float64)
    mask = (torch.arange(length)[None, :] < torch.tensor([[2], [6], [4]])).double()
    x = torch.randn(b, 12, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        energy, unc = naive(x, g, tokens, mask)
    w = ref.weights(scorer)
    cs = ref.class_side(w, g.numpy(), tokens.numpy(), mask.numpy(), masked)
    want = np.array([[ref.pair(w, x[i].numpy(), cs, j, 1.0)["energy"] for j in range(k)] for i in range(b)])
    want_u = np.array([[ref.pair(w, x[i].numpy(), cs, j, 1.0)["u"] for j in range(k)] for i in range(b)])
    np.testing.assert_allclose(energy.numpy(), want, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(unc.numpy(), want_u, rtol=1e-10)


@pytest.mark.unit
def test_process_tree_counts_a_child_and_sums_its_memory() -> None:
    import subprocess
    import sys

    from benchmarks.procmem import process_tree, rss_mib, tree_rss_mib

    # a child that holds 64 MiB of touched memory, under a parent shell that holds almost none
    code = "import time; b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096]); print(flush=True); time.sleep(60)"
    parent = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "{code}"; true'], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        parent.stdout.readline()  # the child has touched its memory
        tree = process_tree(parent.pid)
        assert tree[0] == parent.pid and len(tree) == 2
        assert tree_rss_mib(parent.pid) - rss_mib(parent.pid) > 64
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)  # the child first, while it is the parent's
        parent.kill()
        parent.wait()
