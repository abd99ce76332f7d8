"""--report-to: the training loops send the numbers of their JSON logs to accelerate's trackers.

TensorBoard is checked by reading its event files back; the rest (a missing package, a bad
value) must be one-line errors before any training.
"""

import json

import pytest

from asru.data.collate import Encoder
from asru.eval.settings import make_splits
from asru.models import TinyModelConfig, load_vlm
from asru.rl.grpo import GRPOConfig, grpo
from asru.train.finetune import FinetuneConfig, finetune, target_cache_key
from asru.train.unlearn import UnlearnConfig, unlearn
from conftest import assert_one_line_error  # tests/conftest.py

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in a TensorBoard run folder: tag -> [(step, value)]."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_same_as_log(logged: dict[str, list[tuple[int, float]]], log: list[dict]) -> None:
    """The tracker holds exactly the JSON log's number columns, step by step (float32 in the event file); text
    (GRPO's sampled completions) stays in the JSON log."""
    columns = {key for row in log for key, value in row.items() if isinstance(value, (int, float))} - {"step"}
    assert set(logged) == columns
    for key in columns:
        expected = [(row["step"], row[key]) for row in log]
        assert [step for step, _ in logged[key]] == [step for step, _ in expected], key
        assert [value for _, value in logged[key]] == pytest.approx([value for _, value in expected], rel=1e-6, abs=1e-6), key


def test_the_unlearning_trainer_logs_its_json_log_to_tensorboard(tiny_world, tiny_model_dir, tmp_path):
    model, processor = load_vlm(tiny_model_dir)
    config = UnlearnConfig(method="grad_diff", steps=3, batch_size=4, report_to="tensorboard")
    splits = make_splits(tiny_world, config.setting, forget_ratio=0.34)
    _, log = unlearn(model, processor, tiny_world, splits, config, tmp_path)
    written = json.loads((tmp_path / "train_log.json").read_text())["log"]
    assert written == log and len(log) == 3
    logged = scalars(tmp_path / "trackers" / "unlearn")
    assert {"loss", "forget_nll", "retain_nll"} <= set(logged)
    assert_same_as_log(logged, log)


def test_grpo_logs_its_json_log_to_tensorboard(tiny_world, tiny_model_dir, tmp_path):
    model, processor = load_vlm(tiny_model_dir)
    reference, _ = load_vlm(tiny_model_dir)
    items = [s for s in tiny_world.samples if s.kind == "fact" and s.form == "qa" and s.modality == "text"][:4]
    config = GRPOConfig(steps=2, prompts_per_step=2, group_size=2, max_new_tokens=4, report_to="tensorboard")
    rewards = [("length", lambda prompts, completions, **_: [len(c) / 10 for c in completions], 1.0)]
    log = grpo(model, reference, processor, Encoder(processor, tiny_world.root), items, [True, False] * 2, rewards, config, tmp_path)
    logged = scalars(tmp_path / "trackers" / "grpo")
    assert {"reward", "reward_length", "kl", "forget_refusal_rate"} <= set(logged)
    assert_same_as_log(logged, log)
    assert all(len(row["samples"]) == config.prompts_per_step and {"best", "worst"} <= set(row["samples"][0]) for row in log)


def test_finetune_logs_the_loss_and_keeps_the_cache_key(tiny_world, tmp_path):
    small = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)
    config = FinetuneConfig(model=small, epochs=1, batch_size=64, report_to="tensorboard", face_pretrain_steps_per_person=0)
    summary = finetune(tiny_world.root, tmp_path / "model", config)
    loss = scalars(tmp_path / "model" / "trackers" / "finetune")["loss"]
    assert [step for step, _ in loss] == list(range(1, summary["steps"] + 1))
    assert loss[-1][1] == pytest.approx(summary["final_loss"], rel=1e-6)
    # where the curves go is not part of the recipe: the cached target models stay valid
    assert target_cache_key("world", config) == target_cache_key("world", config.model_copy(update={"report_to": "none"}))
    assert "report_to" not in summary["recipe"]


def test_asru_unlearn_report_to_covers_both_stages(tiny_world, tiny_model_dir, tmp_path):
    """--report-to reaches ASRU's GRPO stage too (method_args.rl.report_to left at its default)."""
    from asru.pipeline import unlearn as run_unlearn

    fast = {"steps": 2, "batch_size": 4, "setting": "complete", "forget_ratio": 0.34, "report_to": "tensorboard",
            "method": "asru", "method_args": {"forget_items": 2, "retain_items": 2, "rl": {"steps": 2, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4}}}
    run = tmp_path / "run"
    run_unlearn(tiny_model_dir, tiny_world.root, run, UnlearnConfig.model_validate(fast), eval_splits=["forget"], eval_max_per_split=2)
    assert_same_as_log(scalars(run / "trackers" / "unlearn"), json.loads((run / "train_log.json").read_text())["log"])
    assert_same_as_log(scalars(run / "trackers" / "grpo"), json.loads((run / "training_rl.json").read_text())["log"])


def test_report_to_none_writes_no_tracker_files(tiny_world, tiny_model_dir, tmp_path):
    model, processor = load_vlm(tiny_model_dir)
    config = UnlearnConfig(method="ga", steps=1, batch_size=2)
    unlearn(model, processor, tiny_world, make_splits(tiny_world, "complete", forget_ratio=0.34), config, tmp_path)
    assert (tmp_path / "train_log.json").is_file() and not (tmp_path / "trackers").exists()


def test_a_missing_tracker_package_is_one_line_naming_the_install(cli, tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "is_wandb_available", lambda: False)
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--report-to", "wandb")
    assert_one_line_error(code, err, "--report-to wandb", "pip install wandb")
    assert not (tmp_path / "run").exists()  # refused before any work


def test_an_unknown_tracker_is_one_line(cli, tiny_world, tmp_path):
    code, _, err = cli("finetune", "--world", tiny_world.root, "--out", tmp_path / "model", "--report-to", "mlflow")
    assert_one_line_error(code, err, "report_to", "tensorboard")


def test_trackio_gets_the_same_rows_offline(tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    """trackio (optional: `pip install 'asru[track]'`) stores runs in a local SQLite file; nothing leaves the machine."""
    import sys

    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))  # read when trackio is first imported
    if "trackio" in sys.modules:
        pytest.skip("trackio was imported earlier in this process with another TRACKIO_DIR")
    pytest.importorskip("trackio")
    from trackio.sqlite_storage import SQLiteStorage

    model, processor = load_vlm(tiny_model_dir)
    config = UnlearnConfig(method="grad_diff", steps=2, batch_size=4, report_to="trackio")
    _, log = unlearn(model, processor, tiny_world, make_splits(tiny_world, "complete", forget_ratio=0.34), config, tmp_path / "run")
    rows = SQLiteStorage.get_logs(project="unlearn", run="run")
    assert [row["step"] for row in rows] == [row["step"] for row in log]
    for stored, row in zip(rows, log):
        assert {key: stored[key] for key in row} == pytest.approx(row)
