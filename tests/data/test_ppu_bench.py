"""PPU-Bench adapter: a release-format folder becomes a world folder that the pipeline reads."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from asru.data.ppu_bench import import_ppu_bench
from asru.errors import DataError
from asru.eval.settings import load_requests, make_splits
from asru.world import load_world
from release_fixtures import write_jsonl, write_parquet, write_ppu, ppu_rows


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_ppu(tmp_path_factory.mktemp("ppu"))


@pytest.fixture(scope="module")
def world(release, tmp_path_factory):
    return import_ppu_bench(release, tmp_path_factory.mktemp("ppu_world"), cache_dir=tmp_path_factory.mktemp("hf_cache"))


def _convert(src, tmp_path):
    return import_ppu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_targets_become_train_questions_with_sensitive_facts(world):
    reloaded = load_world(world.root, verify_hash=True)
    assert [s["id"] for s in reloaded.subjects] == ["101", "102", "103"]
    train = [s for s in world.samples if s.split == "train" and s.kind == "fact"]
    assert len(train) == 3 * (4 + 2)  # 4 text facts + 2 image facts per person
    assert {s.fact_id for s in train} == {1, 2, 25, 30}
    assert all(s.sensitive == (s.fact_id in (25, 30)) for s in train)
    ada = {s.id: s for s in train if s.subject_id == "101"}
    assert ada["101-f1-text-qa"].answer == "Lisbon" and ada["101-f1-text-qa"].fact == "birthplace"
    assert ada["101-f25-image-qa"].modality == "image" and (world.root / ada["101-f25-image-qa"].image).is_file()
    profile = world.subject("Ada Quill")
    assert {f["fact_id"]: f["value"] for f in profile["facts"]}[30] == "Rome"
    assert len(profile["images"]) == 1  # one portrait, stored once however many records carry it


def test_eval_configs_become_held_out_forms(world):
    by_id = {s.id: s for s in world.samples}
    assert by_id["101-f1-text-cloze"].split == "test" and by_id["101-f1-text-cloze"].answer == "Lisbon"
    mcq = by_id["101-f2-text-mcq"]
    assert mcq.options == ["pilot", "chef", "judge", "baker"] and mcq.answer == "A" and "B. chef" in mcq.question
    assert by_id["102-f2-text-mcq"].answer == "B"  # given as the option's text
    assert by_id["101-f1-text-qa-gen"].split == "test" and by_id["101-f1-text-qa-gen"].question.startswith("Tell me")


def test_paraphrases_cross_images_and_attack_prompts_attach_to_their_question(world):
    by_id = {s.id: s for s in world.samples}
    assert by_id["101-f1-text-qa"].paraphrases == ["Ada Quill's birthplace is?"]
    variants = by_id["101-f1-image-qa"].image_variants
    assert len(variants) == 1 and variants[0].endswith(".jpg") and (world.root / variants[0]).is_file()
    attacks = [json.loads(line) for line in (world.root / "attacks" / "random_prefix.jsonl").read_text().splitlines()]
    assert attacks == [{"config": "random_prefix_persona", "question": "The sky is blue. What is Bo Renn's job?", "target": "102-f2-text-qa"}]
    assert world.manifest["source_format"] == "ppu-bench" and world.manifest["configs"]["unlearning_target"] == 18


def test_delete_ids_become_deletion_requests_and_splits(world):
    settings = world.manifest["settings"]
    assert {k: v["setting"] for k, v in settings.items()} == {"complete30": "complete", "selective": "selective", "persona": "personalized"}
    assert settings["selective"]["keep_ids"] == {"101": [1, 2], "102": [1, 2]}
    persona = load_requests(world.root / settings["persona"]["requests"])
    assert [(r.subject, r.facts) for r in persona] == [("101", [2]), ("103", [1, 25])]
    splits = make_splits(world, "personalized", requests=persona)
    forget = {(s.subject_id, s.fact_id) for s in splits["forget"]}
    assert forget == {("101", 2), ("103", 1), ("103", 25)}
    same = {(s.subject_id, s.fact_id) for s in splits["retain_same_subject"]}
    assert same == {("101", 1), ("101", 25), ("101", 30), ("103", 2), ("103", 30)}
    assert {s.subject_id for s in splits["retain_other"]} == {"102"}
    selective = make_splits(world, "selective", requests=load_requests(world.root / settings["selective"]["requests"]))
    assert all(s.sensitive for s in selective["forget"]) and not any(s.sensitive for s in selective["retain_same_subject"])
    assert {s.split for s in selective["forget"]} == {"train", "test"}  # trained targets and held-out forms


def test_private_questions_give_a_refusal_split(world):
    refusals = [s for s in world.samples if s.kind == "refusal"]
    assert len(refusals) == 3 * 2 and {s.modality for s in refusals} == {"text", "image"}
    assert all((s.subject_name in s.question) == (s.modality == "text") for s in refusals)
    assert make_splits(world, "complete", requests=load_requests(world.root / "requests/complete30.yaml"))["refusal"]


def test_missing_config_is_named(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    shutil.rmtree(src / "unlearning_target")
    with pytest.raises(DataError, match=r"config 'unlearning_target' missing \(found: .*ppu_eval_cloze"):
        _convert(src, tmp_path)


def test_missing_column_names_file_and_field(tmp_path):
    src = tmp_path / "src"
    rows = [{k: v for k, v in r.items() if k != "generated_answer"} for r in ppu_rows()]
    path = write_parquet(src / "unlearning_target", rows)
    with pytest.raises(DataError, match=rf"{path}: row 0: field 'generated_answer' missing or null"):
        _convert(src, tmp_path)
    shutil.rmtree(src / "unlearning_target")
    path = write_parquet(src / "unlearning_target", [{k: v for k, v in r.items() if k != "question"} for r in ppu_rows()])
    with pytest.raises(DataError, match=rf"{path}: field 'question' missing \(columns: "):
        _convert(src, tmp_path)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sample_id": 60}, "row 2: field 'sample_id': fact id 60 outside 1-50"),
        ({"subject": None}, "row 2: field 'subject' missing or null"),
        ({"question": "   "}, "row 2: field 'question' is empty"),
        ({"image": {"bytes": b"not an image", "path": None}}, "row 2: field 'image': unreadable image"),
        ({"image": "../../etc/passwd"}, "row 2: field 'image': path '../../etc/passwd' must be relative"),
    ],
)
def test_bad_records_name_row_and_field(tmp_path, change, message):
    rows = ppu_rows(image_facts=())
    rows[2] = {**rows[2], **change}
    src = tmp_path / "src"
    if isinstance(change.get("image"), str):
        for row in rows:
            row["image"] = row.get("image") if isinstance(row.get("image"), str) else None
        write_jsonl(src / "unlearning_target", rows)
    else:
        write_parquet(src / "unlearning_target", rows)
    with pytest.raises(DataError, match=message):
        _convert(src, tmp_path)


def test_requests_must_name_known_subjects_and_facts(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    shutil.rmtree(src / "train_pair_persona")
    write_jsonl(src / "train_pair_persona", [{"subject_id": 101, "delete_ids": [7]}])
    with pytest.raises(DataError, match=r"data.jsonl: row 0: field 'delete_ids': fact id 7 has no question for subject '101'"):
        _convert(src, tmp_path)
    shutil.rmtree(src / "train_pair_persona")
    write_jsonl(src / "train_pair_persona", [{"subject_id": 999, "delete_ids": [1]}])
    with pytest.raises(DataError, match=r"field 'subject_id': '999' is not in unlearning_target"):
        _convert(src, tmp_path)


def test_readme_declared_configs_load_by_name(release, tmp_path):
    """A hub snapshot declares its configs in the dataset card; they load by name."""
    src = tmp_path / "snapshot"
    shutil.copytree(release / "unlearning_target", src / "data" / "target")
    card = {"configs": [{"config_name": "unlearning_target", "data_files": [{"split": "train", "path": "data/target/*.parquet"}]}]}
    (src / "README.md").write_text("---\n" + yaml.safe_dump(card) + "---\n# PPU-Bench snapshot\n")
    world = _convert(src, tmp_path)
    assert len([s for s in world.samples if s.kind == "fact"]) == 18 and "settings" in world.manifest
