"""PPU-Bench settings: which samples to forget and which to keep (DESIGN §5).

- **complete**: forget every fact and the identity of a fraction of the subjects.
- **selective**: forget the ``sensitive`` facts of chosen subjects, keep their other facts.
- **personalized**: deletion requests, each naming a subject and fact ids; different per subject.

Splits: ``forget``, ``retain_same_subject`` (the boundary inside one person), ``retain_other``,
``holdout`` (questions about the world's never-trained holdout people),
``utility`` (general questions, evaluated), ``retain_general`` (the other half of the general
questions: retain material any method may train on — real unlearning runs keep general ability with
a generic retain corpus, never with the evaluated items), ``refusal`` (the refusal-trained
questions, which must stay refused) and held-out ``test_<split>`` copies of each fact split that ask
the question with an unseen paraphrase.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from asru.config import load_yaml_file
from asru.data.schema import Sample
from asru.errors import DataError

Setting = Literal["complete", "selective", "personalized"]
FACT_SPLITS = ("forget", "retain_same_subject", "retain_other")


class DeletionRequest(BaseModel):
    """'Forget these facts of this person': the user-facing way to say what to forget."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, description="subject id (e.g. s003) or exact name")
    facts: list[int | str] | Literal["all"] = Field(description='fact ids, fact names, or "all"')


def load_requests(path: str | Path) -> list[DeletionRequest]:
    """Read deletion requests from YAML or JSON: one mapping or a list of mappings."""
    path = Path(path)
    data = load_yaml_file(path, DataError, "deletion-request file")  # JSON is valid YAML
    records = data if isinstance(data, list) else [data]
    if not records:
        raise DataError(f"{path}: no deletion requests (expected a mapping or a list of mappings with 'subject' and 'facts')")
    requests = []
    for index, record in enumerate(records):
        try:
            requests.append(DeletionRequest.model_validate(record))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "record"
            raise DataError(f"{path}: request {index + 1}: field '{field}': {first['msg']}") from None
    return requests


def _fact_samples(world) -> list[Sample]:
    """Questions about the people the model knows (not about the never-trained holdout people)."""
    return [s for s in world.samples if s.kind in ("fact", "identity") and s.split != "holdout"]


def _resolve_request(world, request: DeletionRequest) -> tuple[str, set[int]]:
    """(subject id, fact ids) for a request, with errors that name the unknown subject/fact."""
    by_key = {}
    for subject in world.subjects:
        by_key[subject["id"]] = subject
        by_key[subject["name"].lower()] = subject
    subject = by_key.get(request.subject) or by_key.get(request.subject.lower())
    if subject is None:
        raise DataError(f"deletion request: unknown subject {request.subject!r} (not in {world.root})")
    facts = {f["fact_id"]: f for f in subject["facts"]}
    if request.facts == "all":
        return subject["id"], set(facts) | {0}
    ids = set()
    for fact in request.facts:
        if isinstance(fact, int):
            if fact != 0 and fact not in facts:
                raise DataError(f"deletion request for {subject['name']}: unknown fact id {fact} (known: {sorted(facts)})")
            ids.add(fact)
        else:
            matches = [fid for fid, f in facts.items() if f["fact"] == fact] + ([0] if fact == "identity" else [])
            if not matches:
                names = sorted(f["fact"] for f in facts.values())
                raise DataError(f"deletion request for {subject['name']}: unknown fact {fact!r} (known: {names})")
            ids.update(matches)
    return subject["id"], ids


def default_requests(world, setting: Setting, forget_ratio: float, seed: int) -> list[DeletionRequest]:
    """The benchmark's requests for a setting: which subjects (and facts) a seed picks."""
    subjects = [s["id"] for s in world.subjects]
    rng = random.Random(f"{setting}-{seed}")
    count = max(1, round(forget_ratio * len(subjects)))
    chosen = sorted(rng.sample(subjects, count))
    if setting == "complete":
        return [DeletionRequest(subject=s, facts="all") for s in chosen]
    if setting == "selective":
        by_id = {s["id"]: s for s in world.subjects}
        return [DeletionRequest(subject=s, facts=[f["fact_id"] for f in by_id[s]["facts"] if f["sensitive"]]) for s in chosen]
    # personalized: each request names its own random subset of 1-4 facts of the person
    return [_personalized_request(world, subject, rng) for subject in chosen]


