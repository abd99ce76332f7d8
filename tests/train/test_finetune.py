"""Finetuning: resume equals an uninterrupted run; the recipe reaches the bars on a small world."""

import json

import pytest
import torch

from asru.config import ARCHITECTURES
from asru.eval.target import BARS, target_accuracy
from asru.models import TinyModelConfig, load_vlm
from asru.train import finetune as finetune_module
from asru.train.face_pretrain import training_photos_by_person
from asru.train.finetune import FinetuneConfig, epoch_batches, finetune

SMALL = TinyModelConfig(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)


def test_epoch_batches_are_a_fixed_permutation_of_similar_lengths():
    lengths = [5, 40, 6, 41, 7, 42, 8, 43, 9, 44, 10, 45]
    batches = epoch_batches(lengths, 2, 6, seed=3, epoch=0)
    assert batches == epoch_batches(lengths, 2, 6, seed=3, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(12))  # every item once
    assert batches != epoch_batches(lengths, 2, 6, seed=4, epoch=0) and batches != epoch_batches(lengths, 2, 6, seed=3, epoch=1)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    unbucketed = epoch_batches(lengths, 2, 1, seed=3, epoch=0)
    assert padded == sum(sorted(lengths)[1::2]) * 2  # sorted runs: each batch pads only to its neighbour
    assert padded < sum(max(lengths[i] for i in b) * len(b) for b in unbucketed)


def test_backdrop_views_show_people_on_new_backdrops_and_never_touch_a_utility_image(tiny_world, tmp_path, monkeypatch):
    """A utility question can ask for the backdrop's colour: re-backdropping its image would train a wrong answer
    (a first 8-person run that did so answered 55 % of the utility questions, against 100 %)."""
    asked = []
    def record(load_image, rng, photo_views, backdrop_views):
        asked.append((load_image.args[0], backdrop_views))
        return None

    monkeypatch.setattr(finetune_module, "training_view", record)
    config = FinetuneConfig(model=SMALL, epochs=1, batch_size=64, backdrop_views=0.5, face_pretrain_steps_per_person=0)
    finetune(tiny_world.root, tmp_path / "model", config)
    portraits = {p for s in tiny_world.samples if s.kind in ("fact", "identity") for p in (s.image, *s.train_images) if p}
    utility = {s.image for s in tiny_world.samples if s.kind == "utility" and s.image}
    shown_utility = utility & {image for image, _ in asked}
    assert shown_utility and {image for image, share in asked if share == 0.0} >= shown_utility
    assert not any(share for image, share in asked if image in utility)
    assert {image for image, share in asked if share == 0.5} <= portraits and any(share == 0.5 for _, share in asked)


