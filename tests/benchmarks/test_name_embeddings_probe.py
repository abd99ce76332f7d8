"""benchmarks/name_embeddings_probe.py: the probe runs per layer before and after the forget-only name rows are reset."""

import torch
from conftest import benchmark_script  # tests/conftest.py


def test_only_the_forget_names_own_rows_are_reset_and_every_layer_is_probed(tiny_world, tiny_model_dir, monkeypatch):
    from asru.eval import probe
    from asru.eval.oracle import _questions
    from asru.pipeline import setting_splits

    module = benchmark_script("name_embeddings_probe")
    _, splits = setting_splits(tiny_world, "complete", 0.2, 0, None)
    _, _, train, test = _questions(splits)
    forget_names = {s.subject_name for s in splits["forget"] if s.subject_name}
    other_names = {s.subject_name for s in tiny_world.samples if s.subject_name} - forget_names
    seen = []  # the embedding matrix at each probe call

    def recorded(model, encoder, train, test, layers, batch_size=64):
        seen.append(model.get_input_embeddings().weight.detach().clone())
        return {"recovery": [0.5] * len(layers)}

    monkeypatch.setattr(probe, "probe_recovery", recorded)
    row = module.recoveries(tiny_model_dir, tiny_world, train, test, forget_names, other_names)
    assert len(seen) == 2 and row["forget_only_tokens"] > 0
    assert len(row["recovery"]) == len(row["layers"]) == len(row["recovery_names_reset"])
    changed = (seen[0] != seen[1]).any(dim=1).nonzero().flatten().tolist()
    assert 0 < len(changed) <= row["forget_only_tokens"]  # only the forget-only rows moved, each to one shared row
    assert all(torch.equal(seen[1][changed[0]], seen[1][i]) for i in changed)


def test_evaluate_resets_the_rows_and_evaluates_as_the_run_was(tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    """--evaluate: the run's model with the forget-only rows reset, evaluated with the run's own setting, request, seed,
    attacks and split cap (its bench_run.json), readings of both folders side by side."""
    import json
    import shutil

    from asru import pipeline

    module = benchmark_script("name_embeddings_probe")
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "model")
    unlearn_config = {"setting": "selective", "forget_ratio": 0.2, "requests_file": None, "seed": 3, "judge": "rules"}
    record = {"row": "asru", "unlearn_config": unlearn_config, "attacks": ["paraphrase"], "eval": {"splits": ["forget"], "max_per_split": 7}}
    (run / "bench_run.json").write_text(json.dumps(record))
    readings = {"metrics": {"forget": {"all": {"leakage_known": 0.0}, "judge": {"labels": {"refusal_contextual": 1.0}, "naturalness": 5.0}}},
                "linear_probe": {"gap": 0.2}, "forget_quality": {}, "membership": {}, "answer_ranking": {}, "target": {"model": "the-target"}}
    (run / "results.json").write_text(json.dumps(readings))
    seen = {}

    def evaluated(model_path, world_dir, out, config, **kwargs):
        seen.update(config=config, kwargs=kwargs, rows=kwargs["model"].get_input_embeddings().weight.detach().clone())
        out.mkdir(parents=True)
        (out / "results.json").write_text(json.dumps(readings))

    monkeypatch.setattr(pipeline, "evaluate_model", evaluated)
    names = sorted({s.subject_name for s in tiny_world.samples if s.subject_name})
    result = module.reset_run_evaluated(run, tmp_path / "out", tiny_world.root, {names[0]}, set(names[1:]))
    config = seen["config"]
    assert (config.setting, config.forget_ratio, config.seed, config.attacks, config.splits, config.max_per_split) == ("selective", 0.2, 3, ["paraphrase"], ["forget"], 7)
    assert seen["kwargs"]["target_model"] == "the-target" and result["tokens"]
    from asru.models.loading import load_vlm

    original = load_vlm(tiny_model_dir)[0].get_input_embeddings().weight
    assert 0 < (seen["rows"] != original).any(dim=1).sum() <= len(result["tokens"])
    assert result["run"]["naturalness"] == result["names_reset"]["naturalness"] == 5.0
