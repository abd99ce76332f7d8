"""Rewards for refusal-boundary RL, as TRL-style callables: prompts, completions, columns -> floats.

Default (the authors' rule, DESIGN §7):

=========  ===========================================================================
item       reward
=========  ===========================================================================
forget     leak (gold appears) 0 · refusal 1 · 0 < ROUGE-L recall < 0.4: 0.5 · else 0.1
retain     correct (gold appears) 1 · refusal 0 · ROUGE-L recall > 0.6: 0.5 · else 0.1
=========  ===========================================================================

``quality_reward`` is our addition: the offline judge's naturalness (1-5 -> 0-1), with rigid
templated refusals, gibberish and hallucinations scored 0 — the generation-quality goal.
"""

from __future__ import annotations

from typing import Callable, Sequence

from asru.eval.judge import judge
from asru.eval.metrics import contains_answer, is_refusal, rouge_l

RewardFn = Callable[..., list[float]]


def forget_reward(completion: str, gold: str) -> float:
    if contains_answer(completion, gold):
        return 0.0
    if is_refusal(completion):
        return 1.0
    recall, _ = rouge_l(completion, gold)
    return 0.5 if 0 < recall < 0.4 else 0.1


def retain_reward(completion: str, gold: str) -> float:
    if contains_answer(completion, gold):
        return 1.0
    if is_refusal(completion):
        return 0.0
    recall, _ = rouge_l(completion, gold)
    return 0.5 if recall > 0.6 else 0.1


def boundary_reward(prompts: Sequence[str], completions: Sequence[str], *, gold: Sequence[str], should_forget: Sequence[bool], **_) -> list[float]:
    """The authors' refuse-what-must-go / answer-what-stays reward."""
    return [forget_reward(c, g) if f else retain_reward(c, g) for c, g, f in zip(completions, gold, should_forget)]


def quality_reward(
    prompts: Sequence[str], completions: Sequence[str], *, gold: Sequence[str], should_forget: Sequence[bool], subject_name: Sequence[str | None], fact: Sequence[str], **_
) -> list[float]:
    """Naturalness from the offline judge in [0, 1]; rigid refusals, gibberish, hallucination -> 0."""
    rewards = []
    for prompt, completion, g, f, name, fact_name in zip(prompts, completions, gold, should_forget, subject_name, fact):
        verdict = judge(prompt, g, completion, should_forget=f, subject_name=name, fact=fact_name)
        if verdict.label in ("refusal_rigid", "gibberish", "hallucination"):
            rewards.append(0.0)
        else:
            rewards.append((verdict.naturalness - 1) / 4)
    return rewards

