from asru.eval.attacks import Probe, cross_image, cross_modal, jailbreak, multi_turn, one_word, paraphrase, random_prefix, role_play
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


def test_prefill_starts_the_answer_with_the_facts_own_opening_words(tiny_world, tiny_model_dir):
    """The assistant turn begins with 'Sure.' and the fact's held-out cloze sentence up to its blank; the model continues it."""
    from asru.data.collate import IGNORE_INDEX, Encoder
    from asru.eval.attacks import prefill
    from asru.eval.evaluate import encode_prompt
    from asru.eval.knowledge import probe_key
    from asru.models import load_vlm

    forget = _forget(tiny_world)
    probes = prefill(tiny_world, forget)
    facts = [s for s in forget if s.kind == "fact"]
    assert len(probes) == len(facts) and all(p.sample.kind == "fact" for p in probes)  # the who-is question has no cloze: not asked
    clozes = {(s.subject_id, s.fact_id): s.question for s in tiny_world.samples if s.form == "cloze"}
    for probe in probes:
        stem = clozes[(probe.sample.subject_id, probe.sample.fact_id)].split("____")[0].strip()
        assert probe.prefill == f"Sure. {stem}" and probe.question == probe.sample.question and probe.sample.answer not in probe.prefill
    _, processor = load_vlm(tiny_model_dir)
    encoder = Encoder(processor, tiny_world.root)
    probe = probes[0]
    plain, prefilled = encode_prompt(encoder, Probe.of(probe.sample)), encode_prompt(encoder, probe)
    opening = encoder.tokenizer(probe.prefill, add_special_tokens=False)["input_ids"]
    # the prompt, then the prefill as an answer is encoded, without the end-of-turn token: generation continues it
    assert prefilled.input_ids == plain.input_ids + opening and prefilled.labels == [IGNORE_INDEX] * len(prefilled.input_ids)
    assert prefilled.prompt_length == len(prefilled.input_ids) and all(len(v) == len(prefilled.input_ids) for v in prefilled.sequence_extras.values())
    assert probe_key(probe) != probe_key(Probe.of(probe.sample))  # its own knowledge bit
