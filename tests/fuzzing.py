"""Strategies and checks shared by the fuzz tests (loaders, run folders, model folders, the CLI).

Every fuzz test asserts the same promise: whatever it is given, a loader returns or raises one of
asru's error types in one line (the CLI's exit 2), never a raw exception from deep inside.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import strategies as st

from asru.errors import AsruError
from asru.eval.audit import AuditConfig
from asru.pipeline import EvalConfig
from asru.train.finetune import FinetuneConfig
from asru.train.unlearn import UnlearnConfig
from asru.world import WorldConfig

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
raw_text = st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1"))

# YAML documents for every config (--config FILE): typed fields with any values, non-mappings, bad syntax, Python tags
CONFIGS = [UnlearnConfig, EvalConfig, FinetuneConfig, WorldConfig, AuditConfig]
config_keys = st.sampled_from(sorted({key for cls in CONFIGS for key in cls.model_fields}) + ["stepz", "model.hidden_size"])
config_documents = (
    st.dictionaries(config_keys, json_values, max_size=5).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    | json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True))
    | raw_text
    | st.sampled_from(["a: &x [1]\nb: *x\n", "!!python/object/apply:os.system ['true']\n", "steps: [1\n", "{"])
)

# deletion-request documents (--requests FILE): plausible and implausible subjects and facts, and config-like junk
request_records = st.fixed_dictionaries(
    {},
    optional={
        "subject": st.sampled_from(["s000", "s001", "S000", "nobody", ""]) | json_values,
        "facts": st.sampled_from(["all", "none"]) | st.lists(st.sampled_from([0, 1, 8, 99, -1, "job", "identity", "shoe_size", True]), max_size=3) | json_values,
        "extra": json_values,
    },
)
request_documents = st.lists(request_records, max_size=3).map(yaml.safe_dump) | request_records.map(yaml.safe_dump) | config_documents


def expect_only_our_errors(call):
    """Run ``call``; our errors are the expected outcome of bad input, anything else fails the test."""
    try:
        return call()
    except AsruError as error:
        assert str(error) and "\n" not in str(error).strip(), repr(error)  # one line
        return None


def mutated_json_file(path: Path, original: str, data) -> None:
    """Write ``original`` (a JSON document) into ``path`` with one place mutated, or raw bytes instead."""
    if data.draw(st.integers(0, 9)) == 0:
        path.write_bytes(data.draw(st.binary(max_size=64)))
    else:
        path.write_text(json.dumps(mutate(json.loads(original), data)))


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
