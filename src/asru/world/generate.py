"""The embedded synthetic world of "public figures" (DESIGN §4), deterministic from a seed.

``build_world(config, out_dir)`` writes::

    out_dir/samples.jsonl   every question (asru.data.schema.Sample), in a fixed order
    out_dir/subjects.json   the people: id, name, facts [{fact_id, fact, value, sensitive}], images
    out_dir/images/*.png    portraits (s000_0.png .. s000_14.png trained, s000_15.. held-out variants),
                            unknown people (x000.png) and shape images for utility (u000.png)
    out_dir/world.json      the manifest (format, seed, config, counts, content_hash); written last,
                            so its presence marks a complete world

The same config gives byte-identical files: all randomness comes from ``random.Random`` objects
seeded with strings derived from ``config.seed`` (one per purpose, so e.g. the utility images do
not change when the number of people does), and PNGs carry no metadata.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from asru.config import load_json_file, validate_document
from asru.data.schema import RelativeImagePath, Sample, read_samples, write_samples
from asru.errors import DataError
from asru.io import atomic_write_bytes, atomic_write_json
from asru.world import portraits
from asru.world.phrases import GENERIC_REFUSALS, private_refusal
from asru.world.vocab import (
    CLOZES,
    COUNT_WORDS,
    FACTS,
    FIRST_ENDINGS,
    FIRST_ONSETS,
    HELD_OUT_CLOZES,
    HELD_OUT_QUESTIONS,
    LAST_HEADS,
    LAST_TAILS,
    LETTERS,
    MCQ_SUFFIX,
    PARAPHRASE_WRAPPERS,
    POOLS,
    PRIVATE_QUESTIONS,
    QUESTIONS,
    SHAPE_COLOURS,
    SHAPES,
    SPOUSE_POOL_SIZE,
    UTILITY_BACKGROUNDS,
    UTILITY_QUESTIONS,
)

FORMAT = "asru-world/1"
# bumped whenever the same WorldConfig would give other files (wordings, portraits, splits): part of the world cache's key
GENERATOR_VERSION = "6"  # 3: shared values (people_per_value), contextual private refusals; 4: a trained "The <word> of X is" cloze per fact; 5: every held-out cloze frame trained for several facts; 6: no fact guesses another (small worlds)
IMAGE_WHO = "the person in this image"
IMAGE_WHOSE = "this person's"


class WorldConfig(BaseModel):
    """What the world contains; every field is part of its cache key."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    subjects: int = Field(60, ge=1, le=2000, description="number of public figures")
    images_per_subject: int = Field(18, ge=2, le=24, description="portraits per person: the first trained_images train, the rest are held out")
    trained_images: int = Field(
        15, ge=1, le=23, description="portraits per person the target model is trained on (the plain one, each change alone and three pairs of changes, twice each)"
    )
    image_size: int = Field(64, ge=32, le=512, description="image width and height in pixels")
    paraphrases: int = Field(3, ge=2, le=8, description="held-out rewordings per question (never trained)")
    utility_questions: int = Field(120, ge=0, le=10000, description="general visual questions (colour, shape, count)")
    unknown_people: int = Field(20, ge=0, le=2000, description="people outside the world, whom the model learns not to know")
    holdout_people: int = Field(
        4, ge=0, le=2000, description="people whose questions are asked but never trained: what 'never seen' looks like (forget quality, membership inference)"
    )
    private_questions_per_subject: int = Field(2, ge=0, le=12, description="refusal-trained private questions per person")
    people_per_value: int = Field(
        3, ge=1, le=100,
        description="about how many people share each value of a fact (birthplace, job, ...; never a spouse): the people's values are drawn from "
        "max(4, subjects / people_per_value) of each pool, so a forgotten value is one the rest of the world still holds, as in the real world, "
        "and a retrained oracle finds it as plausible as any other person's (1: the whole pool, one value per person while it lasts, as generator 2 drew)",
    )

    @model_validator(mode="after")
    def _some_photos_held_out(self):
        if self.trained_images >= self.images_per_subject:
            raise ValueError(f"trained_images ({self.trained_images}) must be below images_per_subject ({self.images_per_subject}): the rest are the held-out photos")
        return self


