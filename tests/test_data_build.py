"""`mmshield data build` on the miniature fixture sources: invariants of the built dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from PIL import Image

from mmshield.cli import main as cli_main
from mmshield.data.augmentations import violated
from mmshield.data.builder import BuildConfig, build, is_noncommercial
from mmshield.taxonomy import DIMENSION_NAMES, NONE_APPLYING

FIXTURES = Path(__file__).parent / "fixtures" / "data"
EXTRA_FIELDS = ("source", "licenses", "source_family", "pattern", "group_id", "split", "usage_policy", "risk")


def _build(out: Path, **kw) -> dict:
    cfg = BuildConfig(out=out, data_root=FIXTURES, seed=kw.pop("seed", 7), typography=kw.pop("typography", 6),
                      negatives=kw.pop("negatives", 8), progress=False, **kw)
    return build(cfg, log=lambda m: None)


def _records(d: Path) -> list[dict]:
    out = []
    for s in ("train", "dev", "test"):
        with open(d / f"{s}.jsonl", encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mmds") / "ds"
    _build(out)
    return out


@pytest.fixture(scope="module")
def records(built) -> list[dict]:
    return _records(built)


def test_outputs_exist(built, records):
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "card.md", "manifest.json", "families.json"):
        assert (built / name).is_file(), name
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert sum(manifest["counts"].values()) == len(records) > 40
    card = (built / "card.md").read_text()
    assert "## Headline numbers" in card and "## Known limitations" in card


def test_every_record_has_the_training_fields(records):
    for r in records:
        for f in EXTRA_FIELDS:
            assert f in r, (r["id"], f)
        assert r["split"] in ("train", "dev", "test")
        assert r["usage_policy"] and set(r["usage_policy"]) <= set(DIMENSION_NAMES)
        if r["data_type"] == "default":
            assert r["usage_policy"] == list(DIMENSION_NAMES)
        assert set(violated(r)) <= set(r["usage_policy"]), r["id"]
        for side in ("user", "assistant"):
            rating, dim = r[f"{side}_rating"], r[f"{side}_dimension"]
            if rating is None:
                assert dim is None and r[f"{side}_rationale"] is None
                assert not any(t["role"] == side for t in r["conversations"])
            elif rating == "Safe":
                assert dim == NONE_APPLYING and r[f"{side}_rationale"]
            else:
                assert rating == "Unsafe" and dim in DIMENSION_NAMES and r[f"{side}_rationale"]


def test_risk_indices_point_at_the_right_turns(records):
    for r in records:
        conv = r["conversations"]
        n_images = sum(len(t["image"]) for t in conv)
        for i in r["risk"]["user_turns"]:
            assert conv[i]["role"] == "user", r["id"]
        for i in r["risk"]["assistant_turns"]:
            assert conv[i]["role"] == "assistant", r["id"]
        assert all(0 <= k < n_images for k in r["risk"]["images"]), r["id"]
        assert bool(r["risk"]["user_turns"]) == (r["user_rating"] == "Unsafe"), r["id"]
        assert bool(r["risk"]["assistant_turns"]) == (r["assistant_rating"] == "Unsafe"), r["id"]


def test_rationales_name_the_risky_turns(records):
    for r in records:
        if r["data_type"] == "default" and r["user_rating"] == "Unsafe":
            last = max(r["risk"]["user_turns"]) + 1
            assert f"{last}" in r["user_rationale"], (r["id"], r["user_rationale"])
            if r["risk"]["images"]:
                assert f"Image{r['risk']['images'][0] + 1}" in r["user_rationale"]


def test_label_independence(records):
    pairs = {(r["user_rating"], r["assistant_rating"]) for r in records}
    assert ("Unsafe", "Safe") in pairs  # refusals
    assert ("Unsafe", "Unsafe") in pairs  # compliance
    assert ("Safe", "Unsafe") in pairs  # benign request, unsafe reply (DiaSafety, over-sharing)
    assert ("Safe", "Safe") in pairs
    refusals = sum(1 for r in records if r["user_rating"] == "Unsafe" and r["assistant_rating"] == "Safe")
    compliant = sum(1 for r in records if r["user_rating"] == "Unsafe" and r["assistant_rating"] == "Unsafe")
    assert refusals > compliant


def test_patterns_and_multi_turn_benign(records):
    patterns = {r["pattern"] for r in records}
    assert {"single_turn", "concealed_intent", "cross_modal", "hard_negative", "benign_chat", "augmentation"} <= patterns
    benign_mt = [r for r in records if r["user_rating"] == "Safe" and sum(t["role"] == "user" for t in r["conversations"]) > 1]
    assert len(benign_mt) >= 5  # multi-turn structure is not a label signal


def test_split_disjointness(records):
    where: dict[str, set[str]] = {}
    for r in records:
        for g in r["group_ids"]:
            where.setdefault(g, set()).add(r["split"])
        assert r["group_id"] in r["group_ids"]
    leaks = {g: s for g, s in where.items() if len(s) > 1}
    assert not leaks
    by_id = {r["id"]: r for r in records}
    for r in records:
        if r["data_type"] == "augmentation":
            assert by_id[r["parent_id"]]["split"] == r["split"]


def test_families_json_covers_every_record(built, records):
    fam = json.loads((built / "families.json").read_text())
    ids = [i for v in fam.values() for i in v]
    assert sorted(ids) == sorted(r["id"] for r in records)
    assert {"cosafe", "jbb", "diasafety", "convbench"} <= set(fam)


def test_images_loadable_and_relative(built, records):
    seen = 0
    for r in records:
        for t in r["conversations"]:
            for p in t["image"]:
                assert not Path(p).is_absolute()
                with Image.open(built / p) as im:
                    im.load()
                    assert im.size[0] > 10 and im.size[1] > 10
                seen += 1
    assert seen > 10
    with_img = sum(1 for r in records if any(t["image"] for t in r["conversations"]))
    assert with_img / len(records) > 0.15


def test_augmentation_semantics_in_build(records):
    by_id = {r["id"]: r for r in records}
    kinds = set()
    for r in records:
        if r["data_type"] != "augmentation":
            continue
        kinds.add(r["augmentation"])
        parent = by_id[r["parent_id"]]
        if r["augmentation"] == "policy_subset":
            assert set(violated(parent)) <= set(r["usage_policy"])
            assert r["user_rating"] == parent["user_rating"] and r["assistant_rating"] == parent["assistant_rating"]
        elif r["augmentation"] == "safe_rewrite":
            assert parent["assistant_rating"] == "Unsafe" and r["assistant_rating"] == "Safe"
            assert r["conversations"] != parent["conversations"]
        elif r["augmentation"] == "drop_side":
            assert (r["user_rating"] is None) != (r["assistant_rating"] is None)
        elif r["augmentation"] == "remove_dimension":
            for side in ("user", "assistant"):
                if parent[f"{side}_rating"] == "Unsafe" and parent[f"{side}_dimension"] not in r["usage_policy"]:
                    assert r[f"{side}_rating"] == "Safe" and r[f"{side}_dimension"] == NONE_APPLYING
            assert not set(violated(r)) - set(r["usage_policy"])
    assert kinds == {"policy_subset", "safe_rewrite", "drop_side", "remove_dimension"}


def test_validate_passes(built, capsys):
    for s in ("train", "dev", "test"):
        assert cli_main(["validate", str(built / f"{s}.jsonl")]) == 0, capsys.readouterr()


def _digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file() and p.name not in ("manifest.json", "card.md"):
            h.update(p.relative_to(d).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_deterministic_given_seed(built, tmp_path):
    again = tmp_path / "again"
    _build(again)
    assert _digest(again) == _digest(built)


def test_exclude_noncommercial(tmp_path):
    out = tmp_path / "commercial"
    _build(out, exclude_noncommercial=True, typography=2)
    recs = _records(out)
    assert recs
    for r in recs:
        for lic in r["licenses"]:
            assert not is_noncommercial(lic) and not lic.startswith("unknown"), (r["id"], lic)
    fams = {r["source_family"] for r in recs}
    assert "siuo" not in fams and "cosafe" not in fams and "alpaca" not in fams


def test_sources_option_and_missing_root(tmp_path):
    out = tmp_path / "one"
    _build(out, sources=["phtest"], typography=0, negatives=0)
    assert {r["source_family"] for r in _records(out)} == {"phtest"}
    with pytest.raises(FileNotFoundError):
        build(BuildConfig(out=tmp_path / "x", data_root=tmp_path / "nope", progress=False), log=lambda m: None)


def test_cli_build_and_split(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = cli_main(["data", "build", "--out", str(out), "--data-root", str(FIXTURES), "--sources", "phtest,cosafe",
                   "--typography", "1", "--negatives", "1", "--quiet"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    assert info["stats"]["dialogues"] == sum(info["counts"].values())
    rc = cli_main(["data", "split", str(out), "--family", "cosafe", "--out", str(tmp_path / "lofo")])
    assert rc == 0
    test_recs = [json.loads(line) for line in (tmp_path / "lofo" / "test.jsonl").read_text("utf-8").splitlines()]
    train_recs = [json.loads(line) for line in (tmp_path / "lofo" / "train.jsonl").read_text("utf-8").splitlines()]
    assert test_recs and all(r["source_family"] == "cosafe" for r in test_recs)
    assert all(r["source_family"] != "cosafe" for r in train_recs)
    assert cli_main(["data", "split", str(out), "--family", "nope", "--out", str(tmp_path / "x")]) == 2


def test_diasafety_sides(records):
    dia = [r for r in records if r["source_family"] == "diasafety" and r["data_type"] == "default"]
    assert dia
    ideation = [r for r in dia if r["user_rating"] == "Unsafe"]
    assert ideation and all(r["user_dimension"] == "Self-Harm & Suicide" for r in ideation)
    assert all("voices thoughts of suicide" in r["user_rationale"] for r in ideation)
    # the toxic-context category has no user label in the source, so a default build leaves it out
    assert not any("Those people are all criminals" in t["content"] for r in dia for t in r["conversations"])


def test_toxic_replies_are_opt_in_and_quoted(records, tmp_path):
    out = tmp_path / "toxic"
    _build(out, toxic_replies=5)
    recs = _records(out)
    quoted = [r for r in recs if r.get("strategy") == "quoted_reply" and r["data_type"] == "default"]
    assert quoted and not any(r.get("strategy") == "quoted_reply" for r in records)
    for r in quoted:
        user, reply = r["conversations"][-2:]
        assert r["source_family"] == "diasafety" and r["user_rating"] == "Safe"
        assert user["role"] == "user" and '"' in user["content"] and reply["role"] == "assistant"
    toxic = [r for r in quoted if "Those people are all criminals" in r["conversations"][-2]["content"]]
    assert toxic and all(r["assistant_rating"] == "Unsafe" and r["assistant_dimension"] == "Hate & Harassment"
                         and "agrees with" in r["assistant_rationale"] for r in toxic)
    # every other dialogue is the one the default build writes
    default = {r["id"]: r for r in records}
    assert all(default[r["id"]] == r for r in recs if r["id"] in default)
    assert len(default) == sum(r["id"] in default for r in recs)


def test_cli_refuses_negative_toxic_replies(tmp_path, capsys):
    rc = cli_main(["data", "build", "--out", str(tmp_path / "x"), "--data-root", str(FIXTURES), "--toxic-replies", "-1"])
    assert rc == 2 and "--toxic-replies" in capsys.readouterr().err


def test_toxic_reply_categories_filter_and_are_checked(tmp_path, capsys):
    out = tmp_path / "biased"
    _build(out, toxic_replies=5, toxic_reply_categories=("Biased Opinion",), typography=0, negatives=0)
    assert not any(r.get("strategy") == "quoted_reply" for r in _records(out))  # the fixture's one is Toxicity Agreement
    rc = cli_main(["data", "build", "--out", str(tmp_path / "x"), "--data-root", str(FIXTURES), "--toxic-replies", "5",
                   "--toxic-reply-categories", "Toxicity Agreement,Rudeness"])
    assert rc == 2 and "Rudeness" in capsys.readouterr().err


def test_benign_image_copies_are_opt_in_and_benign(records, tmp_path):
    out = tmp_path / "bimg"
    _build(out, benign_image_copies=1.0)
    recs = _records(out)
    default = {r["id"]: r for r in records}
    extra = [r for r in recs if r["id"] not in default and r["data_type"] == "default"]
    split_of_group = {r["group_id"]: r["split"] for r in records}
    assert extra, "every English benign request should have had an image-carried copy"
    for r in extra:
        assert r["user_rating"] == "Safe" and r["strategy"].startswith("benign_"), r["id"]
        assert any(t["image"] for t in r["conversations"] if t["role"] == "user"), r["id"]
        assert r["split"] == split_of_group[r["group_id"]], r["id"]  # a copy stays in its request's split
    # every other dialogue is the one the default build writes
    assert all(default[r["id"]] == r for r in recs if r["id"] in default)
    assert len(default) == sum(r["id"] in default for r in recs)


def test_cli_refuses_a_benign_image_share_outside_0_1(tmp_path, capsys):
    rc = cli_main(["data", "build", "--out", str(tmp_path / "x"), "--data-root", str(FIXTURES),
                   "--benign-image-copies", "1.5"])
    assert rc == 2 and "--benign-image-copies" in capsys.readouterr().err