@pytest.mark.parametrize("views", [0.0, 1.0])
def test_resume_after_interruption_gives_identical_weights(tiny_world, tmp_path, monkeypatch, views):
    """Also with new photo and backdrop views every step (drawn from the step's seed, not from the run's history)
    and a face-pretraining stage 0 (done once, before step 0: the resumed run finds it in the checkpoint)."""
    config = FinetuneConfig(
        model=SMALL, epochs=2, batch_size=16, checkpoint_every=2, train_forms=["qa"], photo_views=views, backdrop_views=views, face_pretrain_steps_per_person=int(views)
    )
    finetune(tiny_world.root, tmp_path / "straight", config)

    real_save = finetune_module.save_checkpoint
    def save_then_die(accelerator, folder, step, extra=None):
        real_save(accelerator, folder, step, extra)
        if step == 4:
            raise KeyboardInterrupt  # killed right after the second checkpoint

    monkeypatch.setattr(finetune_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        finetune(tiny_world.root, tmp_path / "resumed", config)
    assert json.loads((tmp_path / "resumed" / "checkpoint" / "asru_step.json").read_text())["step"] == 4
    monkeypatch.setattr(finetune_module, "save_checkpoint", real_save)
    finetune(tiny_world.root, tmp_path / "resumed", config)
    a, _ = load_vlm(tmp_path / "straight")
    b, _ = load_vlm(tmp_path / "resumed")
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(p, q), name
    assert not (tmp_path / "resumed" / "checkpoint").exists()
    straight = json.loads((tmp_path / "straight" / "finetune.json").read_text())
    if views:  # stage 0's time is part of the fine-tune's wall time
        assert 0 < straight["face_pretrain_seconds"] <= straight["train_seconds"] and straight["face_pretrain_final_loss"] > 0
        assert straight["face_pretrain_steps"] == len(training_photos_by_person(tiny_world.samples)) >= 2  # steps per person x people
    else:
        assert "face_pretrain_seconds" not in straight


SMALL_WORLD_BARS = ("text_qa", "text_paraphrase", "text_mcq", "refusal", "utility")
SMALL_WORLD_FLOORS = {"image_qa": 0.8, "text_cloze": 0.7, "one_word": 0.7, "multi_turn": 0.7, "cross_image": 0.4}


@pytest.mark.slow
def test_recipe_reaches_the_bars_on_a_small_world(tmp_path):
    """The default recipe, on a 10-person world (the full-size run is benchmarks/finetune.py).

    The rows checked at their bars are a subset of those the recipe meets on the 40-person world
    (README, "The target model"); the image rows, below their bars even there, and the rows a
    10-person world's fewer steps leave short (cloze, wrappers) are checked against floors. The
    floors were chosen, not measured: far above chance and below what the 8- and 40-person targets
    reach. Passed on 2026-12-02 (9 min 15 s, 1 torch thread) and on 2026-12-04 with the tower at 3e-4
    (15 min 44 s beside two other fine-tunes).
    """
    from asru.world import WorldConfig, build_world, load_world

    build_world(WorldConfig(subjects=10, utility_questions=30, unknown_people=6), tmp_path / "world")
    finetune(tmp_path / "world", tmp_path / "model", FinetuneConfig())
    model, processor = load_vlm(tmp_path / "model")
    accuracy = target_accuracy(model, processor, load_world(tmp_path / "world"))
    for kind in SMALL_WORLD_BARS:
        assert accuracy[kind]["accuracy"] >= BARS[kind], (kind, accuracy)
    for kind, floor in SMALL_WORLD_FLOORS.items():
        assert accuracy[kind]["accuracy"] >= floor, (kind, accuracy)

    # `asru eval` on the target model agrees: it knows the forget facts and does not refuse them
    from asru.eval.evaluate import evaluate
    from asru.eval.settings import make_splits

    world = load_world(tmp_path / "world")
    splits = {name: [s for s in samples if s.form == "qa"] for name, samples in make_splits(world, "complete", 0.2).items()}
    metrics, _, _ = evaluate(model, processor, world, splits, split_names=("forget", "retain_other", "refusal"))
    for split in ("forget", "retain_other"):
        assert metrics[split]["all"]["exact_match"] >= 0.9, (split, metrics[split]["all"])
        assert metrics[split]["all"]["refusal_rate"] <= 0.05
        assert metrics[split]["judge"]["labels"]["correct" if split == "retain_other" else "leak"] >= 0.9
    assert metrics["refusal"]["all"]["refusal_rate"] >= 0.95


def test_the_recipe_is_the_familys_unless_given():
    """Qwen3-VL trains at 2e-3, its vision tower at 1e-4 after face pretraining (50 steps per person at 1e-3); LLaVA and
    Idefics3 train their Llama at 5e-4, their tower at 3e-3, no stage 0 (the recipe their committed targets were built
    with, so their cache keys did not change)."""
    from asru.train.finetune import FAMILY_RECIPES, target_cache_key

    qwen = FinetuneConfig()
    assert (qwen.learning_rate, qwen.vision_learning_rate, qwen.photo_views, qwen.face_pretrain_steps_per_person) == (2e-3, 1e-4, 0.0, 50)
    assert qwen.face_pretrain_learning_rate == 1e-3
    assert FinetuneConfig(model={"architecture": "qwen3_vl"}).face_pretrain_steps_per_person == 50
    assert qwen.model_dump() == FinetuneConfig(learning_rate=2e-3, vision_learning_rate=1e-4, face_pretrain_learning_rate=1e-3).model_dump()
    assert FinetuneConfig(face_pretrain_learning_rate=None).face_pretrain_learning_rate is None  # given: stage 0 at the tower's rate
    assert target_cache_key("w", qwen) == target_cache_key("w", FinetuneConfig(model={"architecture": "qwen3_vl"}, learning_rate=2e-3))
    assert FinetuneConfig(vision_learning_rate=3e-3).vision_learning_rate == 3e-3
    for architecture in ("llava", "idefics3"):
        recipe = FinetuneConfig(model={"architecture": architecture})
        assert (recipe.learning_rate, recipe.vision_learning_rate, recipe.photo_views, recipe.face_pretrain_learning_rate) == (5e-4, 3e-3, 0.0, None)
        assert FAMILY_RECIPES[architecture] == {"learning_rate": 5e-4, "vision_learning_rate": 3e-3, "photo_views": 0.0, "face_pretrain_steps_per_person": 0}
        assert FinetuneConfig.model_validate(recipe.model_dump(mode="json")) == recipe  # a saved recipe reads back the same
        assert FinetuneConfig(model=TinyModelConfig(architecture=architecture), learning_rate=1e-3).learning_rate == 1e-3


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_family_trains_and_its_loss_drops(tiny_world, tmp_path, monkeypatch, architecture):
    """A few epochs of the recipe on the tiny world (72 steps, seconds), each family with its default learning rate."""
    losses = []
    real_log_row = finetune_module.log_row
    monkeypatch.setattr(finetune_module, "log_row", lambda accelerator, row: losses.append(row["loss"]) or real_log_row(accelerator, row))
    config = FinetuneConfig(model=SMALL.model_copy(update={"architecture": architecture}), epochs=4, warmup_steps=5, train_forms=["qa"], face_pretrain_steps_per_person=0)
    summary = finetune(tiny_world.root, tmp_path, config)
    assert len(losses) == summary["steps"] >= 20
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < first - 1.0, (first, last)  # nats: from chance (ln of the vocabulary, ~7.5) well down
    model, _ = load_vlm(tmp_path)
    assert model.config.model_type == architecture
