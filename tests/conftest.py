"""Shared fixtures: tiny worlds and tiny models built once per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_TEXTS = [
    "Where was Talia Vorne born? Lisbon",
    "Who is the person in this image? Talia Vorne",
    "What colour is the shape? red",
] * 5


@pytest.fixture(scope="session")
def tiny_corpus() -> list[str]:
    return TINY_TEXTS


@pytest.fixture(scope="session")
def red_image(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    Image.new("RGB", (64, 64), (200, 10, 10)).save(folder / "red.png")
    return folder


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """A 6-person world: every code path, seconds to build."""
    from asru.world import WorldConfig, build_world, load_world

    folder = tmp_path_factory.mktemp("world")
    build_world(WorldConfig(subjects=6, utility_questions=12, unknown_people=4), folder)
    return load_world(folder)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_world, tmp_path_factory):
    """An untrained tiny Qwen3-VL for the tiny world, saved once (mechanics, not accuracy)."""
    from asru.models import TinyModelConfig, build_tiny, save_vlm
    from asru.train.finetune import tokenizer_corpus

    model, processor = build_tiny(tokenizer_corpus(tiny_world.samples), TinyModelConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2))
    folder = tmp_path_factory.mktemp("tiny_model")
    save_vlm(model, processor, folder)
    return folder
