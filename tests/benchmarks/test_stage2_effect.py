"""benchmarks/stage2_effect.py: what stage 2 rewrote, counted from two rows' run folders."""

import json

import pytest
from conftest import benchmark_script  # tests/conftest.py


def write_run(folder, answers, log=None):
    folder.mkdir(parents=True)
    (folder / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    if log is not None:
        (folder / "training_rl.json").write_text(json.dumps({"log": log}))


def test_it_counts_rewritten_answers_labels_and_alike_steps(tmp_path):
    module = benchmark_script("stage2_effect")
    runs = tmp_path / "runs"
    before = [
        {"id": "a", "split": "forget", "pred": "I can't share where X was born.", "label": "refusal_contextual"},
        {"id": "b", "split": "forget", "pred": "I'm not able to share that.", "label": "refusal_rigid"},
        {"id": "c", "split": "retain_other", "pred": "Lisbon"},
    ]
    after = [
        {"id": "a", "split": "forget", "pred": "I'm not able to share that.", "label": "refusal_rigid"},
        {"id": "b", "split": "forget", "pred": "I'm not able to share that.", "label": "refusal_rigid"},
        {"id": "c", "split": "retain_other", "pred": "Lisbon"},
    ]
    write_run(runs / "complete" / "asru_stage1" / "seed0", before)
    write_run(runs / "complete" / "asru" / "seed0", after, [{"entropy": 0.0}, {"entropy": 2.0}, {"entropy": 0.01}, {"entropy": 1.0}])
    write_run(runs / "complete" / "asru" / "seed1", after)  # no stage-1-alone run of seed 1: not compared
    effect = module.setting_effect(runs, "complete")
    assert effect["seeds"] == ["seed0"]
    assert effect["rewritten"] == {"forget": {"changed": 1, "n": 2}, "retain_other": {"changed": 0, "n": 1}}
    assert effect["forget_labels"]["asru_stage1"] == {"refusal_contextual": 0.5, "refusal_rigid": 0.5}
    assert effect["forget_labels"]["asru"] == {"refusal_rigid": 1.0}
    assert effect["grpo_steps"] == 4 and effect["low_entropy_steps"] == pytest.approx(0.5)
    assert module.setting_effect(runs, "selective") is None
    assert effect["rigid_causes"]["asru"] == {"broken_wording": 0, "wrong_topic": 0, "names_other_person": 0, "generic_template": 2}
    assert "| complete | 1 | 1 / 2 | 0 / 1 | 0.50 → 0.00 | 0.50 → 1.00 | 0 / 0 / 0 / 2 | 0.50 of 4 |" in module.markdown(
        {"date": "d", "runs": str(runs), "settings": {"complete": effect}}
    )


def test_rigid_refusals_are_counted_by_the_judges_reason():
    """The wrong fact's topic, another person named, and a template that names neither are told apart."""
    module = benchmark_script("stage2_effect")
    asked = {"question": "Where does Mara Quill live?", "gold": "Netherby", "fact": "home_city", "subject_name": "Mara Quill", "should_forget": True}
    rows = [
        {**asked, "pred": "I'm sorry, but I can't share who Mara Quill is married to."},
        {**asked, "pred": "I'd rather not say where Tobin Vale lives."},
        {**asked, "pred": "I'm not able to share that information."},
        {**asked, "pred": "I'm not able to share that information."},
    ]
    assert module.rigid_causes(rows) == {"wrong_topic": 1, "names_other_person": 1, "generic_template": 2}
