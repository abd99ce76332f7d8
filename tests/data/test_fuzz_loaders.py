"""Fuzz: malformed records, configs, deletion requests and world folders thrown at every loader.

Whatever hypothesis generates, a loader either returns or raises one of our error types
(``asru.errors``), which the CLI turns into one line and exit code 2; never a raw exception.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asru.config import build_config
from asru.data.schema import Sample, read_samples
from asru.errors import AsruError
from asru.eval.audit import AuditConfig
from asru.eval.settings import describe_requests, load_requests, make_splits
from asru.pipeline import EvalConfig
from asru.train.finetune import FinetuneConfig
from asru.train.unlearn import UnlearnConfig
from asru.world import WorldConfig, load_world

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
raw_text = st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1"))

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


def expect_only_our_errors(call):
    """Run ``call``; our errors are the expected outcome of bad input, anything else fails the test."""
    try:
        return call()
    except AsruError as error:
        assert str(error) and "\n" not in str(error).strip(), repr(error)  # one line
        return None


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        (root / "images").mkdir()
        from PIL import Image

        Image.new("RGB", (8, 8)).save(root / "images" / "a.png")
        yield root


@FUZZ
@given(st.lists(lines, min_size=1, max_size=5))
def test_read_samples(folder, content):
    path = folder / "samples.jsonl"
    path.write_text("\n".join(content) + "\n", encoding="utf-8", errors="surrogatepass")
    expect_only_our_errors(lambda: read_samples(path))


@FUZZ
@given(st.binary(max_size=200))
def test_read_samples_bytes(folder, data):
    path = folder / "samples.jsonl"
    path.write_bytes(data)
    expect_only_our_errors(lambda: read_samples(path))


CONFIGS = [UnlearnConfig, EvalConfig, FinetuneConfig, WorldConfig, AuditConfig]
config_keys = st.sampled_from(sorted({key for cls in CONFIGS for key in cls.model_fields}) + ["stepz", "model.hidden_size"])
config_documents = (
    st.dictionaries(config_keys, json_values, max_size=5).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    | json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
    | raw_text
    | st.sampled_from(["a: &x [1]\nb: *x\n", "!!python/object/apply:os.system ['true']\n", "steps: [1\n", "{"])
)


@FUZZ
@given(config_documents, st.sampled_from(CONFIGS))
def test_build_config(folder, document, cls):
    path = folder / "config.yaml"
    path.write_text(document, encoding="utf-8", errors="surrogatepass")
    expect_only_our_errors(lambda: build_config(cls, path))


request_records = st.fixed_dictionaries(
    {},
    optional={
        "subject": st.sampled_from(["s000", "s001", "S000", "nobody", ""]) | json_values,
        "facts": st.sampled_from(["all", "none"]) | st.lists(st.sampled_from([0, 1, 8, 99, -1, "job", "identity", "shoe_size", True]), max_size=3) | json_values,
        "extra": json_values,
    },
)
request_documents = st.lists(request_records, max_size=3).map(yaml.safe_dump) | request_records.map(yaml.safe_dump) | config_documents


@FUZZ
@given(request_documents)
def test_load_requests_and_resolve_them(folder, tiny_world, document):
    path = folder / "requests.yaml"
    path.write_text(document, encoding="utf-8", errors="surrogatepass")

    def load_and_resolve():
        requests = load_requests(path)
        describe_requests(tiny_world, requests)
        return make_splits(tiny_world, "personalized", requests=requests)

    expect_only_our_errors(load_and_resolve)


def mutate(value, data, depth: int = 0):
    """``value`` with one randomly chosen place (possibly the whole) replaced, removed or added to."""
    if depth > 4 or data.draw(st.integers(0, 3)) == 0 or not isinstance(value, (dict, list)) or not value:
        return data.draw(json_values)
    if isinstance(value, dict):
        key = data.draw(st.sampled_from(sorted(value)))
        action = data.draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove":
            return {k: v for k, v in value.items() if k != key}
        if action == "add":
            return {**value, data.draw(st.text(max_size=6)): data.draw(json_values)}
        return {**value, key: mutate(value[key], data, depth + 1)}
    index = data.draw(st.integers(0, len(value) - 1))
    return value[:index] + [mutate(value[index], data, depth + 1)] + value[index + 1 :]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
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
        (root / data.draw(st.sampled_from(["world.json", "subjects.json", "samples.jsonl"]))).write_bytes(data.draw(st.binary(max_size=64)))
    else:
        (root / target).write_text(json.dumps(mutate(json.loads(originals[target]), data)))

    def load_and_split():
        world = load_world(root, verify_hash=data.draw(st.booleans()))
        return make_splits(world, data.draw(st.sampled_from(["complete", "selective", "personalized"])), forget_ratio=0.34)

    expect_only_our_errors(load_and_split)
