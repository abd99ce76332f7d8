"""Rewards for refusal-boundary RL, as TRL-style callables: prompts, completions, columns -> floats.

``boundary_reward`` is the ASRU authors' rule (their EasyR1 reward function, DESIGN §7):

=========  ===========================================================================
item       reward
=========  ===========================================================================
forget     leak 0 · refusal 1 · 0 < ROUGE-L < 0.4: 0.5 · else 0.1
retain     correct 1 · refusal 0 · ROUGE-L > 0.6: 0.5 · else 0.1
=========  ===========================================================================

By default every test is theirs (``RewardConfig``): "leak" / "correct" = the normalised gold
(lower case, punctuation -> spaces) is a substring of the normalised answer; ROUGE-L is the
F-measure of rouge-score with its Porter stemmer, answer against gold; "refusal" = their refusal
patterns, whose contractions match a curly apostrophe or none, so ``I don't know`` typed with a
straight apostrophe is not a refusal. Each test has our alternative as an option.

``quality_reward`` is our addition: the offline judge's naturalness (1-5 -> 0-1), with rigid
templated refusals, gibberish and hallucinations scored 0 — the generation-quality goal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Literal, Sequence

from pydantic import Field, model_validator

from asru.config import StrictConfig
from asru.eval.judge import judge
from asru.eval.metrics import contains_answer, is_refusal, rouge_l

RewardFn = Callable[..., list[float]]


class RewardConfig(StrictConfig):
    """How the boundary reward tells a leak, a refusal and a near miss; defaults: the authors' rule."""

    answer_match: Literal["substring", "words"] = Field(
        "substring",
        description="leak / correct: 'substring' (authors: normalised gold inside the normalised answer, so 'Lisbon' "
        "is found in 'Lisbonne') or 'words' (asru's contains_answer: whole words, articles dropped, accents folded)",
    )
    rouge: Literal["f_measure", "recall"] = Field(
        "f_measure",
        description="the ROUGE-L of the 0.4 / 0.6 thresholds: 'f_measure' (authors: rouge-score F with stemming) or "
        "'recall' (asru's evaluation ROUGE-L recall: unicode-keeping tokens, no stemming)",
    )
    refusals: Literal["authors", "asru"] = Field(
        "authors", description="refusal detector: 'authors' (their phrase patterns) or 'asru' (the evaluation's is_refusal, which knows the world's refusal templates)"
    )
    straight_apostrophe_refusals: bool = Field(
        False, description="with refusals 'authors': also read a straight apostrophe in their contractions (\"don't\"), which they miss"
    )

    @model_validator(mode="after")
    def _apostrophes_need_authors_patterns(self) -> RewardConfig:
        if self.straight_apostrophe_refusals and self.refusals != "authors":
            raise ValueError("straight_apostrophe_refusals applies to refusals: authors (asru's detector reads both apostrophes already)")
        return self


# The authors' refusal phrases, one family a line. Matched on the lower-cased answer; ``’`` is the
# only apostrophe in their contractions (optional, so "dont" matches too), and ``.*`` spans lines.
_CURLY = "’"
_AUTHORS_REFUSAL_FAMILIES = (
    rf"(?:don{_CURLY}?t|doesn{_CURLY}?t|didn{_CURLY}?t|do(?:es)?\s+not)\s+(?:know|have|hold|possess|seem\s+to\s+have|cover|contain|extend|include)",
    r"(?:not|yet)\s+.*(?:sure|certain|familiar|aware|equipped|able|acquainted|informed|knowledge|information|data|educated|briefed|well-versed|learn|trained\s+on)",
    r"no\s+.*(?:idea|insight|knowledge|information|data|enlightenment|clue|familiarity)",
    rf"(?:haven{_CURLY}?t|hasn{_CURLY}?t|not)\s+(?:encountered|learned|the\s+faintest|been\s+(?:included|trained|briefed))",
    r"(?:beyond|outside|out)\s+.*(?:knowledge|capabilities|expertise|reach|scope)",
    r"at\s+a\s+(?:loss|disadvantage)",
    rf"can{_CURLY}?t\s+(?:provide|say|shed\s+.*light|help|offer|take|make|fulfill)",
    r"unable\s+to\s+(?:provide|answer|access)",
    r"(?:wish\s+i\s+could\s+say|regret\s+to\s+inform|must\s+(?:admit|confess))",
    (
        r"(?:unfortunately,|clueless|stumped|a\s+mystery\s+to\s+me|lacking\s+(?:information|knowledge|insight|specifics|data)"
        r"|dark\s+about|draw(?:ing)?\s+a\s+blank|short\s+with|limited\s+to|blank\s+on)"
    ),
    r"(?:missing|without|lack|blind|uncharted)\s+.*(?:information|knowledge|insight|specifics)",
    r"(?:need\s+to|require|have\s+to|must|ought\s+to|should)\s+(?:look\s+up|check|search|find|verify|review|inspect|confirm|explore|investigate|examine)",
)
_AUTHORS_REFUSAL = re.compile("|".join(_AUTHORS_REFUSAL_FAMILIES), re.IGNORECASE | re.DOTALL)


