"""PKU-MMD detection mAP: the official protocol (duplicates all count) and a one-to-one matched variant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from model.pkummd import Instance

DEFAULT_THETAS = (0.1, 0.2, 0.3, 0.4, 0.5)
Video = tuple[Sequence[Instance], Sequence[Instance]]  # (proposals, ground truth)


def iou(a: Instance, b: Instance) -> float:
    """(min end - max start) / (max end - min start), as the official evaluator computes it (may be < 0)."""
    union = max(a.end, b.end) - min(a.start, b.start)
    return (min(a.end, b.end) - max(a.start, b.start)) / union if union > 0 else float(a.start == b.start)


def best_overlap(prop: Instance, truth: Sequence[Instance]) -> float:
    """The largest IoU of a proposal with any ground truth of its label in the same video (0 when none)."""
    return max([0.0] + [iou(prop, g) for g in truth if g.label == prop.label])


def official_ap(confidence: Sequence[float], overlap: Sequence[float], theta: float, total: int) -> float:
    """ECHO960/PKU-MMD `ap`: every proposal with overlap >= theta is a hit, duplicates included.

    Proposals are dropped from the least confident up; precision is the running maximum at each hit.
    """
    if total == 0:
        return 0.0
    order = np.argsort(np.asarray(confidence, np.float64), kind="stable")
    hits = np.asarray(overlap, np.float64)[order] >= theta
    pos, number = float(hits.sum()), float(len(hits))
    score, old_precision, old_recall = 0.0, 0.0, min(pos / total, 1.0)
    for hit in hits:
        number -= 1
        if not hit:
            continue
        pos -= 1
        if number == 0:
            break
        precision, recall = pos / number, min(pos / total, 1.0)
        old_precision = max(old_precision, precision)
        score += old_precision * (old_recall - recall)
        old_recall = recall
    return score + old_precision * old_recall


def matched_ap(videos: Sequence[Video], label: int, theta: float) -> float:
    """VOC-style AP where each ground truth matches at most one proposal (most confident first)."""
    props = [(p.confidence, v, p) for v, (ps, _) in enumerate(videos) for p in ps if p.label == label]
    truth = [[g for g in gts if g.label == label] for _, gts in videos]
    total = sum(len(t) for t in truth)
    if total == 0:
        return 0.0
    used = [np.zeros(len(t), bool) for t in truth]
    tp = []
    for _, v, p in sorted(props, key=lambda x: -x[0]):
        overlaps = np.array([iou(p, g) for g in truth[v]]) if truth[v] else np.zeros(0)
        overlaps[used[v]] = -np.inf
        j = int(np.argmax(overlaps)) if overlaps.size else -1
        hit = j >= 0 and overlaps[j] >= theta
        if hit:
            used[v][j] = True
        tp.append(hit)
    if not tp:
        return 0.0
    ctp = np.cumsum(tp)
    recall, precision = ctp / total, ctp / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((envelope * steps).sum())


def detection_map(videos: Mapping[str, Video], thetas: Sequence[float] = DEFAULT_THETAS) -> dict[str, dict]:
    """mAP over the labels present in the ground truth, per theta, for both protocols (+ official mAP per video)."""
    vids = list(videos.values())
    labels = sorted({g.label for _, gts in vids for g in gts})
    overlaps = [[best_overlap(p, gts) for p in ps] for ps, gts in vids]
    out: dict[str, dict] = {"official": {}, "matched": {}, "official_video": {}, "labels": {"count": len(labels)}}
    for theta in thetas:
        per_label = []
        for label in labels:
            conf = [p.confidence for ps, _ in vids for p in ps if p.label == label]
            ovl = [o for (ps, _), os_ in zip(vids, overlaps, strict=True) for p, o in zip(ps, os_, strict=True)
                   if p.label == label]
            per_label.append(official_ap(conf, ovl, theta, sum(g.label == label for _, gts in vids for g in gts)))
        key = f"{theta:g}"
        out["official"][key] = float(np.mean(per_label)) if labels else 0.0
        out["matched"][key] = float(np.mean([matched_ap(vids, lab, theta) for lab in labels])) if labels else 0.0
        out["official_video"][key] = float(np.mean([
            official_ap([p.confidence for p in ps], ovl, theta, len(gts))
            for (ps, gts), ovl in zip(vids, overlaps, strict=True)])) if vids else 0.0
    return out
