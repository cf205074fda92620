"""`mmshield train` is reproducible: the same command and seed give the same weights whether the features were
just computed or read back from the features cache (which stores them as float16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_a_rerun_on_the_features_cache_trains_the_same_weights(tmp_path):
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main

    build = tmp_path / "build"
    build.mkdir()
    for split in ("train", "dev", "test"):
        shutil.copy(EXAMPLES / "mmds_examples.jsonl", build / f"{split}.jsonl")
    shutil.copytree(EXAMPLES / "images", build / "images")
    cache = tmp_path / "fc"
    outs = [tmp_path / name / "context_model.npz" for name in ("fresh", "cached")]
    for out in outs:  # the first run featurizes and fills the cache, the second reads it
        assert cli_main(["train", "--data", str(build), "--out", str(out), "--features-cache", str(cache),
                         "--epochs", "2", "--seed", "5"]) == 0
    assert (cache / "train.npz").is_file()
    fresh, cached = (np.load(o) for o in outs)
    assert sorted(fresh.files) == sorted(cached.files)
    for key in fresh.files:
        np.testing.assert_array_equal(fresh[key], cached[key], err_msg=key)
    metas = [json.loads(o.with_suffix(".json").read_text()) for o in outs]
    assert metas[0]["thresholds"] == metas[1]["thresholds"] and metas[0]["dev_loss"] == metas[1]["dev_loss"]
