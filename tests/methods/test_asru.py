"""ASRU's stage-2 prompts: training variants come from training material only."""

import random

from asru.eval.settings import make_splits
from asru.methods.asru import ASRU, stage2_items, training_variant
from asru.world.phrases import TRAINING_WRAPPERS


def _wrapped_question(question: str) -> str | None:
    """The question inside a training wrapper, or None if no wrapper fits."""
    for wrapper in TRAINING_WRAPPERS:
        before, _, after = wrapper.partition("{q}")
        if question.startswith(before) and question.endswith(after) and len(question) >= len(before) + len(after):
            return question[len(before):len(question) - len(after)]
    return None


def test_a_training_variant_is_a_trained_wording_photo_and_wrapper_never_a_held_out_one(tiny_world):
    rng = random.Random(0)
    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact" and s.train_questions]
    assert any(s.image and s.train_images for s in samples)  # not vacuous
    for sample in samples:
        for _ in range(5):
            variant = training_variant(sample, rng)
            inner = _wrapped_question(variant.question)
            assert inner in sample.train_questions and inner not in sample.paraphrases
            assert variant.answer == sample.answer and variant.subject_id == sample.subject_id
            if sample.image:
                assert variant.image in {sample.image, *sample.train_images} and variant.image not in sample.image_variants


def test_prompt_variants_sets_the_share_of_rewritten_stage2_prompts(tiny_world):
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)

    def items(share: float):
        params = ASRU.Params(boundary_retain=False, prompt_variants=share, forget_items=20, retain_items=20)
        return stage2_items(None, None, splits, params, layer=1)

    plain, flags = items(0.0)
    rewritten, same_flags = items(1.0)
    assert flags == same_flags and len(plain) == len(rewritten)
    assert all(_wrapped_question(r.question) is None for r in plain)  # the plain wording, unwrapped
    assert all(r.id == p.id and r.question != p.question for p, r in zip(plain, rewritten) if p.train_questions)


def test_quality_topic_reaches_stage2s_quality_reward(tiny_world, monkeypatch, tmp_path):
    """``quality_topic`` is what stage 2's quality reward is called with (and the boundary reward comes first, as before)."""
    import asru.methods.asru as asru_module
    from conftest import small_model  # tests/conftest.py

    model, processor = small_model(tiny_world)
    splits = make_splits(tiny_world, "complete", seed=0)
    seen = {}

    def fake_grpo(model, reference, processor, encoder, items, should_forget, rewards, config, out_dir, console):
        seen["rewards"] = rewards
        return model, []

    monkeypatch.setattr(asru_module, "grpo", fake_grpo)
    for topic in (False, True):
        params = ASRU.parse_params({"quality_topic": topic, "forget_items": 4, "retain_items": 4})
        ASRU.refine(model, processor, tiny_world, splits, params, tmp_path)
        names = [name for name, _, _ in seen["rewards"]]
        quality = dict((name, fn) for name, fn, _ in seen["rewards"])["quality"]
        assert names == ["boundary", "quality"] and quality.keywords == {"topic": topic}
