from asru.eval.attacks import cross_image, cross_modal, jailbreak, multi_turn, one_word, paraphrase
from asru.eval.settings import make_splits


def _forget(world):
    return [s for s in make_splits(world, "complete", forget_ratio=0.34)["forget"] if s.form == "qa"]


def test_prompt_attacks_keep_the_gold_and_change_the_prompt(tiny_world):
    forget = _forget(tiny_world)
    for attack in (paraphrase, jailbreak, one_word):
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
