"""Fuzz: model folders whose config.json was edited or replaced.

``load_vlm`` reads config.json itself before transformers does (the architecture key); whatever
is there, loading either works or fails with one ModelError line. Mutations stay away from the
size fields: a valid config of a bigger architecture is a real (and huge) model, not bad input.
"""

from __future__ import annotations

import json
import shutil

from conftest import fuzz_examples  # tests/conftest.py
from fuzzing import expect_only_our_errors, json_values  # tests/fuzzing.py
from hypothesis import given
from hypothesis import strategies as st

from asru.models.loading import load_vlm

# top-level keys whose values transformers or asru read without allocating anything by them
SAFE_KEYS = ["model_type", "architectures", "dtype", "torch_dtype", "transformers_version", "image_token_id", "tie_word_embeddings"]


@fuzz_examples(0.2)
@given(st.data())
def test_load_vlm_on_edited_config(tiny_model_dir, tmp_path_factory, data):
    folder = tmp_path_factory.getbasetemp() / "fuzz_model"
    if not folder.exists():
        shutil.copytree(tiny_model_dir, folder)
    original = json.loads((tiny_model_dir / "config.json").read_text())
    how = data.draw(st.sampled_from(["key", "whole", "raw"]))
    if how == "key":
        key = data.draw(st.sampled_from(SAFE_KEYS))
        edited = dict(original)
        if data.draw(st.booleans()):
            edited.pop(key, None)
        else:
            edited[key] = data.draw(json_values)
        (folder / "config.json").write_text(json.dumps(edited))
    elif how == "whole":
        (folder / "config.json").write_text(json.dumps(data.draw(json_values)))
    else:
        (folder / "config.json").write_bytes(data.draw(st.binary(max_size=64)))
    expect_only_our_errors(lambda: load_vlm(folder))
