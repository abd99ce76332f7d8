"""What the target model is trained on, epoch by epoch: every trained wording, form, photo and framing.

A pretrained model knows a public figure in every form: it answers a paraphrase, a cloze, a
multiple-choice question, a question wrapped in small talk or a persona, a question late in a
conversation, a new photo. The target model gets there by seeing, each epoch, every trained
question in one of its forms drawn afresh (seeded by epoch, so a resumed run sees the same data):

- the next trained wording (``question`` and ``train_questions`` in turn, from a start fixed per
  question) and the next training photo (``image`` and ``train_images``), so that a run sees them all;
- cloze questions in a trained template (their evaluated ``question`` is a held-out one);
- multiple-choice questions built anew from a trained stem, three distractors other than the
  evaluated options and a shuffled order (the evaluated option set is never trained), answered
  with the right option's text, which ``mcq_correct`` accepts: pointing at the option's letter
  did not form in a 30-epoch run, neither as a bare letter nor after the option's text
  ("Lisbon (B)": right option 100 %, right letter 24 % = chance, on a 20-person world);
- a share wrapped in one of :data:`~asru.world.phrases.TRAINING_WRAPPERS`, and a share of the
  people's fact questions asked after one or two earlier turns about other facts of the person.

Nothing here ever produces an evaluation string (held-out paraphrases, the evaluated cloze and MCQ
prompts, held-out photos, the attacks' wrappers): ``tests/train/test_target_items.py`` checks it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from asru.data.schema import Sample
from asru.world.generate import mcq_prompt
from asru.world.phrases import TRAINING_WRAPPERS


@dataclass(frozen=True)
class TrainingItem:
    """One training example: the question as asked, its image, earlier turns and the answer."""

    question: str
    image: str | None
    answer: str
    context: tuple[tuple[str, str], ...] = ()  # (question, answer) turns before this one
    source: str = ""  # the id of the sample it asks

    def messages(self) -> list[dict]:
        """The earlier turns as chat messages (what ``Encoder.encode(context=...)`` takes)."""
        turns = []
        for question, answer in self.context:
            turns += [{"role": "user", "content": [{"type": "text", "text": question}]}, {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
        return turns


def option_pools(samples: list[Sample]) -> dict[str, list[str]]:
    """Every value an MCQ of each fact may offer (its options across the world), for new distractors."""
    pools: dict[str, set[str]] = defaultdict(set)
    for sample in samples:
        if sample.form == "mcq":
            pools[sample.fact].update(sample.options)
    return {fact: sorted(values) for fact, values in pools.items()}


class TargetCurriculum:
    """The training items of each epoch for a world's samples (those with ``split == "train"``)."""

    def __init__(
        self, samples: list[Sample], forms: list[str], seed: int, wrapper_share: float, context_share: float, image_repeats: int,
        excluded: set[tuple[str, int]] = frozenset(),
    ):
        """``excluded``: (subject id, fact id) pairs never trained, in any form (a retrained oracle's forget set)."""
        self.samples = [
            s for s in samples if s.split == "train" and s.form in forms and self._trainable(s) and (s.subject_id, s.fact_id) not in excluded
        ]
        self.seed, self.wrapper_share, self.context_share, self.image_repeats = seed, wrapper_share, context_share, image_repeats
        self.pools = option_pools(samples)
        # earlier turns of a conversation: other facts of the same person, in a trained wording
        self.turns: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            if sample.kind == "fact" and sample.form == "qa" and sample.modality == "text" and sample.train_questions:
                self.turns[sample.subject_id].append(sample)

    @staticmethod
    def _trainable(sample: Sample) -> bool:
        """Cloze and MCQ questions are trained only in their trained templates / stems (the asked one is held out)."""
        return sample.form == "qa" or bool(sample.train_questions)

    def _repeats(self, sample: Sample) -> int:
        """Questions about a photo come ``image_repeats`` times an epoch (binding a face is the slow part;
        once an epoch, the visual questions fell from 99 % to 78 %)."""
        return self.image_repeats if sample.image else 1

    def __len__(self) -> int:
        """Items per epoch (the same every epoch)."""
        return sum(self._repeats(s) for s in self.samples)

    def epoch(self, epoch: int) -> list[TrainingItem]:
        """The items of ``epoch``, in sample order (the trainer shuffles them)."""
        rng = random.Random(f"asru-target:{self.seed}:{epoch}")
        items = []
        for index, sample in enumerate(self.samples):
            repeats = self._repeats(sample)
            for repeat in range(repeats):
                items.append(self._item(sample, rng, turn=(index + epoch) * repeats + repeat))
        return items

    def _item(self, sample: Sample, rng: random.Random, turn: int) -> TrainingItem:
        """Training item number ``turn`` of ``sample``: wordings and photos taken in turn, the rest drawn."""
        photos = [sample.image, *sample.train_images]
        image = photos[turn % len(photos)] if sample.image else None
        answer = sample.answer
        if sample.form == "mcq":
            question, answer = training_mcq(sample, self.pools, rng)
        elif sample.form == "cloze":
            question = sample.train_questions[turn % len(sample.train_questions)]
        else:
            wordings = [sample.question, *sample.train_questions]
            question = wordings[(turn // len(photos) if sample.image else turn) % len(wordings)]
        context: tuple[tuple[str, str], ...] = ()
        if sample.kind == "fact" and sample.form == "qa" and rng.random() < self.context_share:
            others = [o for o in self.turns.get(sample.subject_id, []) if o.fact_id != sample.fact_id]
            context = tuple((rng.choice(o.train_questions), o.answer) for o in rng.sample(others, min(rng.randint(1, 2), len(others))))
        if rng.random() < self.wrapper_share:
            question = rng.choice(TRAINING_WRAPPERS).format(q=question)
        return TrainingItem(question, image, answer, context, sample.id)



def training_mcq(sample: Sample, pools: dict[str, list[str]], rng: random.Random) -> tuple[str, str]:
    """(question, answer) of a new multiple-choice question for ``sample``: a trained stem, distractors other
    than the evaluated ones (``pools``: :func:`option_pools`), a new order; the answer is the right option's text."""
    gold = sample.options[ord(sample.answer) - ord("A")] if len(sample.answer) == 1 and sample.answer.isupper() else sample.answer
    pool = [v for v in pools.get(sample.fact, []) if v != gold]
    fresh = [v for v in pool if v not in sample.options]
    distractors = rng.sample(fresh if len(fresh) >= len(sample.options) - 1 else pool, len(sample.options) - 1)
    asked = {sample.question, *sample.paraphrases}
    for _ in range(100):
        options = distractors + [gold]
        rng.shuffle(options)
        question = mcq_prompt(rng.choice(sample.train_questions), options)
        if question not in asked:  # only possible when the world is too small for fresh distractors
            return question, gold
    raise ValueError(f"sample {sample.id!r}: no multiple-choice question to train that is not also evaluated")
