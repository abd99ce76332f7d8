"""Fuzz: malformed records, configs, deletion requests and world folders thrown at every loader.

Whatever hypothesis generates, a loader either returns or raises one of our error types
(``asru.errors``), which the CLI turns into one line and exit code 2; never a raw exception.
`make test` runs a fixed, derandomized set of examples (the "default" profile in
tests/conftest.py); `make fuzz` runs the same tests with many more random ones. The strategies
shared with the other fuzz tests (run folders, model folders, the CLI) are in tests/fuzzing.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import fuzz_examples  # tests/conftest.py
from fuzzing import CONFIGS, config_documents, expect_only_our_errors, json_values, mutate, mutated_json_file, request_documents, raw_text  # tests/fuzzing.py
from hypothesis import given
from hypothesis import strategies as st

from asru.config import build_config
from asru.data.schema import Sample, read_samples
from asru.eval.settings import describe_requests, load_requests, make_splits
from asru.world import load_world

VALID_SAMPLE = {"id": "x1", "kind": "fact", "fact": "birthplace", "fact_id": 1, "modality": "text", "question": "Where?", "answer": "Lisbon"}
SAMPLE_FIELDS = sorted(Sample.model_fields)
plausible = {
    "kind": st.sampled_from(["fact", "identity", "utility", "refusal", "other"]),
    "modality": st.sampled_from(["image", "text", "video"]),
    "form": st.sampled_from(["qa", "cloze", "mcq", "essay"]),
    "image": st.sampled_from(["images/a.png", "../escape.png", "/etc/passwd", "", "images/\x00.png", "images"]),
    "image_variants": st.lists(st.sampled_from(["images/a.png", "../b.png", "/abs.png", "missing.png"]), max_size=2),
    "options": st.lists(st.text(max_size=5), max_size=5),
}
field_values = st.sampled_from(SAMPLE_FIELDS + ["unknown_field"]).flatmap(lambda key: st.tuples(st.just(key), plausible.get(key, json_values)))
records = st.builds(
    lambda changes, removed: {k: v for k, v in {**VALID_SAMPLE, **dict(changes)}.items() if k not in removed},
    st.lists(field_values, max_size=4),
    st.sets(st.sampled_from(SAMPLE_FIELDS), max_size=2),
)
lines = records.map(lambda r: json.dumps(r)) | json_values.map(json.dumps) | raw_text


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "images").mkdir()
        from PIL import Image

        Image.new("RGB", (8, 8)).save(root / "images" / "a.png")
        yield root


@fuzz_examples()
@given(st.lists(lines, min_size=1, max_size=5))
def test_read_samples(folder, content):
    path = folder / "samples.jsonl"
    path.write_text("\n".join(content) + "\n", encoding="utf-8", errors="surrogatepass")
    expect_only_our_errors(lambda: read_samples(path))


@fuzz_examples()
@given(st.binary(max_size=200))
def test_read_samples_bytes(folder, data):
    path = folder / "samples.jsonl"
    path.write_bytes(data)
    expect_only_our_errors(lambda: read_samples(path))


@fuzz_examples()
@given(config_documents, st.sampled_from(CONFIGS))
def test_build_config(folder, document, cls):
    path = folder / "config.yaml"
    path.write_text(document, encoding="utf-8", errors="surrogatepass")
    expect_only_our_errors(lambda: build_config(cls, path))


@fuzz_examples()
@given(request_documents)
def test_load_requests_and_resolve_them(folder, tiny_world, document):
    path = folder / "requests.yaml"
    path.write_text(document, encoding="utf-8", errors="surrogatepass")

    def load_and_resolve():
        requests = load_requests(path)
        describe_requests(tiny_world, requests)
        return make_splits(tiny_world, "personalized", requests=requests)

    expect_only_our_errors(load_and_resolve)


@fuzz_examples(0.6)
@given(st.data())
def test_load_world(tiny_world, tmp_path_factory, data):
    root = tmp_path_factory.getbasetemp() / "fuzz_world"
    if not root.exists():
        shutil.copytree(tiny_world.root, root)
    originals = {name: (tiny_world.root / name).read_text() for name in ("world.json", "subjects.json", "samples.jsonl")}
    for name, text in originals.items():
        (root / name).write_text(text)
    target = data.draw(st.sampled_from(["world.json", "subjects.json", "samples.jsonl", "raw"]))
    if target == "samples.jsonl":
        sample_lines = originals[target].splitlines()
        index = data.draw(st.integers(0, len(sample_lines) - 1))
        sample_lines[index] = json.dumps(mutate(json.loads(sample_lines[index]), data))
        (root / target).write_text("\n".join(sample_lines) + "\n")
    elif target == "raw":
        (root / "samples.jsonl").write_bytes(data.draw(st.binary(max_size=64)))
    else:
        mutated_json_file(root / target, originals[target], data)

    def load_and_split():
        world = load_world(root, verify_hash=data.draw(st.booleans()))
        return make_splits(world, data.draw(st.sampled_from(["complete", "selective", "personalized"])), forget_ratio=0.34)

    expect_only_our_errors(load_and_split)
