"""Faults: long commands killed mid-run resume to the uninterrupted result; full or read-only disks
give one-line errors and leave earlier results intact.

The kill tests run the real ``asru`` command in subprocesses and send real signals: SIGTERM and
SIGINT must finish the step, checkpoint it and exit 143 / 130; SIGKILL gives no chance to clean
up, so the last periodic checkpoint must be complete. Re-running the same command then has to
end with exactly the weights and results of a run that was never interrupted.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from conftest import results_without_provenance  # tests/conftest.py
from safetensors.torch import load_file

# One thread per process: the same float summation order in every run (bit-identical weights),
# and no OpenMP spin-waiting when the 2 cores are shared (that made the tiny model ~40x slower).
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def start(args: list, log: Path) -> subprocess.Popen:
    """``asru ARGS`` in a subprocess, output to ``log``.out / ``log``.err (a pipe could fill and block it)."""
    out, err = open(f"{log}.out", "w"), open(f"{log}.err", "w")
    return subprocess.Popen([sys.executable, "-m", "asru", *map(str, args)], stdout=out, stderr=err, env=ENV)


def output(log: Path) -> tuple[str, str]:
    return Path(f"{log}.out").read_text(), Path(f"{log}.err").read_text()


def checkpoint_step(folder: Path) -> int:
    """The step of the complete checkpoint in ``folder`` (0 while there is none or it is being swapped)."""
    try:
        return json.loads((folder / "asru_step.json").read_text())["step"]
    except (OSError, ValueError, KeyError):
        return 0


def signal_after_checkpoint(process: subprocess.Popen, folder: Path, after_step: int, signum: int, log: Path) -> int:
    """Wait until ``folder`` holds a checkpoint past ``after_step``, send ``signum``, return the exit code."""
    deadline = time.monotonic() + 180
    while checkpoint_step(folder) <= after_step:
        if process.poll() is not None:
            pytest.fail(f"exited ({process.returncode}) before a checkpoint past step {after_step}: {output(log)}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no checkpoint past step {after_step} within 180 s: {output(log)}")
        time.sleep(0.02)
    process.send_signal(signum)
    return process.wait(timeout=120)


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = load_file(str(a)), load_file(str(b))
    assert left.keys() == right.keys()
    for name in left:
        assert torch.equal(left[name], right[name]), name


def assert_clean(folder: Path) -> None:
    """No checkpoint folders and no half-written temp files left behind."""
    leftovers = [p for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("checkpoint")]
    assert not leftovers, leftovers


UNLEARN_CONFIG = "method: grad_diff\nsteps: 32\nbatch_size: 4\ncheckpoint_every: 4\nforget_ratio: 0.34\n"
FINETUNE_CONFIG = (
    "model: {hidden_size: 64, intermediate_size: 128, num_layers: 2, num_heads: 2, num_kv_heads: 1, vision_hidden_size: 32, vision_layers: 1, vision_heads: 2}\n"
    "epochs: 2\ncheckpoint_every: 3\nface_pretrain_steps_per_person: 0\n"  # the interruptions are of the fine-tune's steps
)


def unlearn_command(world, model, config: Path, out: Path) -> list:
    return ["unlearn", "--model", model, "--world", world.root, "--out", out, "--config", config]


def finetune_command(world, config: Path, out: Path) -> list:
    return ["finetune", "--world", world.root, "--out", out, "--config", config]


@pytest.fixture(scope="module")
def references(tiny_world, tiny_model_dir, tmp_path_factory):
    """Both uninterrupted runs, started at once so that they run alongside the interrupted ones."""
    folder = tmp_path_factory.mktemp("references")
    (folder / "unlearn.yaml").write_text(UNLEARN_CONFIG)
    (folder / "recipe.yaml").write_text(FINETUNE_CONFIG)
    processes = {
        "unlearn": start(unlearn_command(tiny_world, tiny_model_dir, folder / "unlearn.yaml", folder / "unlearn"), folder / "unlearn"),
        "finetune": start(finetune_command(tiny_world, folder / "recipe.yaml", folder / "finetune"), folder / "finetune"),
    }

    def finished(name: str) -> Path:
        assert processes[name].wait(timeout=300) == 0, output(folder / name)
        return folder / name

    yield finished
    for process in processes.values():
        process.kill()
        process.wait()


def test_unlearn_resumes_after_sigterm_and_sigkill(references, tiny_world, tiny_model_dir, tmp_path):
    config = tmp_path / "unlearn.yaml"
    config.write_text(UNLEARN_CONFIG)

    def command(out: Path) -> list:
        return unlearn_command(tiny_world, tiny_model_dir, config, out)

    run = tmp_path / "run"

    # SIGTERM: the step in progress finishes, is checkpointed, and the command exits 143
    code = signal_after_checkpoint(start(command(run), tmp_path / "a"), run / "checkpoint", 0, signal.SIGTERM, tmp_path / "a")
    _, err = output(tmp_path / "a")
    assert code == 128 + signal.SIGTERM, err
    found = re.search(r"interrupted by SIGTERM after step (\d+)/32; checkpoint saved in .*run the same command again to resume", err)
    assert found and "Traceback" not in err, err
    stopped = int(found.group(1))
    assert checkpoint_step(run / "checkpoint") == stopped
    first_start = json.loads((run / "run_started.json").read_text())["date"]

    # SIGKILL: nothing runs on the way out; the last complete periodic checkpoint is the resume point
    process = start(command(run), tmp_path / "b")
    assert signal_after_checkpoint(process, run / "checkpoint", stopped, signal.SIGKILL, tmp_path / "b") == -signal.SIGKILL
    killed = checkpoint_step(run / "checkpoint") or checkpoint_step(run / "checkpoint.old")
    assert killed > stopped

    # the same command again finishes the run
    process = start(command(run), tmp_path / "c")
    assert process.wait(timeout=300) == 0, output(tmp_path / "c")
    out, _ = output(tmp_path / "c")
    assert re.search(rf"resuming grad_diff from step {killed}\b", out), out
    straight = references("unlearn")

    assert_same_weights(straight / "model" / "model.safetensors", run / "model" / "model.safetensors")
    assert results_without_provenance(run / "results.json") == results_without_provenance(straight / "results.json")
    assert json.loads((run / "train_log.json").read_text())["log"] == json.loads((straight / "train_log.json").read_text())["log"]
    assert (run / "answers.jsonl").read_text() == (straight / "answers.jsonl").read_text()
    assert [entry["date"] for entry in json.loads((run / "results.json").read_text())["chain"]] == [first_start]  # the first attempt's date
    assert_clean(run)


def test_finetune_resumes_after_sigkill_and_sigint(references, tiny_world, tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text(FINETUNE_CONFIG)

    def command(out: Path) -> list:
        return finetune_command(tiny_world, config, out)

    model = tmp_path / "model"

    process = start(command(model), tmp_path / "a")
    assert signal_after_checkpoint(process, model / "checkpoint", 0, signal.SIGKILL, tmp_path / "a") == -signal.SIGKILL
    killed = checkpoint_step(model / "checkpoint") or checkpoint_step(model / "checkpoint.old")
    assert killed > 0

    # SIGINT (Ctrl-C): like SIGTERM, a checkpoint at the finished step, exit 130
    code = signal_after_checkpoint(start(command(model), tmp_path / "b"), model / "checkpoint", killed, signal.SIGINT, tmp_path / "b")
    out, err = output(tmp_path / "b")
    assert code == 128 + signal.SIGINT, err
    assert f"resuming from step {killed}" in out
    found = re.search(r"interrupted by SIGINT after step (\d+)/\d+; checkpoint saved", err)
    assert found and "Traceback" not in err, err
    assert checkpoint_step(model / "checkpoint") == int(found.group(1))

    process = start(command(model), tmp_path / "c")
    assert process.wait(timeout=300) == 0, output(tmp_path / "c")
    straight = references("finetune")
    assert_same_weights(straight / "model.safetensors", model / "model.safetensors")
    assert_clean(model)


# --- full disk, read-only folder (in-process: the failure is simulated where the OS would raise it) ---


@pytest.fixture(scope="module")
def earlier_run(tiny_world, tiny_model_dir, tmp_path_factory):
    """A finished ``asru eval`` run folder: the earlier results that must survive."""
    from asru.pipeline import EvalConfig, evaluate_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("earlier") / "run"
    evaluate_model(tiny_model_dir, tiny_world.root, folder, EvalConfig(forget_ratio=0.34))
    torch.set_num_threads(threads)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_full_disk_is_one_line_and_keeps_earlier_results(earlier_run, tiny_world, tiny_model_dir, tmp_path, monkeypatch, cli):
    run = tmp_path / "run"
    shutil.copytree(earlier_run, run)
    before = snapshot(run)

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)  # where a full disk surfaces for our atomic writes
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--forget-ratio", "0.34")
    assert code == 2
    assert err.strip() == f"error: cannot write {run / 'results.json'}: No space left on device"
    assert snapshot(run) == before  # earlier results byte for byte, no temp files


def test_sigterm_during_evaluation_exits_143_and_keeps_earlier_results(earlier_run, tiny_world, tiny_model_dir, tmp_path, monkeypatch, cli):
    """Outside a training step SIGTERM unwinds like Ctrl-C: no half-written files, one line, exit 143."""
    import asru.pipeline

    run = tmp_path / "run"
    shutil.copytree(earlier_run, run)
    before = snapshot(run)
    real_evaluate = asru.pipeline.evaluate

    def terminated_midway(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(asru.pipeline, "evaluate", terminated_midway)
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--forget-ratio", "0.34")
    assert code == 128 + signal.SIGTERM
    assert err.strip() == "terminated by SIGTERM"
    assert snapshot(run) == before


@pytest.mark.parametrize("how", ["chmod", "simulated"])
def test_unwritable_run_folder_fails_before_any_work(how, earlier_run, tiny_world, tiny_model_dir, tmp_path, monkeypatch, cli):
    run = tmp_path / "run"
    shutil.copytree(earlier_run, run)
    before = snapshot(run)
    if how == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders; the 'simulated' case covers it")
        run.chmod(0o500)
    else:
        real_mkstemp = tempfile.mkstemp

        def denied(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).resolve().is_relative_to(run.resolve()):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", denied)

    def trained(*args, **kwargs):
        raise AssertionError("training started although the results could not be written")

    monkeypatch.setattr("asru.pipeline.train_unlearn", trained)  # refused before the long part, not after it
    try:
        code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", "ga", "--steps", "1", "--forget-ratio", "0.34")
    finally:
        run.chmod(0o755)
    assert code == 2
    assert err.strip() == f"error: cannot write to {run}: Permission denied"
    assert snapshot(run) == before


def test_full_disk_while_saving_a_model_keeps_the_earlier_model(tiny_model_dir, tmp_path, monkeypatch):
    from asru.errors import AsruError
    from asru.models import load_vlm, save_vlm

    model, processor = load_vlm(tiny_model_dir)
    target = tmp_path / "model"
    save_vlm(model, processor, target)
    before = snapshot(target)
    real_save = type(model).save_pretrained

    def fills_the_disk(self, folder, **kwargs):
        real_save(self, folder, **kwargs)
        (Path(folder) / "model.safetensors").write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(type(model), "save_pretrained", fills_the_disk)
    with pytest.raises(AsruError, match=rf"cannot write {re.escape(str(target))}: No space left on device"):
        save_vlm(model, processor, target)
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # the temporary folder is gone
