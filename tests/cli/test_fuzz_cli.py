"""Fuzz the CLI's file options: whatever file a user points a command at, the answer is one line and exit 2.

Each example damages one input of one command — ``--config``, ``--requests``, ``--world``,
``--model``, the run folder of ``asru report`` / ``asru audit`` — and runs the real entry point
in-process. Where every input checks out, the command would go on to train or evaluate for
seconds to minutes; that part is replaced by raising :class:`InputsAccepted` at the point each
command has finished checking its inputs (before it writes anything), which is all this test is
about. Any other outcome than "accepted" or "one-line error, exit 2" fails.
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import fuzz_examples, run_cli  # tests/conftest.py
from fuzzing import config_documents, json_values, mutate, mutated_json_file, request_documents  # tests/fuzzing.py
from hypothesis import given
from hypothesis import strategies as st


class InputsAccepted(BaseException):
    """Raised where a command starts its real work: every input was accepted."""


def _accept(*args, **kwargs):
    raise InputsAccepted


@pytest.fixture(scope="module")
def eval_run(tiny_world, tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli_fuzz_run") / "eval"
    code, _, err = run_cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", out, "--setting", "selective")
    assert code == 0, err
    return out


@pytest.fixture
def no_heavy_work(monkeypatch):
    """Training, evaluation and auditing stop right after their inputs are checked."""
    monkeypatch.setattr("asru.pipeline.check_writable", _accept)  # asru unlearn / asru eval
    monkeypatch.setattr("asru.train.finetune.check_writable", _accept)  # asru finetune
    monkeypatch.setattr("asru.eval.audit.evaluate", _accept)  # asru audit


def _damage_world(source, folder, data) -> None:
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("images"))
    (folder / "images").symlink_to(source / "images")  # images are fuzzed elsewhere; sharing them keeps examples fast
    name = data.draw(st.sampled_from(["world.json", "subjects.json", "samples.jsonl"]))
    original = (source / name).read_text()
    if name == "samples.jsonl":
        lines = original.splitlines()
        index = data.draw(st.integers(0, len(lines) - 1))
        lines[index] = json.dumps(mutate(json.loads(lines[index]), data))
        (folder / name).write_text("\n".join(lines) + "\n")
    else:
        mutated_json_file(folder / name, original, data)


def _damage_model(source, folder, data) -> None:
    shutil.copytree(source, folder)
    config = json.loads((source / "config.json").read_text())
    key = data.draw(st.sampled_from(["model_type", "architectures", "dtype", "(whole)"]))
    (folder / "config.json").write_text(json.dumps(data.draw(json_values) if key == "(whole)" else {**config, key: data.draw(json_values)}))


@fuzz_examples(0.3)
@given(st.data())
def test_file_options(no_heavy_work, tiny_world, tiny_model_dir, eval_run, tmp_path_factory, data):
    work = tmp_path_factory.mktemp("cli_fuzz")
    world, model = tiny_world.root, tiny_model_dir
    command = data.draw(st.sampled_from(["unlearn", "eval", "finetune", "audit", "report"]))
    extra: list = []
    if command in ("audit", "report"):
        run = work / "run"
        shutil.copytree(eval_run, run)
        mutated_json_file(run / "results.json", (eval_run / "results.json").read_text(), data)
        args = [command, run] + (["--out", work / "comparison"] if command == "report" else [])
    else:
        damaged = data.draw(st.sampled_from(["config", "requests", "world", "model"] if command != "finetune" else ["config", "world"]))
        if damaged == "config":
            (work / "config.yaml").write_text(data.draw(config_documents), encoding="utf-8", errors="surrogatepass")
            extra = ["--config", work / "config.yaml"]
        elif damaged == "requests":
            (work / "requests.yaml").write_text(data.draw(request_documents), encoding="utf-8", errors="surrogatepass")
            extra = ["--requests", work / "requests.yaml", "--setting", "personalized"]
        elif damaged == "world":
            world = work / "world"
            _damage_world(tiny_world.root, world, data)
        else:
            model = work / "model"
            _damage_model(tiny_model_dir, model, data)
        args = {
            "unlearn": ["unlearn", "--model", model, "--world", world, "--out", work / "out"],
            "eval": ["eval", model, "--world", world, "--out", work / "out"],
            "finetune": ["finetune", "--world", world, "--out", work / "out"],
        }[command] + extra
    try:
        code, _, err = run_cli(*args)
    except InputsAccepted:
        return
    assert code == 0 or (code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1), (args, code, err)


def test_the_fuzz_reaches_the_accepting_end(no_heavy_work, tiny_world, tiny_model_dir, tmp_path):
    """Undamaged inputs get past every check (so the fuzz above also explores the accepted side)."""
    for args in (
        ["unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "u"],
        ["eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "e"],
        ["finetune", "--world", tiny_world.root, "--out", tmp_path / "f"],
    ):
        with pytest.raises(InputsAccepted):
            run_cli(*args)
