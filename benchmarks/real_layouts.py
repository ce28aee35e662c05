"""The h36m17 and coco_wholebody133 maps on real annotated people (data that no one here produced).

Inputs (not in this repository; both are files of the public mmpose repository's test data):
  --h36m       tests/data/h36m/test_h36m_body3d.npz: 4 real Human3.6M frames (S1, S5, S7, S8), `S` = the
               17 joints in camera coordinates (metres, y down) + a visibility flag, `part` = their 2D
               projections (pixels) + flag.
  --wholebody  tests/data/coco/test_coco_wholebody.json: 14 real COCO-WholeBody annotations (body, feet,
               face and hands labelled by hand on COCO images).

Printed (and written with --out): per Human3.6M frame, NTU bone lengths in metres after `h36m17` and the
joint-order warning when the same array is sent as `coco17`; per COCO-WholeBody person, whether the order
check passes and, for hands with labelled points, the labelled HandTip distance from the wrist in forearm
lengths (the forearm rule of the hand-less layouts assumes 0.6).

    python -m benchmarks.real_layouts --h36m test_h36m_body3d.npz --wholebody test_coco_wholebody.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from model.layout_check import order_warning
from model.layouts import to_ntu25

BONES = {"shoulders": (4, 8), "upper arm L": (4, 5), "forearm L": (5, 6), "thigh L": (12, 13), "shin L": (13, 14),
         "torso": (0, 20)}


def h36m_rows(path: Path) -> list[str]:
    """One line per real Human3.6M frame: bone lengths via h36m17, and the warnings of both checks."""
    data = np.load(path, allow_pickle=False)
    rows = [f"Human3.6M ({path.name}): NTU bone lengths in metres after layout h36m17"]
    for name, joints, part in zip(data["imgname"], data["S"], data["part"], strict=True):
        ntu = to_ntu25(joints[None], "h36m17")[0, 0]
        bones = ", ".join(f"{k} {np.linalg.norm(ntu[a] - ntu[b]):.3f}" for k, (a, b) in BONES.items())
        own = order_warning(joints[None], "h36m17", 0.3)
        as_coco = order_warning(joints[None], "coco17", 0.3)
        as_coco_2d = order_warning(part[None], "coco17", 0.3)
        rows.append(f"  {Path(str(name)).stem}: {bones}")
        rows.append(f"    as h36m17: {own or 'no warning'}")
        rows.append(f"    3D sent as coco17: {as_coco or 'no warning'}")
        rows.append(f"    2D projection sent as coco17: {as_coco_2d or 'no warning'}")
    return rows


def wholebody_array(ann: dict) -> np.ndarray:
    """(133, 3) u, v, confidence (1 where labelled, 0 otherwise) from one COCO-WholeBody annotation."""
    flat = [*ann["keypoints"], *ann["foot_kpts"], *ann["face_kpts"], *ann["lefthand_kpts"], *ann["righthand_kpts"]]
    points = np.asarray(flat, dtype=np.float64).reshape(133, 3)
    points[:, 2] = (points[:, 2] > 0).astype(np.float64)
    return points


def wholebody_rows(path: Path) -> list[str]:
    """One line per annotated person with the whole upper body labelled."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    rows = [f"COCO-WholeBody ({path.name}): people with shoulders, elbows, wrists and hips labelled"]
    for ann in doc["annotations"]:
        points = wholebody_array(ann)
        if not points[[5, 6, 7, 8, 9, 10, 11, 12], 2].all():
            continue
        ntu = to_ntu25(points[None], "coco_wholebody133")[0, 0]
        note = order_warning(points[None], "coco_wholebody133", 0.3)
        tips = []
        for side, valid, (elbow, wrist, tip) in (("L", "lefthand_valid", (5, 6, 21)),
                                                 ("R", "righthand_valid", (9, 10, 23))):
            if ann[valid]:
                ratio = np.linalg.norm(ntu[tip] - ntu[wrist]) / np.linalg.norm(ntu[wrist] - ntu[elbow])
                tips.append(f"HandTip{side} {ratio:.2f} forearms")
        rows.append(f"  annotation {ann['id']}: order {'WARNING: ' + note if note else 'ok'}; "
                    f"{', '.join(tips) or 'no labelled hand (forearm rule)'}")
    return rows


def main() -> None:
    """Print the report (and write it with --out)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--h36m", type=Path, required=True)
    parser.add_argument("--wholebody", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    text = "\n".join([*h36m_rows(args.h36m), "", *wholebody_rows(args.wholebody)])
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
