"""Deletion requests applied one after another: the chain a model carries from run to run.

``asru unlearn --model RUN1/model --requests req2.yaml`` continues from a model that earlier runs
unlearned. Each step appends one :class:`ChainEntry` (the request's id, date, hash and resolved
people and facts) to the chain recorded in the input model's ``unlearning.json``
(:mod:`asru.report.model_card`), so that

- the step trains to forget only its own request, while every fact any request of the chain names
  stays out of the retain data (training on it again would bring it back);
- the run is evaluated on the union of the chain (its forget split), with metrics per request,
  so a user sees that each earlier request still holds;
- a request that is already in the chain is refused (one line), not applied twice.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from asru.data.schema import Sample
from asru.errors import ConfigError
from asru.eval.metrics import aggregate
from asru.eval.settings import (
    DeletionRequest,
    Setting,
    describe_requests,
)
from asru.report.results import RequestRecord

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# the splits whose answers are regrouped per request: the forget questions, asked as trained and reworded
REQUEST_SPLITS = ("forget", "test_forget")


class ChainEntry(BaseModel):
    """One deletion request applied to the model: what it named, where it came from, when and by which run."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, description="the request file's name without extension, or setting-ratio-seed for the benchmark's default requests")
    date: str = Field(min_length=1, description="when the run that applied it started (ISO 8601)")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="of the request file's bytes, or of the default requests as JSON")
    file: str | None = Field(None, description="the request file (None: the setting's default requests for forget_ratio and seed)")
    setting: Setting
    method: str = Field(min_length=1)
    run: str = Field(min_length=1, description="the run folder that applied it")
    requests: list[RequestRecord] = Field(min_length=1, description="as resolved against the world: subject ids and fact ids (0: identity)")


def canonical_sha256(requests: list[DeletionRequest]) -> str:
    """The hash of requests that come from no file (the setting's default requests)."""
    text = json.dumps([r.model_dump(mode="json") for r in requests], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_entry(
    world, requests: list[DeletionRequest], *, setting: str, method: str, run: str | Path, file: str | Path | None = None,
    file_bytes: bytes | None = None, default_id: str = "requests",
) -> ChainEntry:
    """The chain entry of one step. ``file``: where the requests come from (hashed from ``file_bytes``, else read)."""
    if file is not None:
        data = file_bytes if file_bytes is not None else Path(file).read_bytes()
        sha256, entry_id = hashlib.sha256(data).hexdigest(), Path(file).stem
    else:
        sha256, entry_id = canonical_sha256(requests), default_id
    if not re.match(ID_PATTERN, entry_id):
        entry_id = re.sub(r"[^A-Za-z0-9_.-]", "_", entry_id).lstrip("_.-") or "requests"
    return ChainEntry(
        id=entry_id, date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"), sha256=sha256,
        file=str(file) if file is not None else None, setting=setting, method=method, run=str(run),
        requests=[RequestRecord.model_validate(r) for r in describe_requests(world, requests)],
    )


def _named(entry: ChainEntry) -> list[tuple[str, tuple[int, ...]]]:
    return sorted((r.subject_id, tuple(sorted(r.fact_ids))) for r in entry.requests)


def extend(chain: list[ChainEntry], entry: ChainEntry, model: str | Path) -> list[ChainEntry]:
    """``chain`` + ``entry``; a request already in the chain (same file bytes or the same people and facts) is a ConfigError."""
    for step, earlier in enumerate(chain, start=1):
        if earlier.sha256 == entry.sha256 or _named(earlier) == _named(entry):
            raise ConfigError(
                f"deletion request {entry.file or entry.id!r} is already in the chain of {model} (step {step}: {earlier.id!r}, applied {earlier.date} by {earlier.run}); "
                "the model has forgotten it: pass a new request, or the model it was applied to"
            )
        if earlier.id == entry.id:
            raise ConfigError(f"deletion request id {entry.id!r} (from {entry.file}) is already in the chain of {model} (step {step}, another request); rename the file")
    return [*chain, entry]


def chain_requests(chain: list[ChainEntry]) -> list[DeletionRequest]:
    """Every request of the chain, as resolved: together they are the run's forget split."""
    return [DeletionRequest(subject=r.subject_id, facts=list(r.fact_ids)) for entry in chain for r in entry.requests]


def entry_targets(entry: ChainEntry) -> dict[str, set[int]]:
    """``{subject id: fact ids}`` of one entry (already resolved: no world needed)."""
    targets: dict[str, set[int]] = {}
    for record in entry.requests:
        targets.setdefault(record.subject_id, set()).update(record.fact_ids)
    return targets


def _named_by(sample: Sample, targets: dict[str, set[int]]) -> bool:
    return sample.subject_id in targets and sample.fact_id in targets[sample.subject_id]


def training_splits(splits: dict[str, list[Sample]], entry: ChainEntry) -> dict[str, list[Sample]]:
    """The splits one step trains on: forget only the new request; the earlier ones are in no split to train on.

    ``splits`` come from the chain's union (so the retain splits already leave out every fact any
    request names); only the forget splits are narrowed to the new entry.
    """
    targets = entry_targets(entry)
    return {**splits, **{name: [s for s in splits.get(name, []) if _named_by(s, targets)] for name in REQUEST_SPLITS}}


def request_metrics(chain: list[ChainEntry], splits: dict[str, list[Sample]], answers: list[dict]) -> dict[str, dict]:
    """Per request of the chain: ``{"metrics": {forget, test_forget: {...}}, "attacks": {attack: {...}}}`` from the answers.

    The same :func:`asru.eval.metrics.aggregate` as the splits' ``all`` numbers, over the answers
    to the questions that request names (an attack's answers too), so a request that an earlier
    step forgot and a later one brought back shows, even when the union's leakage stays low.
    """
    out = {}
    for entry in chain:
        targets = entry_targets(entry)
        ids = {s.id for name in REQUEST_SPLITS for s in splits.get(name, []) if _named_by(s, targets)}
        grouped: dict[str, list[dict]] = {}
        for record in answers:
            split = record.get("split", "")
            if record.get("id") in ids and (split in REQUEST_SPLITS or split.startswith("attack:")):
                grouped.setdefault(split, []).append(record)
        out[entry.id] = {
            "metrics": {name: aggregate(grouped[name]) for name in REQUEST_SPLITS if name in grouped},
            "attacks": {split.split(":", 1)[1]: aggregate(records) for split, records in sorted(grouped.items()) if split.startswith("attack:")},
        }
    return out


def chain_table(chain: list[ChainEntry]) -> tuple[list[str], list[list]]:
    """Header and rows of the chain for Markdown (reports, model cards): step, id, date, hash, people and facts, method, run."""
    rows = []
    for step, entry in enumerate(chain, start=1):
        people = "; ".join(f"{r.subject or r.subject_id}: facts {', '.join(map(str, r.fact_ids))}" for r in entry.requests)
        rows.append([step, entry.id, entry.date, entry.sha256[:12], entry.file or "(default requests)", people, entry.method, entry.run])
    return ["step", "request", "date", "sha256", "file", "people: facts (0 = identity)", "method", "run"], rows


def default_entry_id(setting: str, forget_ratio: float, seed: int) -> str:
    """The id of the setting's default requests (no file): what picks them."""
    return f"{setting}-{forget_ratio:g}-seed{seed}"