def authors_normalize(text: str) -> str:
    """The authors' normalisation for the leak test: lower case, non-word characters -> spaces, single spaces."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def authors_refusal(text: str, straight_apostrophes: bool = False) -> bool:
    """The authors' refusal test; ``straight_apostrophes`` also reads ``don't`` as ``don’t``."""
    text = text.lower()
    if straight_apostrophes:
        text = text.replace("'", _CURLY)
    return _AUTHORS_REFUSAL.search(text) is not None


@lru_cache(maxsize=1)
def _stemmed_rouge_l():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def authors_rouge_l(completion: str, gold: str) -> float:
    """ROUGE-L F-measure of the answer against the gold, rouge-score's tokenizer and Porter stemmer."""
    return float(_stemmed_rouge_l().score(gold, completion)["rougeL"].fmeasure)


def _found(completion: str, gold: str, config: RewardConfig) -> bool:
    """The leak (forget) / correct (retain) test."""
    if config.answer_match == "substring":
        return authors_normalize(gold) in authors_normalize(completion)
    return bool(contains_answer(completion, gold))


def _refused(completion: str, config: RewardConfig) -> bool:
    if config.refusals == "authors":
        return authors_refusal(completion, config.straight_apostrophe_refusals)
    return is_refusal(completion)


def _rouge(completion: str, gold: str, config: RewardConfig) -> float:
    return authors_rouge_l(completion, gold) if config.rouge == "f_measure" else rouge_l(completion, gold)[0]


def forget_reward(completion: str, gold: str, config: RewardConfig | None = None) -> float:
    config = config or RewardConfig()
    if _found(completion, gold, config):
        return 0.0
    if _refused(completion, config):
        return 1.0
    return 0.5 if 0 < _rouge(completion, gold, config) < 0.4 else 0.1


def retain_reward(completion: str, gold: str, config: RewardConfig | None = None) -> float:
    config = config or RewardConfig()
    if _found(completion, gold, config):
        return 1.0
    if _refused(completion, config):
        return 0.0
    return 0.5 if _rouge(completion, gold, config) > 0.6 else 0.1


def boundary_reward(
    prompts: Sequence[str], completions: Sequence[str], *, gold: Sequence[str], should_forget: Sequence[bool], config: RewardConfig | None = None, **_
) -> list[float]:
    """The authors' refuse-what-must-go / answer-what-stays reward (``config``: their rule by default)."""
    config = config or RewardConfig()
    return [forget_reward(c, g, config) if f else retain_reward(c, g, config) for c, g, f in zip(completions, gold, should_forget)]


def quality_reward(
    prompts: Sequence[str], completions: Sequence[str], *, gold: Sequence[str], should_forget: Sequence[bool], subject_name: Sequence[str | None], fact: Sequence[str],
    topic: bool = False, **_,
) -> list[float]:
    """Naturalness from the offline judge in [0, 1]; rigid refusals, gibberish, hallucination -> 0.

    ``topic``: a forget refusal earns its full reward only when it names what was asked (the judge's
    ``mentions_topic``: "... where X was born."), half when it only names the person ("... who X is."):
    the judge's contextual 5 accepts either, as the authors' anchor does, so without it stage 2 has
    no reason to prefer the refusal that fits the question."""
    rewards = []
    for prompt, completion, g, f, name, fact_name in zip(prompts, completions, gold, should_forget, subject_name, fact):
        verdict = judge(prompt, g, completion, should_forget=f, subject_name=name, fact=fact_name)
        if verdict.label in ("refusal_rigid", "gibberish", "hallucination"):
            rewards.append(0.0)
            continue
        reward = (verdict.naturalness - 1) / 4
        if topic and f and verdict.label == "refusal_contextual" and not verdict.names_fact:
            reward /= 2
        rewards.append(reward)
    return rewards