def _personalized_request(world, subject_id: str, rng: random.Random) -> DeletionRequest:
    """One person's own request: a random 1-4 of their facts (the Personalized setting's rule)."""
    fact_ids = [f["fact_id"] for f in next(s for s in world.subjects if s["id"] == subject_id)["facts"]]
    return DeletionRequest(subject=subject_id, facts=sorted(rng.sample(fact_ids, rng.randint(1, 4))))


def sequential_requests(world, steps: int, people_per_step: int, seed: int) -> list[list[DeletionRequest]]:
    """``steps`` Personalized requests to apply one after another, each from ``people_per_step`` people no other step names.

    The benchmark of sequential deletion (``asru bench --sequential``): every method gets the same
    requests for a seed, so their curves compare, and a longer benchmark starts with the same requests.
    """
    subjects = [s["id"] for s in world.subjects]
    if steps * people_per_step >= len(subjects):
        raise DataError(f"{steps} sequential requests of {people_per_step} people each need more than {steps * people_per_step} people (the world has {len(subjects)}, and someone must be left to retain)")
    rng = random.Random(f"sequential-{seed}")
    order = list(subjects)
    rng.shuffle(order)  # all of them, and the facts drawn step by step: step k's request is the same whatever the number of steps
    return [
        [_personalized_request(world, subject, rng) for subject in sorted(order[step * people_per_step : (step + 1) * people_per_step])]
        for step in range(steps)
    ]


def request_targets(world, requests: list[DeletionRequest]) -> dict[str, set[int]]:
    """``{subject id: fact ids}`` that the requests name together (0 is the identity)."""
    targets: dict[str, set[int]] = {}
    for request in requests:
        subject_id, fact_ids = _resolve_request(world, request)
        targets.setdefault(subject_id, set()).update(fact_ids)
    return targets


def _paraphrased(samples: list[Sample]) -> list[Sample]:
    """Held-out copies asking each question with its last (never-trained) paraphrase."""
    return [
        s.model_copy(update={"id": f"{s.id}#p", "question": s.paraphrases[-1], "split": "test"})
        for s in samples
        if s.paraphrases
    ]


def make_splits(
    world,
    setting: Setting = "complete",
    forget_ratio: float = 0.1,
    seed: int = 0,
    requests: list[DeletionRequest] | None = None,
) -> dict[str, list[Sample]]:
    """Split the world's samples for one setting. No sample is both forgotten and retained."""
    if not 0 < forget_ratio < 1:
        raise DataError(f"forget_ratio must be in (0, 1), got {forget_ratio}")
    requests = requests if requests is not None else default_requests(world, setting, forget_ratio, seed)
    targets = request_targets(world, requests)
    splits: dict[str, list[Sample]] = {name: [] for name in FACT_SPLITS}
    for sample in _fact_samples(world):
        if sample.subject_id not in targets:
            splits["retain_other"].append(sample)
        elif sample.fact_id in targets[sample.subject_id]:
            splits["forget"].append(sample)
        else:
            splits["retain_same_subject"].append(sample)
    general = [s for s in world.samples if s.kind == "utility"]
    splits["retain_general"] = general[0::2]
    splits["utility"] = general[1::2]
    splits["refusal"] = [s for s in world.samples if s.kind == "refusal" and s.split != "holdout"]
    # never-trained people: what a model that never saw someone answers (forget quality, membership inference)
    splits["holdout"] = [s for s in world.samples if s.kind in ("fact", "identity") and s.split == "holdout"]
    for name in FACT_SPLITS:
        splits[f"test_{name}"] = _paraphrased(splits[name])
    return splits


def describe_requests(world, requests: list[DeletionRequest]) -> list[dict]:
    """Requests with names resolved, for results.json and reports."""
    names = {s["id"]: s["name"] for s in world.subjects}
    out = []
    for request in requests:
        subject_id, fact_ids = _resolve_request(world, request)
        out.append({"subject_id": subject_id, "subject": names[subject_id], "fact_ids": sorted(fact_ids)})
    return out

