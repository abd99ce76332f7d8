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
