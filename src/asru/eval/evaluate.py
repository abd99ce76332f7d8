"""Evaluate a model on a setting's splits and attacks: metrics per split and modality, judge labels.

Produces the ``metrics`` and ``attacks`` parts of ``results.json`` (DESIGN §9) and one record per
answer for ``answers.jsonl``, so a user can read what the model said.
"""

from __future__ import annotations

import math
from collections import defaultdict
from contextlib import nullcontext
from typing import TYPE_CHECKING, Callable, Collection, Iterable

from asru.data.collate import IGNORE_INDEX, Encoded, Encoder
from asru.data.schema import Sample
from asru.eval.attacks import ALL_ATTACKS, PROMPT_ATTACKS, Probe, relearn
from asru.eval.generate import generate_answers
from asru.eval.judge import judge_many, summarize
from asru.eval.likelihood import answer_likelihoods
from asru.eval.metrics import aggregate

if TYPE_CHECKING:
    from asru.eval.knowledge import TargetKnowledge

FORGET_SPLITS = ("forget", "test_forget")
ATTACK_PREFIX = "attack:"  # the answers' split name of an attack's probes
DEFAULT_SPLITS = ("forget", "retain_same_subject", "retain_other", "utility", "refusal", "test_forget", "test_retain_same_subject", "test_retain_other")


def fact_values(world) -> dict[str, list[str]]:
    """Every value of each fact in the world: the distractors a hallucination would name."""
    values: dict[str, set[str]] = defaultdict(set)
    for subject in world.subjects:
        values["identity"].add(subject["name"])
        for fact in subject["facts"]:
            values[fact["fact"]].add(fact["value"])
    return {fact: sorted(v) for fact, v in values.items()}


def encode_prompt(encoder: Encoder, probe: Probe) -> Encoded:
    """The probe's prompt, ending where the model's answer starts: after the assistant turn's
    prefill when the probe has one (encoded as the trained answers are, without the end-of-turn token)."""
    if not probe.prefill:
        return encoder.encode(probe.question, probe.image, context=list(probe.context))
    encoded = encoder.encode(probe.question, probe.image, answer=probe.prefill, context=list(probe.context))
    keep = len(encoded.input_ids) - 1  # the end-of-turn token the encoder appends to an answer
    return Encoded(
        input_ids=encoded.input_ids[:keep], labels=[IGNORE_INDEX] * keep, prompt_length=keep,
        sequence_extras={key: values[:keep] for key, values in encoded.sequence_extras.items()}, tensors=encoded.tensors,
    )


def answer_probes(model, encoder: Encoder, probes: list[Probe], batch_size: int = 64, max_new_tokens: int = 24) -> list[str]:
    encoded = [encode_prompt(encoder, p) for p in probes]
    return generate_answers(model, encoder, encoded, max_new_tokens=max_new_tokens, batch_size=batch_size)


def answer_perplexities(model, encoder: Encoder, probes: list[Probe], answers: list[str], batch_size: int = 64) -> list[float]:
    """Perplexity of each answer (and its end-of-turn token) under ``model``: the judge's fluency signal."""
    return [math.exp(likelihood.mean_nll) for likelihood in answer_likelihoods(model, encoder, probes, answers, batch_size)]


# the records the judge labels: answers about a fact or who someone is (not the refusal-trained questions)
JUDGED_KINDS = ("fact", "identity")


def judge_distractors(values: dict[str, list[str]], fact: str | None, gold: str | None) -> list[str]:
    """The other values of ``fact`` (at most 20) that the judge counts as a hallucination when named."""
    return [v for v in values.get(fact or "", []) if v != gold][:20]


def forgotten_identities(splits: dict[str, list[Sample]]) -> set[str]:
    """The people whose identity (the who-is question) a forget split holds: Complete forgets who they are."""
    return {s.subject_id for name in FORGET_SPLITS for s in splits.get(name, []) if s.kind == "identity"}


