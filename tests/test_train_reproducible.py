"""`mmshield train` is reproducible: the same command and seed give the same weights whether the features were
just computed or read back from the features cache (which stores them as float16)."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_a_rerun_on_the_features_cache_trains_the_same_weights(tmp_path, example_build):
    pytest.importorskip("torch")
    from mmshield.cli import main as cli_main

    build = example_build
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
    # the weights say which data they were trained on, so a rerun elsewhere can tell whether it rebuilt the same
    from mmshield.dialogue import file_sha256

    fingerprint = metas[0]["data_fingerprint"]
    assert fingerprint == metas[1]["data_fingerprint"]
    assert fingerprint["train.jsonl"] == file_sha256(build / "train.jsonl")[:16]
    assert fingerprint["dev.jsonl"] == file_sha256(build / "dev.jsonl")[:16]
