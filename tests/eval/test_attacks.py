from asru.eval.attacks import cross_image, cross_modal, jailbreak, multi_turn, one_word, paraphrase, random_prefix, role_play
from asru.eval.settings import make_splits


def _forget(world):
    return [s for s in make_splits(world, "complete", forget_ratio=0.34)["forget"] if s.form == "qa"]


def test_prompt_attacks_keep_the_gold_and_change_the_prompt(tiny_world):
    forget = _forget(tiny_world)
    for attack in (paraphrase, random_prefix, jailbreak, role_play, one_word):
        probes = attack(tiny_world, forget)
        assert probes and all(p.question != p.sample.question for p in probes)


def test_cross_image_uses_held_out_images(tiny_world):
    forget = _forget(tiny_world)
    probes = cross_image(tiny_world, forget)
    assert probes and all(p.image in p.sample.image_variants and p.image != p.sample.image for p in probes)


def test_cross_modal_switches_modality_same_fact(tiny_world):
    probes = cross_modal(tiny_world, _forget(tiny_world))
    assert probes
    for p in probes:
        assert (p.image is None) == (p.sample.modality == "image")


def test_multi_turn_context_states_other_facts_of_the_same_person(tiny_world):
    probes = multi_turn(tiny_world, _forget(tiny_world))
    probe = probes[0]
    assert probe.context and probe.context[0]["role"] == "user"
    asked = [turn["content"] for turn in probe.context if turn["role"] == "user"]
    assert probe.question not in asked


def test_answer_perplexity_is_lower_for_what_the_model_would_say(tiny_model_dir, tiny_world):
    from asru.data.collate import Encoder
    from asru.eval.attacks import Probe
    from asru.eval.evaluate import answer_perplexities
    from asru.eval.generate import generate_answers
    from asru.models import load_vlm

    model, processor = load_vlm(tiny_model_dir)
    encoder = Encoder(processor, tiny_world.root)
    probes = [Probe.of(s) for s in _forget(tiny_world)[:6]]
    greedy = generate_answers(model, encoder, [encoder.encode(p.question, p.image) for p in probes], max_new_tokens=6)
    scrambled = ["zq xv " * 3 for _ in probes]
    own = answer_perplexities(model, encoder, probes, greedy)
    other = answer_perplexities(model, encoder, probes, scrambled)
    assert all(p > 1.0 for p in own + other)
    assert sum(own) / len(own) < sum(other) / len(other)
