"""Checkpoints: an interrupted swap or a full disk never loses the last complete checkpoint;
SIGINT/SIGTERM become a stop after the current step, a second signal stops at once."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest

from asru.errors import AsruError, Interrupted
from asru.train.checkpoint import STEP_FILE, find_checkpoint, load_checkpoint, save_checkpoint, stop_on_signals


class FakeAccelerator:
    """What save_checkpoint needs of accelerate: save_state writes a few files (or fails like a full disk)."""

    is_main_process = True
    num_processes = 1

    def __init__(self, fail: bool = False):
        self.fail = fail

    def wait_for_everyone(self) -> None:
        pass

    def save_state(self, folder: str, safe_serialization: bool = True) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_bytes(b"weights")
        if self.fail:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        (Path(folder) / "optimizer.bin").write_bytes(b"state")


def test_interrupted_swap_falls_back_to_the_previous_checkpoint(tmp_path):
    folder = tmp_path / "checkpoint"
    save_checkpoint(FakeAccelerator(), folder, 4)
    save_checkpoint(FakeAccelerator(), folder, 8)
    assert json.loads((folder / STEP_FILE).read_text())["step"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]
    # killed between "checkpoint -> checkpoint.old" and "checkpoint.tmp -> checkpoint"
    folder.rename(tmp_path / "checkpoint.old")
    (tmp_path / "checkpoint.tmp").mkdir()
    assert find_checkpoint(folder) == tmp_path / "checkpoint.old"
    # killed while writing checkpoint.tmp: the half-written folder is never used, and the next save replaces it
    save_checkpoint(FakeAccelerator(), folder, 12)
    assert find_checkpoint(folder) == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_full_disk_keeps_the_previous_checkpoint(tmp_path):
    folder = tmp_path / "checkpoint"
    save_checkpoint(FakeAccelerator(), folder, 4)
    with pytest.raises(AsruError, match=r"cannot write checkpoint .*checkpoint: No space left on device \(the previous checkpoint is kept\)"):
        save_checkpoint(FakeAccelerator(fail=True), folder, 8)
    assert json.loads((folder / STEP_FILE).read_text())["step"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_signals_stop_after_the_step_with_a_checkpoint(tmp_path):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    folder = tmp_path / "checkpoint"
    with stop_on_signals() as stop:
        stop.stop_here(FakeAccelerator(), folder, 1, 10)  # no signal: carries on
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-step: only recorded
        assert stop
        with pytest.raises(Interrupted, match="interrupted by SIGTERM after step 2/10; checkpoint saved in .*run the same command again") as info:
            stop.stop_here(FakeAccelerator(), folder, 2, 10, {"log": [1, 2]})
    assert info.value.signum == signal.SIGTERM
    assert json.loads((folder / STEP_FILE).read_text()) == {"step": 2, "log": [1, 2]}
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # handlers restored


def test_a_second_signal_stops_at_once():
    with stop_on_signals():
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(Interrupted, match="SIGINT again: stopped at once"):
            os.kill(os.getpid(), signal.SIGINT)


class Payload:
    """What a tampered checkpoint could carry: unpickling it would create ``path``."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_resume_restores_rng_and_unpickles_no_code(tmp_path):
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(2, 2)
    model, optimizer = accelerator.prepare(model, torch.optim.AdamW(model.parameters()))
    folder = tmp_path / "checkpoint"
    save_checkpoint(accelerator, folder, 3)
    expected = torch.rand(3)
    assert load_checkpoint(accelerator, folder)["step"] == 3
    assert torch.equal(torch.rand(3), expected)  # the RNG state came back: sampling resumes exactly

    marker = tmp_path / "code-ran"
    torch.save({"state": Payload(marker)}, folder / "optimizer.bin")
    with pytest.raises(AsruError, match=r"cannot resume from this checkpoint .*delete it to start the run over"):
        load_checkpoint(accelerator, folder)
    assert not marker.exists()