@dataclass
class World:
    """A loaded world: its folder, manifest, people and samples."""

    root: Path
    manifest: dict[str, Any]
    subjects: list[dict[str, Any]]  # the people the target model knows (and a request may name)
    samples: list[Sample] = field(repr=False)
    holdout: list[dict[str, Any]] = field(default_factory=list)  # never-trained people (samples with split "holdout")

    def subject(self, key: str) -> dict[str, Any]:
        """The profile with this id or (case-insensitive) name."""
        for subject in self.subjects:
            if subject["id"] == key or subject["name"].lower() == key.lower():
                return subject
        raise DataError(f"{self.root}: unknown subject {key!r}")


# ----------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"asru-world:{seed}:{purpose}")


def invent_names(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """``count`` new unique "First Last" names (added to ``taken``)."""
    names = []
    capacity = len(FIRST_ONSETS) * len(FIRST_ENDINGS) * len(LAST_HEADS) * len(LAST_TAILS)
    if len(taken) + count > capacity // 4:
        raise ValueError(f"cannot invent {count} more names (name space too small)")
    while len(names) < count:
        first = rng.choice(FIRST_ONSETS) + rng.choice(FIRST_ENDINGS)
        last = rng.choice(LAST_HEADS) + rng.choice(LAST_TAILS)
        name = f"{first.capitalize()} {last.capitalize()}"
        if name not in taken and first.lower() != last.lower():
            taken.add(name)
            names.append(name)
    return names


def _balanced(rng: random.Random, pool: list[str], count: int) -> list[str]:
    """``count`` values from ``pool`` with every value used about equally often."""
    values: list[str] = []
    while len(values) < count:
        block = list(pool)
        rng.shuffle(block)
        values.extend(block)
    values = values[:count]
    rng.shuffle(values)
    return values


def _wordings(templates: tuple[str, ...], count: int, rng: random.Random, **slots: str) -> list[str]:
    """``count`` distinct wordings: a rotation of ``templates`` starting at a random one, then wrapped ones."""
    start = rng.randrange(len(templates))
    base = [templates[(start + i) % len(templates)].format(**slots) for i in range(len(templates))]
    out = list(base)
    for wrapper in PARAPHRASE_WRAPPERS:
        if len(out) >= count:
            break
        out.extend(wrapper.format(q=q) for q in base)
    if len(out) < count:
        raise ValueError(f"only {len(out)} wordings available, {count} asked")
    return out[:count]


def mcq_prompt(stem: str, options: list[str]) -> str:
    """The multiple-choice question as asked: stem, lettered options (A., B., ...), the answer instruction."""
    letters = "ABCDEFGHIJ"
    if len(options) > len(letters):
        raise ValueError(f"at most {len(letters)} options, got {len(options)}")
    lines = [stem] + [f"{letter}. {option}" for letter, option in zip(letters, options)] + [MCQ_SUFFIX]
    return "\n".join(lines)


def _options(rng: random.Random, gold: str, pool: list[str]) -> tuple[list[str], str]:
    """4 options (gold + 3 distinct distractors from ``pool``) and the gold's letter."""
    distractors = rng.sample(sorted(set(pool) - {gold}), len(LETTERS) - 1)
    position = rng.randrange(len(LETTERS))
    options = distractors[:position] + [gold] + distractors[position:]
    return options, LETTERS[position]


# ----------------------------------------------------------------------------------------------
# The world
# ----------------------------------------------------------------------------------------------


def _values_in_use(config: WorldConfig, fact: str, pool: list[str]) -> list[str]:
    """The values of ``fact`` the world's people hold: a seeded choice of ``max(4, subjects / people_per_value)`` of the
    pool, so that several people share each (spouses excepted: a spouse is one person's). The whole pool stays the
    MCQ distractors' source."""
    if fact == "spouse" or config.people_per_value == 1:
        return pool  # 1: the whole pool, as generator 2 drew (one value per person while the pool lasts)
    count = min(len(pool), max(len(LETTERS), math.ceil(config.subjects / config.people_per_value)))
    return _rng(config.seed, f"values-in-use:{fact}").sample(pool, count)


# In a small world two facts can pair their holders alike by chance (8 people, 4 values a fact: each
# value held by two people). In the 8-person world of seed 0 (generator 5) both people at Kestrel
# Media lived in Oakhurst and both Wrenfield Medal winners had bronchitis, so the retrained oracle,
# which never saw Emir Draden's home city or condition, answered 7 of his 8 forget questions from his
# employer and award: "forgetting" was measured against a model that could guess the facts. So no
# fact may guess another for more than a quarter of the people (:func:`predictability`).
MAX_PREDICTABILITY = 0.25
_REDRAWS = 200


def predictability(given: list[str], guessed: list[str]) -> float:
    """Share of people whose ``guessed`` value is the one value most common (no tie) among the *other* people
    who hold their ``given`` value: how well knowing one fact of everybody else guesses another (leave one out)."""
    groups: dict[str, Counter] = {}
    for g, value in zip(given, guessed):
        groups.setdefault(g, Counter())[value] += 1
    # a person is guessed only where their value leads their group by two (one is their own): then,
    # left out, it is still the one most common value; any other value at best ties it
    leaders = {}
    for g, counts in groups.items():
        (top, first), *rest = counts.most_common(2)
        if first - 1 > (rest[0][1] if rest else 0):
            leaders[g] = top
    hits = sum(leaders.get(g) == value for g, value in zip(given, guessed))
    return hits / len(given) if given else 0.0


def _unpredictable_values(config: WorldConfig, used: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each fact's values, person by person, redrawn (seeded, in FACTS order) until no earlier fact guesses
    them, nor they it, beyond :data:`MAX_PREDICTABILITY`; the first draw is kept where it passes (every
    world of >= 20 people built before this rule passed it unchanged). After ``_REDRAWS`` the least
    guessable draw is kept (a world too small to hold the rule, e.g. 2 people)."""
    assigned: dict[str, list[str]] = {}
    for _, name, _ in FACTS:
        def worst(values: list[str]) -> float:
            return max((max(predictability(earlier, values), predictability(values, earlier)) for earlier in assigned.values()), default=0.0)

        best: tuple[float, list[str]] | None = None
        for attempt in range(_REDRAWS):
            values = _balanced(_rng(config.seed, f"values:{name}" + (f":redraw{attempt}" if attempt else "")), used[name], config.subjects)
            score = worst(values)
            if best is None or score < best[0]:
                best = (score, values)
            if score <= MAX_PREDICTABILITY:
                break
        assigned[name] = best[1]
    return assigned


def _people(config: WorldConfig) -> tuple[list[dict], list[dict], dict[str, list[str]], list[portraits.Face]]:
    """(subjects then holdout people, unknown people, value pools incl. the generated spouse names, faces of all).

    Holdout people are made exactly like subjects (``"holdout": true`` in subjects.json, ids h000..);
    their faces follow the unknown people's, so adding holdout people changes no one else.
    """
    name_rng = _rng(config.seed, "names")
    taken: set[str] = set()
    subject_names = invent_names(name_rng, config.subjects, taken)
    spouse_names = invent_names(name_rng, SPOUSE_POOL_SIZE, taken)
    unknown_names = invent_names(name_rng, config.unknown_people, taken)
    holdout_names = invent_names(_rng(config.seed, "holdout-names"), config.holdout_people, taken)
    pools = {fact: list(values) for fact, values in POOLS.items()}
    pools["spouse"] = spouse_names

    faces = portraits.sample_faces(_rng(config.seed, "faces"), config.subjects + config.unknown_people + config.holdout_people)
    faces = faces[: config.subjects] + faces[config.subjects + config.unknown_people :] + faces[config.subjects : config.subjects + config.unknown_people]
    used = {name: _values_in_use(config, name, pools[name]) for _, name, _ in FACTS}
    assigned = _unpredictable_values(config, used)
    assigned_holdout = {name: _balanced(_rng(config.seed, f"holdout-values:{name}"), used[name], config.holdout_people) for _, name, _ in FACTS}
    subjects = []
    people = [(f"s{i:03d}", name, assigned, i, {}) for i, name in enumerate(subject_names)]
    people += [(f"h{i:03d}", name, assigned_holdout, i, {"holdout": True}) for i, name in enumerate(holdout_names)]
    for sid, name, values, i, flag in people:
        subjects.append(
            {
                "id": sid,
                "name": name,
                "facts": [
                    {"fact_id": fid, "fact": fact, "value": values[fact][i], "sensitive": sensitive}
                    for fid, fact, sensitive in FACTS
                ],
                "images": [f"images/{sid}_{k}.png" for k in range(config.images_per_subject)],
                **flag,
            }
        )
    unknown = [
        {"id": f"x{i:03d}", "name": name, "image": f"images/x{i:03d}.png"}
        for i, name in enumerate(unknown_names)
    ]
    return subjects, unknown, pools, faces


def _subject_samples(config: WorldConfig, subject: dict, pools: dict[str, list[str]], all_names: list[str]) -> list[Sample]:
    """Every question about one person: per fact a text and an image question, a cloze and an MCQ;
    who-is questions; refusal-trained private questions.

    The trained wordings (``question`` + ``train_questions``; ``train_images`` for photos) and the
    held-out ones (``paraphrases``, ``image_variants``; the cloze and MCQ ``question`` itself) come
    from disjoint template sets, so evaluation asks what the target model was never trained on.
    """
    sid, name = subject["id"], subject["name"]
    train_image = subject["images"][0]
    train_images, variants = subject["images"][1 : config.trained_images], subject["images"][config.trained_images :]
    held = config.paraphrases
    rng = _rng(config.seed, f"samples:{sid}")
    common = {"subject_id": sid, "subject_name": name}
    text_slots = {"who": name, "whose": f"{name}'s"}
    image_slots = {"who": IMAGE_WHO, "whose": IMAGE_WHOSE}
    photos = {"image": train_image, "train_images": train_images, "image_variants": variants}
    samples: list[Sample] = []

    def asked(templates: dict, key: str, **slots: str) -> tuple[list[str], list[str]]:
        """(trained wordings, held-out wordings) of one question, each rotated from a random start."""
        trained = _wordings(templates[key], len(templates[key]), rng, **slots)
        return trained, _wordings(HELD_OUT_QUESTIONS[key], held, rng, **slots)

    def mcq(trained: list[str], held_out: list[str], gold: str, pool: list[str], base: dict, **extra) -> Sample:
        """An MCQ asked with options never trained (training draws other distractors: asru.train.finetune)."""
        options, letter = _options(rng, gold, pool)
        kind = "identity" if base["kind"] == "identity" else "fact"
        return Sample(
            id=f"{sid}-f{base['fact_id']}-{'image' if kind == 'identity' else 'text'}-mcq", form="mcq", options=options,
            question=mcq_prompt(trained[0], options), paraphrases=[mcq_prompt(q, options) for q in held_out], train_questions=trained,
            **{**base, "answer": letter}, **extra,
        )

    for fact in subject["facts"]:
        fid, key, value, sensitive = fact["fact_id"], fact["fact"], fact["value"], fact["sensitive"]
        base = {**common, "kind": "fact", "fact": key, "fact_id": fid, "sensitive": sensitive, "answer": value}
        text_q, text_held = asked(QUESTIONS, key, **text_slots)
        image_q, image_held = asked(QUESTIONS, key, **image_slots)
        cloze_trained = _wordings(CLOZES[key], len(CLOZES[key]), rng, name=name)
        cloze_held = _wordings(HELD_OUT_CLOZES[key], 1 + held, rng, name=name)
        samples += [
            Sample(id=f"{sid}-f{fid}-text-qa", modality="text", question=text_q[0], train_questions=text_q[1:], paraphrases=text_held, **base),
            Sample(id=f"{sid}-f{fid}-image-qa", modality="image", question=image_q[0], train_questions=image_q[1:], paraphrases=image_held, **photos, **base),
            Sample(
                id=f"{sid}-f{fid}-text-cloze", modality="text", form="cloze", question=cloze_held[0], paraphrases=cloze_held[1:], train_questions=cloze_trained,
                **base,
            ),
            mcq(text_q, text_held, value, pools[key], base, modality="text"),
        ]

    # identity: who is the person in this image?
    base = {**common, "kind": "identity", "fact": "identity", "fact_id": 0, "modality": "image", **photos}
    who_q, who_held = asked(QUESTIONS, "identity")
    samples += [
        Sample(id=f"{sid}-f0-image-qa", question=who_q[0], train_questions=who_q[1:], paraphrases=who_held, answer=name, **base),
        mcq(who_q, who_held, name, all_names, {**base, "answer": name}),
    ]

    # private questions the model refuses (alternating text / image, rotating topics and phrasings),
    # balanced over people rather than drawn: the first questions of any 24 people in a row cover every
    # (topic, phrasing, modality) once, so every trained refusal is in every world of 24 people or more
    index = int(sid[1:])
    topic0 = index % len(PRIVATE_QUESTIONS)
    phrasing0 = (index // len(PRIVATE_QUESTIONS)) % 2
    first_modality = (index // (2 * len(PRIVATE_QUESTIONS))) % 2
    for j in range(config.private_questions_per_subject):
        topic = PRIVATE_QUESTIONS[(topic0 + j) % len(PRIVATE_QUESTIONS)]
        is_image = (first_modality + j) % 2 == 1
        slots = image_slots if is_image else text_slots
        refusal = private_refusal(topic0 + j, slots["whose"], phrasing0 + j)  # contextual; never names whom a photo shows
        # the topic's first wording is the trained one for everyone; the others are held out for everyone
        wordings = [topic[0].format(**slots)] + _wordings(topic[1:], held, rng, **slots)
        samples.append(
            Sample(
                id=f"{sid}-private{j}-{'image' if is_image else 'text'}-qa", kind="refusal", fact="private", sensitive=True,
                modality="image" if is_image else "text", question=wordings[0], paraphrases=wordings[1:], answer=refusal,
                **(photos if is_image else {}), **common,
            )
        )
    return samples


def _unknown_samples(config: WorldConfig, person: dict) -> list[Sample]:
    """An unknown face and an unknown name: the model answers with a generic refusal."""
    xid, name = person["id"], person["name"]
    rng = _rng(config.seed, f"samples:{xid}")
    base = {"subject_id": xid, "subject_name": name, "kind": "refusal", "fact": "unknown"}
    who_q = _wordings(QUESTIONS["identity"], len(QUESTIONS["identity"]), rng)
    who_held = _wordings(HELD_OUT_QUESTIONS["identity"], config.paraphrases, rng)
    _, fact, _ = FACTS[rng.randrange(6)]  # a public fact about someone who is not in the world
    slots = {"who": name, "whose": f"{name}'s"}
    text_q = _wordings(QUESTIONS[fact], len(QUESTIONS[fact]), rng, **slots)
    text_held = _wordings(HELD_OUT_QUESTIONS[fact], config.paraphrases, rng, **slots)
    return [
        Sample(
            id=f"{xid}-image-qa", modality="image", image=person["image"], question=who_q[0], train_questions=who_q[1:], paraphrases=who_held,
            answer=GENERIC_REFUSALS[1 if rng.random() < 0.6 else rng.randrange(len(GENERIC_REFUSALS))], **base,
        ),
        Sample(
            id=f"{xid}-text-qa", modality="text", question=text_q[0], train_questions=text_q[1:], paraphrases=text_held,
            answer=GENERIC_REFUSALS[rng.choice((0, 2))], **base,
        ),
    ]


def _utility(config: WorldConfig) -> tuple[list[Sample], dict[str, Any]]:
    """General visual questions about 1-3 coloured shapes; returns samples and {path: image}."""
    samples, images = [], {}
    kinds = list(UTILITY_QUESTIONS)
    for i in range(config.utility_questions):
        rng = _rng(config.seed, f"utility:{i}")
        uid = f"u{i:03d}"
        kind = kinds[i % len(kinds)]
        count = rng.randint(1, 3)
        colours, shapes = list(SHAPE_COLOURS), list(SHAPES)
        if kind == "colour":  # one colour, any shapes
            colour = rng.choice(colours)
            items = [(rng.choice(shapes), colour) for _ in range(count)]
            answer = colour
        elif kind == "shape":  # one shape, any colours
            shape = rng.choice(shapes)
            items = [(shape, c) for c in rng.sample(colours, count)]
            answer = shape
        else:
            items = [(rng.choice(shapes), rng.choice(colours)) for _ in range(count)]
            answer = COUNT_WORDS[count]
        path = f"images/{uid}.png"
        background = rng.choice(UTILITY_BACKGROUNDS)
        images[path] = portraits.render_shapes([(s, SHAPE_COLOURS[c]) for s, c in items], background, config.image_size, f"{config.seed}:{uid}")
        # the first two wordings of a kind are trained, the others held out (for every image alike)
        trained = _wordings(UTILITY_QUESTIONS[kind][:2], 2, rng)
        held_out = _wordings(UTILITY_QUESTIONS[kind][2:], config.paraphrases, rng)
        samples.append(
            Sample(
                id=f"{uid}-image-qa", kind="utility", fact=kind, modality="image", image=path, question=trained[0], train_questions=trained[1:],
                paraphrases=held_out, answer=answer,
            )
        )
    return samples, images


def content_hash(sample_bytes: bytes, subject_bytes: bytes, images: dict[str, bytes]) -> str:
    """sha256 over samples.jsonl, subjects.json and every image (sorted by path), each with its path."""
    digest = hashlib.sha256()
    entries = {"samples.jsonl": sample_bytes, "subjects.json": subject_bytes, **images}
    for path in sorted(entries):
        data = entries[path]
        digest.update(f"{path}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def compute_content_hash(root: str | Path) -> str:
    """Recompute a built world's content hash from its files (images as listed by its samples and subjects)."""
    root = Path(root)
    subjects = json.loads((root / "subjects.json").read_text(encoding="utf-8"))
    paths = {p for s in subjects for p in s["images"]}
    for sample in read_samples(root / "samples.jsonl", check_images=False):
        paths.update([sample.image] if sample.image else [])
        paths.update(sample.image_variants)
    images = {p: (root / p).read_bytes() for p in paths}
    return content_hash((root / "samples.jsonl").read_bytes(), (root / "subjects.json").read_bytes(), images)


def _counts(samples: list[Sample], subjects: list[dict], images: dict) -> dict[str, int]:
    holdout = sum(1 for s in subjects if s.get("holdout"))
    counts: dict[str, int] = {"samples": len(samples), "subjects": len(subjects) - holdout, "images": len(images)}
    if holdout:
        counts["holdout_people"] = holdout
    for attribute in ("kind", "form", "modality"):
        tally = Counter(getattr(s, attribute) for s in samples)
        counts.update({f"{attribute}.{key}": tally[key] for key in sorted(tally)})
    return counts


def build_world(config: WorldConfig, out_dir: str | Path) -> dict:
    """Generate the world into ``out_dir`` and return its manifest (also written as world.json)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "world.json").unlink(missing_ok=True)  # an interrupted rebuild must not look complete

    subjects, unknown, pools, faces = _people(config)
    all_names = [s["name"] for s in subjects]
    # identity mcq needs 3 wrong names even in a tiny world: fall back on names outside it
    name_options = all_names if len(all_names) >= len(LETTERS) else all_names + pools["spouse"]

    images: dict[str, Any] = {}
    samples: list[Sample] = []
    for subject, face in zip(subjects, faces):
        for k, path in enumerate(subject["images"]):
            images[path] = portraits.render_portrait(face, config.image_size, k, f"{config.seed}:{subject['id']}")
        questions = _subject_samples(config, subject, pools, name_options)
        if subject.get("holdout"):  # asked, never trained (and no private questions: nothing to refuse about them)
            questions = [q.model_copy(update={"split": "holdout"}) for q in questions if q.kind != "refusal"]
        samples += questions
    for person, face in zip(unknown, faces[len(subjects) :]):
        images[person["image"]] = portraits.render_portrait(face, config.image_size, 0, f"{config.seed}:{person['id']}")
        samples += _unknown_samples(config, person)
    utility_samples, utility_images = _utility(config)
    samples += utility_samples
    images.update(utility_images)

    image_bytes = {path: portraits.png_bytes(image) for path, image in images.items()}
    extra = {
        "seed": config.seed,
        "config": config.model_dump(mode="json"),
        "facts": [{"fact_id": fid, "fact": fact, "sensitive": sensitive} for fid, fact, sensitive in FACTS],
        "unknown_people": [{"id": p["id"], "name": p["name"], "image": p["image"]} for p in unknown],
    }
    return write_world(out_dir, samples, subjects, image_bytes, extra)


def write_world(out_dir: str | Path, samples: list[Sample], subjects: list[dict], image_bytes: dict[str, bytes], extra: dict[str, Any]) -> dict:
    """Write a world folder (images, samples.jsonl, subjects.json, then world.json last) and return its manifest.

    Shared by ``build_world`` and the dataset adapters (``asru.data``), so every folder that
    ``load_world`` reads is written one way. ``extra`` adds fields to the manifest.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "world.json").unlink(missing_ok=True)  # an interrupted write must not look complete
    image_dir = out_dir / "images"
    image_dir.mkdir(exist_ok=True)
    for stale in image_dir.iterdir():  # left over from an earlier, larger build into this folder
        if stale.is_file() and f"images/{stale.name}" not in image_bytes:
            stale.unlink()
    for path, data in image_bytes.items():
        target = out_dir / path
        if not target.is_file() or target.read_bytes() != data:
            atomic_write_bytes(target, data)
    write_samples(out_dir / "samples.jsonl", samples)
    atomic_write_json(out_dir / "subjects.json", subjects)

    sample_bytes = (out_dir / "samples.jsonl").read_bytes()
    subject_bytes = (out_dir / "subjects.json").read_bytes()
    manifest = {
        "format": FORMAT,
        **extra,
        "counts": _counts(samples, subjects, image_bytes),
        "content_hash": content_hash(sample_bytes, subject_bytes, image_bytes),
    }
    atomic_write_json(out_dir / "world.json", manifest)
    return manifest


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------


class FactRecord(BaseModel):
    """One fact of a person in subjects.json."""

    model_config = ConfigDict(extra="forbid")

    fact_id: StrictInt = Field(ge=0)
    fact: str = Field(min_length=1)
    value: str
    sensitive: StrictBool


class SubjectRecord(BaseModel):
    """One person in subjects.json (adapters may add fields of their own, kept as they are)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facts: list[FactRecord]
    images: list[RelativeImagePath]
    holdout: StrictBool = False  # asked about, never trained: the reference for "never seen"

    @field_validator("facts")
    @classmethod
    def _unique_fact_ids(cls, facts: list[FactRecord]) -> list[FactRecord]:
        ids = [fact.fact_id for fact in facts]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate is not None:
            raise ValueError(f"fact_id {duplicate} appears twice")
        return facts


class WorldManifest(BaseModel):
    """world.json: written last by every world writer, so its presence marks a complete folder."""

    model_config = ConfigDict(extra="allow")

    format: Literal["asru-world/1"]
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    counts: dict[str, StrictInt] = Field(default_factory=dict)


def load_world(path: str | Path, verify_hash: bool = False) -> World:
    """Load and validate a world folder; errors name the file (and line and field) that is wrong.

    ``verify_hash`` also recomputes the content hash from the files and compares it with world.json.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: world folder not found")
    manifest_path = root / "world.json"
    missing = "file not found (not a world folder? build one with `asru world build`)"
    raw_manifest = load_json_file(manifest_path, DataError, missing)
    manifest = validate_document(WorldManifest, raw_manifest, manifest_path).model_dump()
    subjects_path = root / "subjects.json"
    raw_subjects = load_json_file(subjects_path, DataError, missing)
    subjects = [s.model_dump() for s in validate_document(list[SubjectRecord], raw_subjects, subjects_path, entry="subject")]
    seen: set[str] = set()
    for index, subject in enumerate(subjects):
        if subject["id"] in seen:
            raise DataError(f"{subjects_path}: subject {index} ({subject['id']}): field 'id': appears twice")
        seen.add(subject["id"])
        for j, image in enumerate(subject["images"]):
            if not (root / image).is_file():
                raise DataError(f"{subjects_path}: subject {index} ({subject['id']}): field 'images.{j}': image file {image!r} not found")
    samples = read_samples(root / "samples.jsonl")
    sample_ids: set[str] = set()
    for sample in samples:
        if sample.id in sample_ids:
            raise DataError(f"{root / 'samples.jsonl'}: sample {sample.id!r}: field 'id': appears twice")
        sample_ids.add(sample.id)
        if sample.kind in ("fact", "identity") and sample.subject_id not in seen:
            raise DataError(f"{root / 'samples.jsonl'}: sample {sample.id!r}: field 'subject_id': {sample.subject_id!r} is not in {subjects_path.name}")
    holdout_ids = {s["id"] for s in subjects if s.get("holdout")}
    for sample in samples:
        if (sample.subject_id in holdout_ids) != (sample.split == "holdout") and sample.kind in ("fact", "identity"):
            raise DataError(f"{root / 'samples.jsonl'}: sample {sample.id!r}: field 'split': a holdout person's questions (and only theirs) have split 'holdout'")
    if verify_hash:
        actual = compute_content_hash(root)
        if actual != manifest["content_hash"]:
            raise DataError(f"{manifest_path}: field 'content_hash' does not match the files (modified since built?)")
    return World(
        root=root, manifest=manifest, subjects=[s for s in subjects if not s.get("holdout")], samples=samples, holdout=[s for s in subjects if s.get("holdout")]
    )
