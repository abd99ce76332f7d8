"""load_world: round trip and error messages that name the file (and line and field)."""

from __future__ import annotations

import json
import shutil

import pytest

from asru.errors import DataError
from asru.world import WorldConfig, build_world, load_world

SMALL = WorldConfig(subjects=4, utility_questions=6, unknown_people=2)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    manifest = build_world(SMALL, root)
    return root, manifest


@pytest.fixture
def world_dir(built, tmp_path):
    root, _ = built
    copy = tmp_path / "world"
    shutil.copytree(root, copy)
    return copy


def test_round_trip(built):
    root, manifest = built
    world = load_world(root, verify_hash=True)
    assert world.root == root
    assert world.manifest == json.loads(json.dumps(manifest))
    assert len(world.subjects) == 4
    assert len(world.samples) == manifest["counts"]["samples"]
    assert world.subject("s001")["name"] == world.subjects[1]["name"]
    assert world.subject(world.subjects[2]["name"].upper())["id"] == "s002"
    with pytest.raises(DataError, match="unknown subject"):
        world.subject("nobody")


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="world folder not found"):
        load_world(tmp_path / "nope")


def test_missing_world_json(world_dir):
    (world_dir / "world.json").unlink()
    with pytest.raises(DataError, match=r"world\.json.*not found"):
        load_world(world_dir)


def test_wrong_format(world_dir):
    manifest = json.loads((world_dir / "world.json").read_text())
    manifest["format"] = "something-else"
    (world_dir / "world.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"world\.json.*'format'"):
        load_world(world_dir)


def test_invalid_world_json(world_dir):
    (world_dir / "world.json").write_text("{not json")
    with pytest.raises(DataError, match=r"world\.json:1: invalid JSON"):
        load_world(world_dir)


def test_missing_samples(world_dir):
    (world_dir / "samples.jsonl").unlink()
    with pytest.raises(DataError, match=r"samples\.jsonl.*not found"):
        load_world(world_dir)


def test_missing_subjects(world_dir):
    (world_dir / "subjects.json").unlink()
    with pytest.raises(DataError, match=r"subjects\.json.*not found"):
        load_world(world_dir)


def test_bad_subject_fact(world_dir):
    subjects = json.loads((world_dir / "subjects.json").read_text())
    subjects[1]["facts"][2]["value"] = 7
    (world_dir / "subjects.json").write_text(json.dumps(subjects))
    with pytest.raises(DataError, match=r"subjects\.json: subject 1 \(s001\): field 'facts\.2\.value'"):
        load_world(world_dir)


def _rewrite_line(path, line_number, edit):
    lines = path.read_text().splitlines()
    record = json.loads(lines[line_number - 1])
    edit(record)
    lines[line_number - 1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def test_corrupted_sample_field(world_dir):
    _rewrite_line(world_dir / "samples.jsonl", 5, lambda r: r.update(modality="video"))
    with pytest.raises(DataError) as info:
        load_world(world_dir)
    message = str(info.value)
    assert "samples.jsonl:5:" in message and "'modality'" in message


def test_corrupted_sample_json(world_dir):
    path = world_dir / "samples.jsonl"
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"samples\.jsonl:3: invalid JSON"):
        load_world(world_dir)


def test_missing_portrait(world_dir):
    (world_dir / "images" / "s000_2.png").unlink()
    with pytest.raises(DataError) as info:
        load_world(world_dir)
    message = str(info.value)
    assert "subjects.json: subject 0 (s000): field 'images.2'" in message and "s000_2.png" in message


def test_missing_utility_image(world_dir):
    (world_dir / "images" / "u001.png").unlink()
    with pytest.raises(DataError) as info:
        load_world(world_dir)
    assert "samples.jsonl:" in str(info.value) and "field 'image'" in str(info.value) and "u001.png" in str(info.value)


@pytest.mark.parametrize(
    "change, fragment",
    [
        # found by the fuzz test on a fresh clone: a null image crashed compute_content_hash with a TypeError
        (lambda subjects: subjects[1]["images"].__setitem__(0, None), "subject 1 (s001): field 'images.0': Input should be a valid string"),
        (lambda subjects: subjects[0]["facts"][2].__setitem__("fact_id", True), "subject 0 (s000): field 'facts.2.fact_id'"),
        (lambda subjects: subjects[0]["facts"][1].__setitem__("fact_id", subjects[0]["facts"][0]["fact_id"]), "subject 0 (s000): field 'facts': Value error, fact_id"),
        (lambda subjects: subjects[2].pop("name"), "subject 2 (s002): field 'name': Field required"),
        (lambda subjects: subjects[1].__setitem__("id", "s000"), "subject 1 (s000): field 'id': appears twice"),
        (lambda subjects: subjects[0]["images"].append("../outside.png"), "subject 0 (s000): field 'images.18'"),
        (lambda subjects: subjects.__setitem__(0, 7), "subject 0: field '(root)': expected a mapping, got number"),
    ],
)
def test_malformed_subjects(world_dir, change, fragment):
    path = world_dir / "subjects.json"
    subjects = json.loads(path.read_text())
    change(subjects)
    path.write_text(json.dumps(subjects))
    for verify_hash in (False, True):
        with pytest.raises(DataError) as info:
            load_world(world_dir, verify_hash=verify_hash)
        assert f"{path}: {fragment}" in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda manifest: manifest.__setitem__("content_hash", None), "field 'content_hash'"),
        (lambda manifest: manifest.__setitem__("content_hash", "abc"), "field 'content_hash'"),
        (lambda manifest: manifest.__setitem__("counts", {"samples": "many"}), "field 'counts.samples'"),
        (lambda manifest: manifest.__setitem__("format", "asru-world/0"), "field 'format'"),
    ],
)
def test_malformed_manifest(world_dir, change, fragment):
    path = world_dir / "world.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(DataError) as info:
        load_world(world_dir, verify_hash=True)
    assert str(info.value).startswith(f"{path}: {fragment}"), str(info.value)


def test_duplicate_sample_id(world_dir):
    _rewrite_line(world_dir / "samples.jsonl", 2, lambda r: r.update(id="s000-f1-text-qa"))
    with pytest.raises(DataError, match=r"samples\.jsonl: sample 's000-f1-text-qa': field 'id': appears twice"):
        load_world(world_dir)


def test_sample_of_unknown_subject(world_dir):
    _rewrite_line(world_dir / "samples.jsonl", 1, lambda r: r.update(subject_id="s999"))
    with pytest.raises(DataError, match=r"samples\.jsonl: sample 's000-f1-text-qa': field 'subject_id'"):
        load_world(world_dir)


def test_verify_hash_detects_edits(world_dir):
    load_world(world_dir, verify_hash=True)
    _rewrite_line(world_dir / "samples.jsonl", 1, lambda r: r.update(answer="Elsewhere"))
    load_world(world_dir)  # still a valid world
    with pytest.raises(DataError, match="content_hash"):
        load_world(world_dir, verify_hash=True)