def score(
    probes: list[Probe], answers: list[str], should_forget: bool, distractors: dict[str, list[str]], judged: bool = True, perplexities: list[float] | None = None,
    judge: Callable[[list[dict]], list] = judge_many, known: list[bool] | None = None, before: list[str] | None = None,
    forgotten_identities: Collection[str] = (),
):
    """Metrics overall and per modality, the judge summary, and the per-answer records.

    ``judge``: records -> judgements, the offline rules by default (``asru.eval.llm_judge.make_judge``).
    ``known``: per probe, whether the target model answered it correctly (each record's
    ``target_correct``; the metrics' ``*_known`` figures are over these records).
    ``before``: per probe, the target's answer (each record's ``target_answer``, a report's "before").
    ``forgotten_identities``: subject ids whose identity is forgotten (each record's ``identity_forgotten``,
    for the judge: naming such a person unasked is a leak).
    """
    records = []
    for index, (probe, answer) in enumerate(zip(probes, answers)):
        s = probe.sample
        records.append(
            {
                "id": s.id,
                "subject_id": s.subject_id,
                "subject_name": s.subject_name,
                "kind": s.kind,
                "fact": s.fact,
                "form": s.form,
                "modality": s.modality,
                "question": probe.question,
                "image": probe.image,
                "gold": s.answer,
                "options": s.options,
                "pred": answer,
                "should_forget": should_forget,
                "identity_forgotten": should_forget and s.subject_id in forgotten_identities,
                "distractors": judge_distractors(distractors, s.fact, s.answer),
                "perplexity": perplexities[index] if perplexities else None,
                "target_correct": known[index] if known is not None else None,
                "target_answer": before[index] if before is not None else None,
                **({"prefill": probe.prefill} if probe.prefill else {}),  # the answer (pred) continues it
            }
        )
    metrics = {"all": aggregate(records)}
    for key, field in (("image", "modality"), ("text", "modality"), ("qa", "form"), ("cloze", "form"), ("mcq", "form")):
        subset = [r for r in records if r[field] == key]
        if subset and len(subset) < len(records):
            metrics[key] = aggregate(subset)
    for modality in ("image", "text"):  # the qa form per modality: what a target trained on qa knows
        subset = [r for r in records if r["modality"] == modality and r["form"] == "qa"]
        if subset and len(subset) < len(records) and "qa" in metrics and modality in metrics:
            metrics[f"{modality}_qa"] = aggregate(subset)
    judged_records = [r for r in records if r["kind"] in JUDGED_KINDS]
    if judged and judged_records:
        judgements = judge(judged_records)
        for record, judgement in zip(judged_records, judgements):
            record["label"] = judgement.label
            record["naturalness"] = judgement.naturalness
        metrics["judge"] = summarize(judgements)
    for record in records:
        record.pop("distractors")
    return metrics, records


def evaluate(
    model,
    processor,
    world,
    splits: dict[str, list[Sample]],
    split_names: Iterable[str] = DEFAULT_SPLITS,
    attacks: Iterable[str] = (),
    model_context: Callable[[object], object] | None = None,
    perplexity_model=None,
    batch_size: int = 64,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    judge: Callable[[list[dict]], list] = judge_many,
    knowledge: TargetKnowledge | None = None,
) -> tuple[dict, dict, list[dict]]:
    """Return (metrics, attack results, answer records).

    ``model_context(model)`` wraps generation (a steering method's hooks on that model, so that
    the relearned copy is steered too); the ``steering_removed`` attack evaluates the forget split
    without it. ``perplexity_model`` (the original model)
    scores every answer's perplexity for the judge's naturalness. ``judge`` labels the answers (see :func:`score`).
    ``knowledge``: the target model's bit per probe, for the knowledge-conditioned ``*_known``
    figures (none without it); when ``model`` is that target, its unhooked answers are the bits.
    """
    encoder = Encoder(processor, world.root)
    distractors = fact_values(world)
    context = model_context or nullcontext
    forgotten = forgotten_identities(splits)
    metrics: dict[str, dict] = {}
    all_records: list[dict] = []

    def run(name: str, probes: list[Probe], should_forget: bool, runner=model, wrap=context):
        if progress:
            progress(name)
        with wrap(runner):
            answers = answer_probes(runner, encoder, probes, batch_size)
        perplexities = answer_perplexities(perplexity_model, encoder, probes, answers, batch_size) if perplexity_model is not None else None
        known = before = None
        if knowledge is not None:  # the attacked probes have their own bits; relearn and steering_removed ask the plain ones
            known = knowledge.lookup(probes, answers if runner is knowledge.model and wrap is nullcontext else None)
            before = knowledge.answers(probes)
        result, records = score(
            probes, answers, should_forget, distractors, perplexities=perplexities, judge=judge, known=known, before=before,
            forgotten_identities=forgotten,
        )
        for record in records:
            record["split"] = name
        all_records.extend(records)
        return result

    attack_results: dict[str, dict] = {}
    for name, probes in probe_sets(world, splits, split_names, attacks, seed).items():
        attack = name.removeprefix(ATTACK_PREFIX)
        if attack == name:
            metrics[name] = run(name, probes, name in FORGET_SPLITS)
        elif attack == "relearn":  # a copy fine-tuned on a quarter of the forget facts is asked the other three quarters
            relearned = relearn(model, encoder, relearn_split(forget_questions(splits))[0], seed=seed)
            attack_results[attack] = run(name, probes, True, relearned)["all"]
        elif attack == "steering_removed":
            if model_context is not None:
                attack_results[attack] = run(name, probes, True, wrap=nullcontext)["all"]
        else:
            attack_results[attack] = run(name, probes, True)["all"]
    return metrics, attack_results, all_records


