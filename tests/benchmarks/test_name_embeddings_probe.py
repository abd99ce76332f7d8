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
