"""`scale recognize` takes several files and folders: every clip once, in the order given."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from cli.client import collect_all, register


@pytest.mark.unit
def test_several_paths_and_folders_give_each_file_once_in_order(tmp_path: Path) -> None:
    clip = np.zeros((1, 8, 25, 3), np.float32)
    for folder, names in (("a", ["2.npy", "1.npy"]), ("b", ["3.npy"])):
        (tmp_path / folder).mkdir()
        for name in names:
            np.save(tmp_path / folder / name, clip)
    single = tmp_path / "b" / "3.npy"
    got = collect_all([single, tmp_path / "a", tmp_path / "b"])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["b/3.npy", "a/1.npy", "a/2.npy"]
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        collect_all([tmp_path / "a", tmp_path / "missing.npy"])
    parser = argparse.ArgumentParser(prog="scale")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["recognize", str(single), str(tmp_path / "a"), "--top-k", "2"])
    assert args.paths == [single, tmp_path / "a"] and args.top_k == 2