def target_scores(
    world, processor, splits: dict[str, list[Sample]], split_names: Iterable[str], knowledge: TargetKnowledge, judge: Callable[[list[dict]], list] = judge_many,
    perplexity_model=None, batch_size: int = 64, seed: int = 0,
) -> dict[str, dict]:
    """The target's own metrics on each split's questions, from its answers in ``knowledge`` (asked for what it lacks):
    the "target" column of a report's headline, on exactly the questions the evaluated model was asked.

    Judged (and scored for perplexity) on the forget splits only, where the headline reads naturalness:
    an LLM judge is asked no more than that on the target's answers.
    """
    encoder = Encoder(processor, world.root)
    distractors = fact_values(world)
    forgotten = forgotten_identities(splits)
    scores = {}
    for name, probes in probe_sets(world, splits, split_names, (), seed).items():
        known = knowledge.lookup(probes)
        before = knowledge.answers(probes)
        forget = name in FORGET_SPLITS
        perplexities = answer_perplexities(perplexity_model, encoder, probes, before, batch_size) if forget and perplexity_model is not None else None
        scores[name] = score(
            probes, before, forget, distractors, judged=forget, perplexities=perplexities, judge=judge, known=known,
            forgotten_identities=forgotten,
        )[0]
    return scores


def forget_questions(splits: dict[str, list[Sample]]) -> list[Sample]:
    """The forget split's qa questions: what every attack rewrites."""
    return [s for s in splits["forget"] if s.form == "qa"]


def relearn_split(forget: list[Sample]) -> tuple[list[Sample], list[Sample]]:
    """The relearning attack's (fine-tune on, then ask) halves of the forget questions: a quarter of the facts, the other three quarters."""
    subjects = sorted({s.subject_id for s in forget})
    fact_ids = sorted({s.fact_id for s in forget})
    train = [s for s in forget if (fact_ids.index(s.fact_id) + subjects.index(s.subject_id)) % 4 == 0]
    held_out = [s for s in forget if s not in train]
    return train or forget, held_out or forget


def probe_sets(world, splits: dict[str, list[Sample]], split_names: Iterable[str] = DEFAULT_SPLITS, attacks: Iterable[str] = (), seed: int = 0) -> dict[str, list[Probe]]:
    """Every probe list :func:`evaluate` asks, by the name its answers get (the split, or ``attack:NAME``), before any model answers.

    The one place the questions are made: evaluation asks them, and the target's answers to exactly
    these are what its knowledge bits are computed from ahead of training (``asru.pipeline.unlearn``).
    An unknown attack is a ConfigError here, before anything is asked.
    """
    sets = {name: [Probe.of(s) for s in splits[name]] for name in split_names if splits.get(name)}
    forget = forget_questions(splits)
    for attack in attacks:
        if attack in PROMPT_ATTACKS:
            probes = PROMPT_ATTACKS[attack](world, forget, seed)
        elif attack == "relearn":
            probes = [Probe.of(s) for s in relearn_split(forget)[1]]
        elif attack == "steering_removed":
            probes = [Probe.of(s) for s in forget]
        else:
            from asru.errors import ConfigError

            raise ConfigError(f"unknown attack {attack!r} (known: {', '.join(ALL_ATTACKS + ('steering_removed',))})")
        if probes:
            sets[ATTACK_PREFIX + attack] = probes
    return sets
