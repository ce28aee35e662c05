"""`scale train-scorer / evaluate / ablate` with text.descriptions: label-only against label plus descriptions."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cli.main import main
from training.config import ConfigError, TextStageConfig, config_from_dict, tomllib
from training.readers.descriptions import PURLS_TEXT_COLUMNS
from training.splits import get_split, pseudo_unseen_split
from training.synthetic import write_synthetic_feature_folder

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "configs" / "ci_tiny.toml")
PSEUDO_UNSEEN = list(pseudo_unseen_split(get_split("ntu60_55_5")).pseudo_unseen)


def scale(*argv: str) -> int:
    return main([*argv, "--no-progress"])


class HashTextTower:
    """Stands in for the random CLIP tower (a minute per 60 prompts on a busy 2-core CI machine): each prompt
    gets fixed vectors derived from its sha256, so equal prompts condition equally and different ones differ."""

    weights_id = "random-init:seed=0"  # what configs/ci_tiny.toml's text.random_init_seed = 0 expects

    def encode(self, prompts: list[str]) -> SimpleNamespace:
        seeds = [int(hashlib.sha256(p.encode()).hexdigest()[:8], 16) for p in prompts]
        g = np.stack([np.random.default_rng(s).normal(size=512) for s in seeds]).astype(np.float32)
        tokens = np.repeat(g[:, None, :], 77, axis=1)
        mask = np.zeros((len(prompts), 77), np.float32)
        mask[:, :6] = 1.0
        return SimpleNamespace(global_emb=g, tokens=tokens, mask=mask)


@pytest.fixture()
def args(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr("training.text_cache._load_encoder", lambda *a, **k: HashTextTower())
    feats = write_synthetic_feature_folder(tmp_path / "feats", [0, 1, 2, 3, *PSEUDO_UNSEEN[:2]], [10, 11],
                                           per_class=6)
    cache = tmp_path / "text_cache"  # private: the stand-in's vectors must not reach other tests' cache
    csv = shared_data / "zsar" / "descriptions" / "sa-dvae" / "ntu60.csv"  # the user's own copy
    return ["--config", TINY, "--set", f"data.features='{feats}'", "--set", f"text.cache_dir='{cache}'",
            "--set", f"text.descriptions='{csv}'", "--output", str(tmp_path / "out"),
            "--set", "scorer.selection='last'", "--set", "scorer.epochs=1"]  # one short fit per row: CI is small


def test_one_command_gives_label_only_and_label_plus_description_rows(args, tmp_path):
    out = tmp_path / "out"
    assert scale("train-scorer", *args) == 0
    meta_texts = 60 * 2  # every class: its label prompt and its SA-DVAE description
    assert scale("evaluate", *args) == 0
    res = json.loads((out / "results.json").read_text())
    assert list(res) == ["ntu60_55_5", "ntu60_55_5 label only"]
    assert res["ntu60_55_5"]["protocol"]["texts"] == {"texts": "label+descriptions", "rule": "logmeanexp",
                                                      "rows": meta_texts,
                                                      "digest": res["ntu60_55_5"]["protocol"]["texts"]["digest"]}
    assert res["ntu60_55_5 label only"]["protocol"]["texts"] == {"texts": "label"}
    md = (out / "results.md").read_text()
    assert "| ntu60_55_5 label only |" in md and "| 84.5 |" in md
    # the label-only row is what evaluating the same scorer without text.descriptions gives
    plain = [a if not a.startswith("text.descriptions=") else "text.descriptions=''" for a in args]
    assert scale("evaluate", *plain) == 0
    again = json.loads((out / "results.json").read_text())
    assert list(again) == ["ntu60_55_5"]
    assert again["ntu60_55_5"]["runs"][0]["zsl_top1"] == res["ntu60_55_5 label only"]["runs"][0]["zsl_top1"]
    assert again["ntu60_55_5"]["runs"][0]["gzsl_h"] == res["ntu60_55_5 label only"]["runs"][0]["gzsl_h"]

    assert scale("ablate", *args, "--set", "ablation.variants=['full']") == 0
    rows = json.loads((out / "ablation" / "ablation.json").read_text())["variants"]
    assert list(rows) == ["full", "descriptions_draw", "descriptions_average"]
    table = (out / "ablation" / "ablation.md").read_text()
    assert "full + descriptions (one text per class and step)" in table and "vs label only" in table
    for name in rows:
        assert rows[name]["config"]["use_scale_loss"] and rows[name]["config"]["use_proto_loss"]  # all "full"


def test_a_bad_description_file_stops_before_training(args, tmp_path, capsys):
    bad = tmp_path / "mine.csv"
    bad.write_text("idx,label\n1,a\n2,\n", encoding="utf-8")
    argv = [a if not a.startswith("text.descriptions=") else f"text.descriptions='{bad}'" for a in args]
    assert scale("train-scorer", *argv) != 0
    assert f"{bad}:3: empty description" in capsys.readouterr().err
    assert not list((tmp_path / "out").rglob("*.pt"))


def test_the_documented_descriptions_block_is_the_config():
    doc = (REPO / "docs" / "training.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", doc, re.S) if "descriptions_train" in b)
    text = config_from_dict(tomllib.loads(block)).text
    assert text.descriptions.endswith("ntu120_gpt3_part_desc.tsv") and text.descriptions_train == "draw"
    assert text.descriptions_columns == PURLS_TEXT_COLUMNS and text.descriptions_aggregate == "logmeanexp"
    documented = set(re.findall(r"^(descriptions\w*) =", block, re.M))
    assert documented == {f.name for f in dataclasses.fields(TextStageConfig) if f.name.startswith("descriptions")}


@pytest.mark.parametrize(("key", "value"), [("descriptions_train", "each"), ("descriptions_aggregate", "max"),
                                            ("descriptions_format", "xlsx"), ("descriptions_prompt", "prefix")])
def test_bad_description_settings_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"text.{key}"):
        config_from_dict({"text": {key: value}})
    with pytest.raises(ConfigError, match="ablation.descriptions"):
        config_from_dict({"ablation": {"descriptions": ["all"]}})
