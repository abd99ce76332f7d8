"""A few GRPO steps raise the mean reward on a toy task (short answers are rewarded)."""

import torch

from asru.data.collate import Encoder
from asru.models import load_vlm
from asru.rl.grpo import GRPOConfig, grpo


def test_grpo_raises_the_reward_on_a_toy_task(tiny_world, tiny_model_dir):
    model, processor = load_vlm(tiny_model_dir)
    reference, _ = load_vlm(tiny_model_dir)
    items = [s for s in tiny_world.samples if s.kind == "fact" and s.form == "qa" and s.modality == "text"][:8]

    def brevity(prompts, completions, **_):
        return [-len(c) / 40 for c in completions]

    config = GRPOConfig(steps=24, prompts_per_step=2, group_size=6, max_new_tokens=8, learning_rate=3e-3, temperature=1.0, top_p=1.0, kl_coef=0.0)
    torch.manual_seed(0)
    log = grpo(model, reference, processor, Encoder(processor, tiny_world.root), items, [False] * len(items), [("brevity", brevity, 1.0)], config)
    first = sum(row["reward"] for row in log[:6]) / 6
    last = sum(row["reward"] for row in log[-6:]) / 6
    assert last > first + 0.05, (first, last)
    assert all(row["kl"] >= 0 for row in log)


def test_dropping_flat_groups_stops_adam_moving_the_model_on_steps_with_no_advantage(tiny_world, tiny_model_dir):
    """Rewards that differ only at step 1: with drop_flat_groups the later steps leave the model as step 1 left it;
    without, Adam's momentum and the KL term keep moving it."""
    items = [s for s in tiny_world.samples if s.kind == "fact" and s.form == "qa" and s.modality == "text"][:4]

    def run(steps: int, drop: bool) -> dict[str, torch.Tensor]:
        model, processor = load_vlm(tiny_model_dir)
        reference, _ = load_vlm(tiny_model_dir)
        calls = []

        def first_step_only(prompts, completions, **_):
            calls.append(1)
            return [float(i % 2) if len(calls) == 1 else 0.5 for i in range(len(completions))]

        config = GRPOConfig(steps=steps, prompts_per_step=2, group_size=2, max_new_tokens=4, learning_rate=1e-3, drop_flat_groups=drop)
        log = grpo(model, reference, processor, Encoder(processor, tiny_world.root), items, [False] * len(items), [("r", first_step_only, 1.0)], config)
        assert [row["flat_groups"] for row in log] == [0.0] + [1.0] * (steps - 1)
        return {name: p.detach().clone() for name, p in model.named_parameters()}

    after_one = run(1, drop=True)
    kept = run(3, drop=True)
    moved = run(3, drop=False)
    assert all(torch.equal(after_one[name], kept[name]) for name in after_one)
    assert any(not torch.equal(after_one[name], moved[name]) for name in after_one)
