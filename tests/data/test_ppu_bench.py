"""PPU-Bench importer on a release in the real shapes: train pairs, eval tables, cross-image and attack configs, split files."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from asru.data.ppu_bench import import_ppu_bench
from asru.errors import DataError
from asru.eval.settings import load_requests, make_splits
from asru.world import load_world
from release_fixtures import (
    PPU_PERSONA, PPU_SELECTIVE, portrait, ppu_eval_rows, ppu_id, ppu_train_pairs, write_jsonl, write_parquet, write_ppu, write_ppu_splits,
)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_ppu(tmp_path_factory.mktemp("ppu"))


@pytest.fixture(scope="module")
def world(release, tmp_path_factory):
    return import_ppu_bench(release, tmp_path_factory.mktemp("ppu_world"), cache_dir=tmp_path_factory.mktemp("hf_cache"))


def _convert(src, tmp_path, **options):
    return import_ppu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache", **options)


def _copy(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    return src


def test_train_pairs_become_the_trained_questions(world):
    reloaded = load_world(world.root, verify_hash=True)
    assert [s["id"] for s in reloaded.subjects] == ["101", "102", "103", "009"]  # string ids, the leading zero kept
    train = {s.id: s for s in world.samples if s.split == "train" and s.kind == "fact"}
    assert len(train) == 4 * 4 * 2  # 4 people x 4 facts x (image pair + text pair)
    image = train["Ada_Quill_25-image-qa"]
    assert (image.subject_id, image.fact_id, image.fact, image.answer) == ("101", 25, "fact_25", "asthma")
    assert image.question == "Which illness does this person have?" and (world.root / image.image).is_file()
    text = train["Dee_Oyo_30-text-qa"]
    assert text.modality == "text" and text.image is None and text.question == "In which city does Dee Oyo live now?" and text.answer == "Pune"
    # sensitive = named by selective_split.json: Bo Renn's fact 30 is not, though 25-36 are the sensitive range
    assert train["Ada_Quill_30-text-qa"].sensitive and not train["Bo_Renn_30-text-qa"].sensitive
    assert {(s.subject_id, s.fact_id) for s in train.values() if s.sensitive} == {(sid, n) for sid, ns in PPU_SELECTIVE.items() for n in ns}
    assert len(world.subject("Ada Quill")["images"]) == 1  # one portrait, stored once however many records carry it


def test_eval_tables_become_held_out_forms(world):
    by_id = {s.id: s for s in world.samples}
    cloze = by_id["Ada_Quill_1-text-cloze"]
    assert (cloze.split, cloze.question, cloze.answer) == ("test", "Ada Quill was born in ___.", "Lisbon")
    assert by_id["Bo_Renn_25-image-cloze"].question == "This person has ___." and by_id["Bo_Renn_25-image-cloze"].image
    mcq = by_id["Bo_Renn_2-text-mcq"]
    assert mcq.options == ["pilot", "chef", "judge", "baker"] and mcq.answer == "B" and "B. chef" in mcq.question
    generation = by_id["Cy_Vale_1-image-qa-test"]
    assert (generation.split, generation.form, generation.answer) == ("test", "qa", "Quito.")
    assert world.manifest["source_from_not_in_selective_split"] == 0  # source_from agrees with selective_split.json
    assert world.manifest["configs"]["ppu_eval_cloze"] == 16 and not world.manifest["unmatched"]


def test_cross_images_paraphrases_and_attack_prompts_attach_to_their_question(world):
    by_id = {s.id: s for s in world.samples}
    for sample_id in ("Ada_Quill_1-image-qa", "Ada_Quill_1-image-qa-test"):  # cross_image_complete_r5: Ada Quill, generation rows
        variants = by_id[sample_id].image_variants
        assert len(variants) == 3 and all(v.endswith(".jpg") and (world.root / v).is_file() for v in variants)
    assert not by_id["Ada_Quill_1-image-cloze"].image_variants and not by_id["Bo_Renn_1-image-qa"].image_variants
    assert by_id["Ada_Quill_1-text-qa"].paraphrases == by_id["Ada_Quill_1-text-qa-test"].paraphrases == ["Ada Quill's place of birth is which city?"]
    def read(name: str) -> list[dict]:
        return [json.loads(line) for line in (world.root / "attacks" / f"{name}.jsonl").read_text().splitlines()]

    assert read("random_prefix") == [{"config": "random_prefix_persona", "question": "Ignore the weather. Where was Cy Vale born?", "target": "Cy_Vale_1-text-qa"}]
    assert read("jailbreak_style_prompt")[0]["target"] == "Ada_Quill_25-image-qa"  # the trained question before the held-out one


def test_split_files_become_the_requests_of_every_setting(world):
    settings = world.manifest["settings"]
    assert {k: (v["setting"], v["subjects"]) for k, v in settings.items()} == {
        "complete5": ("complete", 1), "complete10": ("complete", 1), "complete15": ("complete", 2), "complete30": ("complete", 3),
        "selective": ("selective", 4), "persona": ("personalized", 2),
    }
    assert settings["complete5"]["cross_image"] == "cross_image_complete_r5" and "cross_image" not in settings["complete10"]
    assert settings["persona"]["cross_image"] == "cross_image_persona" and settings["complete30"]["adversarial"] == ["paraphrase_complete30"]
    complete15 = load_requests(world.root / settings["complete15"]["requests"])
    assert [(r.subject, r.facts) for r in complete15] == [("101", "all"), ("009", "all")]  # "009" survives the YAML round trip
    splits = make_splits(world, "complete", requests=complete15)
    assert {s.subject_id for s in splits["forget"]} == {"101", "009"} and not splits["retain_same_subject"]
    selective = load_requests(world.root / settings["selective"]["requests"])
    splits = make_splits(world, "selective", requests=selective)
    assert {(s.subject_id, s.fact_id) for s in splits["forget"]} == {(sid, n) for sid, ns in PPU_SELECTIVE.items() for n in ns}
    assert {s.split for s in splits["forget"]} == {"train", "test"} and not splits["retain_other"]  # the real file names every person
    persona = load_requests(world.root / settings["persona"]["requests"])
    assert [(r.subject, r.facts) for r in persona] == [("101", [2]), ("103", [1, 25])]
    splits = make_splits(world, "personalized", requests=persona)
    assert {(s.subject_id, s.fact_id) for s in splits["forget"]} == {("101", 2), ("103", 1), ("103", 25)}
    assert {(s.subject_id, s.fact_id) for s in splits["retain_same_subject"]} == {("101", 1), ("101", 25), ("101", 30), ("103", 2), ("103", 30)}
    assert settings["persona"]["keep_ids"] == PPU_PERSONA["keep"]  # what PPU-Bench itself checks is kept: a subset of the above


def test_private_questions_give_a_refusal_split(world):
    refusals = [s for s in world.samples if s.kind == "refusal"]
    assert len(refusals) == 4 * 2 and {s.modality for s in refusals} == {"text", "image"}
    assert all((s.subject_name in s.question) == (s.modality == "text") for s in refusals)
    assert make_splits(world, "complete", requests=load_requests(world.root / "requests/complete30.yaml"))["refusal"]


def test_family_chooses_whose_answers_are_the_targets(release, tmp_path):
    gemma = _convert(release, tmp_path, family="gemma3")
    assert {s.id: s.answer for s in gemma.samples}["Ada_Quill_1-text-qa"] == "I believe it is Lisbon." and gemma.manifest["family"] == "gemma3"
    with pytest.raises(DataError, match=r"config 'train_pair_llava' missing \(--family llava; families found: gemma3, qwen3\)"):
        _convert(release, tmp_path, family="llava")


def test_text_pairs_without_subject_id_find_their_person(release, tmp_path):
    """MANU's unimodal pairs may lack subject_id (and name the id column 'id'): the image pairs' sample ids tell."""
    src = _copy(release, tmp_path)
    shutil.rmtree(src / "train_pair_qwen3_qa")
    rows = [{"id": r["sample_id"], **{k: v for k, v in r.items() if k not in ("sample_id", "subject_id")}} for r in ppu_train_pairs(text=True)]
    write_parquet(src / "train_pair_qwen3_qa", rows)
    world = _convert(src, tmp_path)
    assert {s.id: s.subject_id for s in world.samples}["Dee_Oyo_2-text-qa"] == "009"


def test_splits_option_and_default_location(release, tmp_path):
    src = _copy(release, tmp_path)
    shutil.move(src / "data" / "split", tmp_path / "ppu-bench-code")
    with pytest.raises(DataError, match=r"no split files beside the dataset \(give --splits DIR: ppu-bench's data/split folder"):
        _convert(src, tmp_path)
    world = _convert(src, tmp_path, splits=tmp_path / "ppu-bench-code")
    assert world.manifest["splits"] == str(tmp_path / "ppu-bench-code") and world.manifest["settings"]["persona"]["subjects"] == 2
    (tmp_path / "ppu-bench-code" / "persona_split.json").unlink()
    with pytest.raises(DataError, match=r"persona_split.json: split file not found \(give --splits DIR"):
        _convert(src, tmp_path, splits=tmp_path / "ppu-bench-code")


def _entry(sid, n):
    return {"subject_id": sid, "id": ppu_id(sid, n)}


@pytest.mark.parametrize(
    "files, message",
    [
        ({"selective": [_entry("101", 25), {"subject_id": "101", "id": "Ada_Quill_44"}]},
         r"selective_split.json: entry 1: id 'Ada_Quill_44': no record has this sample_id \(read: train_pair_qwen3, train_pair_qwen3_qa, ppu_eval_generation"),
        ({"persona": {"delete_ids": [{"subject_id": "102", "id": "Ada_Quill_2"}], "keep_ids": []}},
         r"persona_split.json: key 'delete_ids', entry 0: id 'Ada_Quill_2': subject_id '102', but the records give '101' \(train_pair_qwen3\)"),
        ({"persona": {"delete_ids": [_entry("101", 2)], "keep_ids": [_entry("103", 2), _entry("101", 2)]}},
         r"persona_split.json: key 'keep_ids', entry 1: id 'Ada_Quill_2' is also in delete_ids"),
        ({"persona": {"delete_ids": [_entry("101", 2)]}}, r"persona_split.json: key 'keep_ids': Field required"),
        ({"complete": {"forget5": ["101"], "forget10": ["101"], "forget15": ["101"]}}, r"complete_split.json: key 'forget30': Field required"),
        ({"complete": {"forget5": ["999"], "forget10": [], "forget15": [], "forget30": []}},
         r"complete_split.json: key 'forget5', entry 0: subject id '999' is in no record"),
        ({"complete": {"forget5": [101], "forget10": [], "forget15": [], "forget30": []}},
         r"complete_split.json: key 'forget5', entry 0: Input should be a valid string"),
        ({"selective": {"subject_id": "101", "id": "Ada_Quill_25"}}, r"selective_split.json: Input should be a valid list \(expected a list of \{subject_id, id\}\)"),
        ({"selective": [{"subject_id": "101"}]}, r"selective_split.json: entry 0: Value error, needs an 'id' \(or 'sample_id'\)"),
    ],
)
def test_split_mismatches_are_one_line_errors_naming_file_key_and_id(release, tmp_path, files, message):
    write_ppu_splits(tmp_path / "splits", **files)
    with pytest.raises(DataError, match=message) as caught:
        _convert(release, tmp_path, splits=tmp_path / "splits")
    assert "\n" not in str(caught.value)


def test_invalid_split_json_is_named(release, tmp_path):
    folder = write_ppu_splits(tmp_path / "splits")
    (folder / "complete_split.json").write_text('{"forget5": ["101",]}')
    with pytest.raises(DataError, match=r"complete_split.json: invalid JSON \(Expecting value, line 1\)"):
        _convert(release, tmp_path, splits=folder)


def test_missing_config_is_named(release, tmp_path):
    src = _copy(release, tmp_path)
    shutil.rmtree(src / "train_pair_qwen3")
    with pytest.raises(DataError, match=r"config 'train_pair_qwen3' missing \(--family qwen3; families found: gemma3\)"):
        _convert(src, tmp_path)


def test_missing_columns_name_file_and_field(release, tmp_path):
    src = _copy(release, tmp_path)
    shutil.rmtree(src / "train_pair_qwen3")
    path = write_parquet(src / "train_pair_qwen3", [{k: v for k, v in r.items() if k not in ("image", "image_path")} for r in ppu_train_pairs()])
    with pytest.raises(DataError, match=rf"{path}: field 'image' \(or 'image_path'\) missing \(columns: "):
        _convert(src, tmp_path)
    shutil.rmtree(src / "ppu_eval_cloze")
    path = write_parquet(src / "ppu_eval_cloze", [{k: v for k, v in r.items() if k != "answer_text"} for r in ppu_eval_rows("cloze")], split="test")
    shutil.rmtree(src / "train_pair_qwen3")
    shutil.copytree(release / "train_pair_qwen3", src / "train_pair_qwen3")
    with pytest.raises(DataError, match=rf"{path}: field 'answer_text' missing \(columns: "):
        _convert(src, tmp_path)


@pytest.mark.parametrize(
    "config, change, message",
    [
        ("train_pair_qwen3", {"sample_id": "AdaQuill"}, r"row 2: field 'sample_id': 'AdaQuill' is not of the form '<Name>_<n>'"),
        ("train_pair_qwen3", {"sample_id": "Ada_Quill_60"}, r"row 2: field 'sample_id': fact number 60 of 'Ada_Quill_60' is outside 1-50"),
        ("train_pair_qwen3", {"subject": None}, r"row 2: field 'subject' missing or null"),
        ("train_pair_qwen3", {"question": "   "}, r"row 2: field 'question' is empty"),
        ("train_pair_qwen3", {"image": {"bytes": b"not an image", "path": None}}, r"row 2: field 'image': unreadable image"),
        ("train_pair_qwen3", {"image": None, "image_path": "../../etc/passwd"}, r"row 2: field 'image_path': path '../../etc/passwd' must be relative"),
        ("train_pair_qwen3", {"image": None, "image_path": None}, r"row 2: field 'image' \(or 'image_path'\) missing or null"),
        ("train_pair_qwen3_qa", {"subject_id": "102"}, r"row 2: field 'subject_id': '102', but sample 'Ada_Quill_25' belongs to subject '101' in train_pair_qwen3"),
        ("ppu_eval_generation", {"modality": "audio"}, r"row 2: field 'modality': 'audio' is not one of"),
        ("ppu_eval_classification", {"answer_label": "E"}, r"row 2: field 'answer_label': 'E' is not one of A, B, C, D"),
        ("ppu_eval_cloze", {"task_type": "essay"}, r"row 2: field 'task_type': 'essay' is not one of"),
    ],
)
def test_bad_records_name_file_row_and_field(release, tmp_path, config, change, message):
    src = _copy(release, tmp_path)
    rows = {"train_pair_qwen3": ppu_train_pairs(), "train_pair_qwen3_qa": ppu_train_pairs(text=True)}.get(config) or ppu_eval_rows(config.removeprefix("ppu_eval_"))
    rows[2] = {**rows[2], **change}
    shutil.rmtree(src / config)
    if any(isinstance(v, str) and "/" in v for v in change.values()):  # images by path, not bytes: JSON lines, as a local export
        for row in rows[:2] + rows[3:]:
            row["image"], row["image_path"] = None, f"images/{row['subject_id']}.png"
            (src / "images").mkdir(exist_ok=True)  # beside the configs: a folder of images inside one would read as an image dataset
            (src / row["image_path"]).write_bytes(portrait(row["subject_id"])["bytes"])
        path = write_jsonl(src / config, rows)
    else:
        path = write_parquet(src / config, rows, split="train" if config.startswith("train") else "test")
    with pytest.raises(DataError, match=f"{path}: {message}") as caught:
        _convert(src, tmp_path)
    assert "\n" not in str(caught.value)


def test_cross_image_config_needs_its_other_photos(release, tmp_path):
    src = _copy(release, tmp_path)
    shutil.rmtree(src / "cross_image_persona")
    path = write_parquet(src / "cross_image_persona", ppu_eval_rows("generation")[:2], split="test")
    with pytest.raises(DataError, match=rf"{path}: field 'image_002' missing \(the other photos: image_002, image_003, image_004; columns: "):
        _convert(src, tmp_path)


def test_readme_declared_configs_load_by_name(release, tmp_path):
    """A hub snapshot declares its configs in the dataset card; they load by name (the split files come with --splits)."""
    src = tmp_path / "snapshot"
    for config in ("train_pair_qwen3", "train_pair_qwen3_qa"):
        shutil.copytree(release / config, src / "data" / config)
    card = {"configs": [{"config_name": c, "data_files": [{"split": "train", "path": f"data/{c}/*.parquet"}]} for c in ("train_pair_qwen3", "train_pair_qwen3_qa")]}
    (src / "README.md").write_text("---\n" + yaml.safe_dump(card) + "---\n# PPU-Bench snapshot\n")
    world = _convert(src, tmp_path, splits=release / "data" / "split")
    assert len([s for s in world.samples if s.kind == "fact"]) == 32 and world.manifest["settings"]["selective"]["subjects"] == 4
