"""PKU-MMD mAP: the official protocol and the matched variant on hand-computed cases."""

import pytest

from model.detect_eval import best_overlap, detection_map, iou, matched_ap, official_ap
from model.pkummd import Instance as I  # noqa: N817

pytestmark = pytest.mark.unit


def test_iou_like_the_official_script():
    assert iou(I(1, 0, 10), I(1, 5, 15)) == pytest.approx(1 / 3)
    assert iou(I(1, 0, 10), I(1, 20, 30)) == pytest.approx(-10 / 30)  # negative, never a hit
    assert best_overlap(I(1, 0, 10), [I(2, 0, 10), I(1, 5, 15)]) == pytest.approx(1 / 3)


def test_duplicates_count_officially_but_not_when_matched():
    truth = [I(1, 0, 10), I(1, 20, 30)]
    props = [I(1, 0, 10, 0.9), I(1, 0, 10, 0.8), I(1, 20, 30, 0.7)]
    # official (hand-run of the script): ascending C,B,A; pos 3, total 2 -> 0.5 + final 0.5 = 1.0
    assert official_ap([0.9, 0.8, 0.7], [1.0, 1.0, 1.0], 0.5, 2) == pytest.approx(1.0)
    # matched: TP, FP, TP -> recall .5,.5,1; precision 1,.5,2/3; envelope 1,2/3,2/3 -> .5 + 1/3
    assert matched_ap([(props, truth)], 1, 0.5) == pytest.approx(5 / 6)
    got = detection_map({"v": (props, truth)}, thetas=(0.5,))
    assert got["official"]["0.5"] == pytest.approx(1.0)
    assert got["matched"]["0.5"] == pytest.approx(5 / 6)


def test_confident_miss_before_the_only_hit():
    # official: dropping the hit leaves precision 0/1 -> AP 0; matched: FP then TP -> precision 1/2 at recall 1
    assert official_ap([0.9, 0.5], [0.0, 1.0], 0.5, 1) == 0.0
    assert matched_ap([([I(1, 50, 60, 0.9), I(1, 0, 10, 0.5)], [I(1, 0, 10)])], 1, 0.5) == pytest.approx(0.5)


def test_theta_and_labels():
    truth = [I(1, 0, 10), I(2, 20, 30)]
    # label 1: IoU 0.8 and 7/9 (a duplicate); label 2 misses
    props = [I(1, 0, 8, 0.9), I(1, 1, 9, 0.8), I(2, 40, 50, 0.9)]
    got = detection_map({"v": (props, truth)}, thetas=(0.5, 0.9))
    assert got["official"]["0.5"] == pytest.approx(0.5)  # AP 1 for label 1, 0 for label 2
    assert got["official"]["0.9"] == 0.0
    assert got["matched"]["0.5"] == pytest.approx(0.5)
    assert official_ap([], [], 0.5, 0) == 0.0
    # the script breaks before scoring the most confident hit: one perfect proposal alone scores 0
    assert official_ap([0.9], [1.0], 0.5, 1) == 0.0
