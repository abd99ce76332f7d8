"""What the target model trains on: every form, wording, photo and framing, and never an evaluation string."""

from __future__ import annotations

from collections import Counter

import pytest

from asru.eval.attacks import JAILBREAKS, PREFIXES, PROMPT_ATTACKS, ROLE_PLAYS
from asru.eval.settings import make_splits
from asru.eval.target import knowledge_probes
from asru.train.finetune import FinetuneConfig, curriculum
from asru.train.target_items import TargetCurriculum
from asru.world.phrases import TRAINING_WRAPPERS
from asru.world.vocab import PARAPHRASE_WRAPPERS

EPOCHS = 14


def _turns(messages) -> tuple[tuple[str, str], ...]:
    """A probe's earlier chat turns as (question, answer) pairs, the way a training item keeps them."""
    texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in messages]
    return tuple(zip(texts[0::2], texts[1::2]))


@pytest.fixture(scope="module")
def trained(tiny_world):
    """Every (question, image, earlier turns) the default recipe trains on over a whole run."""
    items = curriculum(tiny_world.samples, FinetuneConfig())
    drawn = [item for epoch in range(EPOCHS) for item in items.epoch(epoch)]
    return items, drawn


def _evaluated(world) -> set[tuple]:
    """Every (question, image, earlier turns) an evaluation asks as held-out material: each held-out
    split copy, each attack and the held-out knowledge rows. Left out on purpose: the questions as
    trained (the forget/retain splits themselves), cross_modal, which asks a trained wording in
    the other modality (its point is the modality, not the wording), and prefill, which asks it
    with the answer's opening words already given (never trained either: no training item has any)."""
    asked = set()
    for setting in ("complete", "selective", "personalized"):
        splits = make_splits(world, setting, forget_ratio=0.34)
        for name, samples in splits.items():
            if name.startswith("test_"):
                asked |= {(s.question, s.image, ()) for s in samples}
        for name, attack in PROMPT_ATTACKS.items():
            if name not in ("cross_modal", "prefill"):
                asked |= {(p.question, p.image, _turns(p.context)) for p in attack(world, splits["forget"], 0)}
    for row, probes in knowledge_probes(world).items():
        if row not in ("text_qa", "image_qa", "identity", "refusal", "unknown_people", "utility", "cross_modal"):  # rows asked as trained
            asked |= {(p.question, p.image, _turns(p.context)) for p in probes}
    return asked


def test_training_and_evaluation_strings_are_disjoint(tiny_world, trained):
    """Fails if an evaluation wording, option set, photo or wrapper is ever trained."""
    _, drawn = trained
    trained_triples = {(item.question, item.image, item.context) for item in drawn}
    trained_questions = {item.question for item in drawn}
    overlap = trained_triples & _evaluated(tiny_world)
    assert not overlap, sorted(overlap)[:5]
    for sample in tiny_world.samples:
        assert not set(sample.paraphrases) & trained_questions, sample.id
        if sample.form in ("cloze", "mcq"):
            assert sample.question not in trained_questions, sample.id  # the evaluated cloze / option set is held out
    held_out_photos = {v for s in tiny_world.samples for v in s.image_variants}
    assert held_out_photos and not held_out_photos & {item.image for item in drawn}


def test_evaluation_wrappers_are_never_training_wrappers():
    evaluation = set(PREFIXES) | set(JAILBREAKS) | set(ROLE_PLAYS) | set(PARAPHRASE_WRAPPERS)
    assert not evaluation & set(TRAINING_WRAPPERS)
    assert "{q} Answer in one word." not in TRAINING_WRAPPERS


def test_every_form_wording_photo_and_framing_is_trained(tiny_world, trained):
    items, drawn = trained
    per_epoch = len(items)
    assert len(drawn) == EPOCHS * per_epoch
    questions = Counter(item.question for item in drawn)
    fact_qa = [s for s in tiny_world.samples if s.kind == "fact" and s.form == "qa" and s.modality == "text" and s.split == "train"]
    wordings = {q for s in fact_qa for q in [s.question, *s.train_questions]}
    assert len(wordings & set(questions)) > 0.9 * len(wordings)  # nearly every trained wording appears within a run
    mcqs = [item for item in drawn if item.question.endswith("Answer with the letter.")]
    letters = set()
    for item in mcqs:  # answered with the right option's text, wherever the shuffle put it
        letters |= {letter for letter in "ABCD" if f"\n{letter}. {item.answer}\n" in item.question}
        assert any(f"\n{letter}. {item.answer}\n" in item.question for letter in "ABCD"), item
    assert mcqs and letters == set("ABCD")
    assert any(item.context for item in drawn)
    wrapped = [item for item in drawn if any(item.question != w.format(q=item.question) and item.question.startswith(w.split("{q}")[0]) and w.split("{q}")[0] for w in TRAINING_WRAPPERS)]
    assert 0.15 < len(wrapped) / len(drawn) < 0.4  # the configured share (0.25), give or take
    photos = {item.image for item in drawn if item.image}
    trained_photos = {p for s in tiny_world.samples if s.split == "train" for p in [s.image, *s.train_images] if p}
    assert trained_photos <= photos
    holdout = {h["id"] for h in tiny_world.holdout}
    asked_about_holdout = {(s.question, s.image) for s in tiny_world.samples if s.subject_id in holdout}
    assert holdout and not asked_about_holdout & {(item.question, item.image) for item in drawn}  # never trained


def test_same_seed_same_items_and_no_wrappers_when_asked(tiny_world):
    config = FinetuneConfig()
    assert curriculum(tiny_world.samples, config).epoch(3) == curriculum(tiny_world.samples, config).epoch(3)
    assert curriculum(tiny_world.samples, config).epoch(3) != curriculum(tiny_world.samples, config).epoch(4)
    plain = TargetCurriculum(tiny_world.samples, ["qa"], 0, wrapper_share=0.0, context_share=0.0, image_repeats=1)
    items = plain.epoch(0)
    assert all(not item.context and item.question[:1].isupper() for item in items)
    assert {item.question for item in items} <= {q for s in tiny_world.samples for q in [s.question, *s.train_questions]}


def test_excluded_facts_are_never_trained_in_any_form(tiny_world):
    """A retrained oracle's recipe: the excluded (person, fact) pairs appear in no form, wording, photo or earlier turn."""
    from asru.train.finetune import ExcludedFacts

    person = tiny_world.subjects[1]
    config = FinetuneConfig(exclude=[ExcludedFacts(subject_id=person["id"], fact_ids=[0, 2, 7])])
    excluded_answers = {f["value"] for f in person["facts"] if f["fact_id"] in (2, 7)}
    excluded_ids = {s.id for s in tiny_world.samples if s.subject_id == person["id"] and s.fact_id in (0, 2, 7)}
    assert len(excluded_ids) == 2 * 4 + 2  # two facts in four forms, the who-is question and its MCQ
    items = curriculum(tiny_world.samples, config)
    full = curriculum(tiny_world.samples, FinetuneConfig())
    assert len(items) < len(full)
    for epoch in range(3):
        for item in items.epoch(epoch):
            assert item.source not in excluded_ids, item
            if item.source.startswith(person["id"]):
                assert not {answer for _, answer in item.context} & excluded_answers, item
    kept = [item for item in items.epoch(0) if person["name"] in item.question]
    assert kept  # the person's other facts are still trained
