"""read_samples / write_samples: round trip and error messages naming file, line and field."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from asru.data.schema import Sample, read_samples, write_samples
from asru.errors import DataError

TEXT = {"id": "t1", "kind": "fact", "fact": "birthplace", "fact_id": 1, "modality": "text", "question": "Where was Talia Vorne born?", "answer": "Lisbon"}
IMAGE = {
    "id": "i1", "kind": "identity", "fact": "identity", "fact_id": 0, "modality": "image",
    "question": "Who is the person in this image?", "answer": "Talia Vorne",
    "image": "images/a.png", "image_variants": ["images/b.png"],
}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "images").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "images" / name)
    return tmp_path


def _write(folder, records, name="data.jsonl"):
    path = folder / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def _error(path, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        read_samples(path, **kwargs)
    return str(info.value)


def test_round_trip(folder):
    samples = [Sample.model_validate(TEXT), Sample.model_validate(IMAGE)]
    write_samples(folder / "out.jsonl", samples)
    assert read_samples(folder / "out.jsonl") == samples
    first = (folder / "out.jsonl").read_bytes()
    write_samples(folder / "out.jsonl", samples)
    assert (folder / "out.jsonl").read_bytes() == first


def test_blank_lines_are_skipped_but_counted(folder):
    path = _write(folder, [TEXT, "", {**TEXT, "kind": "gossip"}])
    message = _error(path)
    assert "data.jsonl:3:" in message and "'kind'" in message


def test_missing_file(folder):
    assert "nothing.jsonl: file not found" in _error(folder / "nothing.jsonl")


def test_missing_image_file(folder):
    path = _write(folder, [TEXT, {**IMAGE, "image": "images/missing.png"}])
    message = _error(path)
    assert "data.jsonl:2:" in message and "field 'image'" in message and "missing.png" in message
    assert len(read_samples(path, check_images=False)) == 2


def test_missing_image_variant(folder):
    path = _write(folder, [IMAGE, TEXT, {**IMAGE, "image_variants": ["images/b.png", "images/gone.png"]}])
    message = _error(path)
    assert "data.jsonl:3:" in message and "field 'image_variants'" in message and "gone.png" in message


@pytest.mark.parametrize(
    "change, field",
    [
        ({"kind": "gossip"}, "kind"),
        ({"modality": "audio"}, "modality"),
        ({"form": "essay"}, "form"),
        ({"fact_id": -1}, "fact_id"),
        ({"question": ""}, "question"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_field_value(folder, change, field):
    path = _write(folder, [TEXT, TEXT, {**TEXT, **change}])
    message = _error(path)
    assert "data.jsonl:3:" in message and f"field '{field}'" in message


@pytest.mark.parametrize(
    "change, field",
    [
        ({"fact_id": "three"}, "fact_id"),
        ({"sensitive": "maybe"}, "sensitive"),
        ({"paraphrases": "one paraphrase"}, "paraphrases"),
        ({"options": [1, 2]}, "options.0"),
        ({"answer": None}, "answer"),
        ({"question": ["a", "b"]}, "question"),
    ],
)
def test_wrong_type(folder, change, field):
    path = _write(folder, [{**TEXT, **change}])
    message = _error(path)
    assert "data.jsonl:1:" in message and f"field '{field}'" in message


def test_missing_required_field(folder):
    record = dict(TEXT)
    del record["answer"]
    message = _error(_write(folder, [TEXT, record]))
    assert "data.jsonl:2:" in message and "field 'answer'" in message


def test_unknown_field(folder):
    message = _error(_write(folder, [{**TEXT, "colour": "blue"}]))
    assert "data.jsonl:1:" in message and "field 'colour'" in message


def test_invalid_json(folder):
    path = _write(folder, [TEXT, TEXT, '{"id": "x", "kind": '])
    message = _error(path)
    assert "data.jsonl:3:" in message and "invalid JSON" in message


def test_not_an_object(folder):
    message = _error(_write(folder, [TEXT, '["a", "list"]']))
    assert "data.jsonl:2:" in message and "expected a JSON object" in message and "list" in message


@pytest.mark.parametrize(
    "change, field",
    [
        ({"image": "/etc/passwd"}, "image"),
        ({"image": "../outside.png"}, "image"),
        ({"image": "images/../../outside.png"}, "image"),
        ({"image_variants": ["images/b.png", "/tmp/x.png"]}, "image_variants"),
        ({"image_variants": ["../b.png"]}, "image_variants"),
    ],
)
def test_image_paths_must_stay_inside(folder, change, field):
    message = _error(_write(folder, [IMAGE, {**IMAGE, **change}]), check_images=False)
    assert "data.jsonl:2:" in message and f"field '{field}" in message and "relative" in message


def test_modality_image_needs_image(folder):
    record = {**IMAGE}
    del record["image"]
    message = _error(_write(folder, [record]))
    assert "data.jsonl:1:" in message and "'image'" in message


def test_text_with_image_is_rejected(folder):
    message = _error(_write(folder, [{**TEXT, "image": "images/a.png"}]))
    assert "data.jsonl:1:" in message and "'text'" in message


def test_mcq_needs_options(folder):
    message = _error(_write(folder, [{**TEXT, "form": "mcq", "answer": "A"}]))
    assert "data.jsonl:1:" in message and "'options'" in message
