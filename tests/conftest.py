"""Shared fixtures (tiny worlds and tiny models built once per test session) and in-process CLI runs."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from asru.config import ARCHITECTURES

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on the 2 cores (pytest-xdist): one thread each, and for the
    # `asru` subprocesses they start, or the OpenMP threads of both spin against each other
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
# The suite's worlds, targets, oracles and cached target answers go to a cache of its own, removed at
# the end: a test never reads what a developer's real runs cached, nor leaves files in ~/.cache/asru.
_TEST_CACHE = tempfile.mkdtemp(prefix="asru-test-cache-")
os.environ["ASRU_CACHE"] = _TEST_CACHE
atexit.register(shutil.rmtree, _TEST_CACHE, True)

# Hypothesis profiles. `make test` (and CI) use "default": derandomized, so every machine runs the
# same examples and whether the suite passes never depends on luck, and no example database, so
# nothing a developer's earlier run found changes what CI runs. `make fuzz` uses "fuzz": random
# examples, many more of them (ASRU_FUZZ_EXAMPLES per test), and a database under .hypothesis/ so
# that whatever it finds is replayed first next time, until it is fixed and turned into a test.
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("default", derandomize=True, database=None, deadline=None, max_examples=100, suppress_health_check=_QUIET, print_blob=True)
settings.register_profile(
    "fuzz", derandomize=False, database=DirectoryBasedExampleDatabase(".hypothesis/examples"), deadline=None,
    max_examples=int(os.environ.get("ASRU_FUZZ_EXAMPLES", "2000")), suppress_health_check=_QUIET, print_blob=True,
)
settings.load_profile("default")  # `--hypothesis-profile fuzz` (make fuzz) replaces it before the tests are collected


def fuzz_examples(share: float = 1.0) -> settings:
    """``@fuzz_examples(0.5)``: this test's number of examples as a share of the profile's (slow tests ask fewer)."""
    return settings(max_examples=max(5, int(settings.default.max_examples * share)))

TINY_TEXTS = [
    "Where was Talia Vorne born? Lisbon",
    "Who is the person in this image? Talia Vorne",
    "What colour is the shape? red",
] * 5


def run_cli(*args) -> tuple[int, str, str]:
    """``asru ARGS`` in-process through the real entry point: (exit code, stdout, stderr).

    In-process for speed and for tests that patch the process; usable from module-scoped fixtures
    (no capsys). The rich consoles write to sys.stdout / sys.stderr, which are redirected here.
    """
    import torch

    from asru.cli import main

    argv, sigterm, threads = sys.argv, signal.getsignal(signal.SIGTERM), torch.get_num_threads()
    sys.argv = ["asru", *map(str, args)]
    torch.set_num_threads(1)  # 2 shared cores: one thread avoids OpenMP spin-waiting
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code or 0
    finally:
        sys.argv = argv
        signal.signal(signal.SIGTERM, sigterm)  # main() installs its own SIGTERM handler
        torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue()


def benchmark_script(name: str):
    """``benchmarks/NAME.py`` imported as a module (the scripts are not a package; loaded by path, so none shadows one)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"benchmark_{name}"] = module  # dataclasses look their module up while the script is executed
    spec.loader.exec_module(module)
    return module


def results_without_provenance(results_file: Path) -> dict:
    """results.json without what tells two runs apart rather than what they computed: wall-clock
    ``timing``, and each chain entry's start date and run folder."""
    import json

    results = json.loads(Path(results_file).read_text())
    assert results.pop("timing")
    for entry in results.get("chain", []):
        entry.pop("date"), entry.pop("run")
    return results


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit code 2, one line on stderr naming what is wrong, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.fixture
def cli():
    """``cli(*args) -> (exit code, stdout, stderr)``: :func:`run_cli` as a fixture."""
    return run_cli


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


FAMILIES = ARCHITECTURES  # every tiny VLM family: each equivalence test runs on all of them
SMALL_SHAPE = dict(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)


def small_model(world, architecture: str = "qwen3_vl"):
    """A fresh, untrained small VLM of ``architecture`` for ``world`` (mechanics, not accuracy)."""
    from asru.models import TinyModelConfig, build_tiny
    from asru.train.finetune import tokenizer_corpus

    return build_tiny(tokenizer_corpus(world.samples), TinyModelConfig(architecture=architecture, **SMALL_SHAPE))


@pytest.fixture(params=FAMILIES)
def family_model(request, tiny_world):
    """``(model, processor)``: a fresh small VLM of each family in turn, for the tiny world."""
    return small_model(tiny_world, request.param)


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_world, tmp_path_factory):
    """An untrained tiny Qwen3-VL for the tiny world, saved once (mechanics, not accuracy)."""
    from asru.models import save_vlm

    model, processor = small_model(tiny_world)
    folder = tmp_path_factory.mktemp("tiny_model")
    save_vlm(model, processor, folder)
    return folder
