"""What a run folder holds, typed: ``results.json`` and ``answers.jsonl`` as ``asru unlearn`` / ``asru eval`` write them.

``asru report``, ``asru audit``, ``asru bench`` and ``asru demo`` read run folders that a user may
have moved, edited or truncated; each file goes through these schemas first, so a malformed value
is one line naming the file, the entry and the field, never a crash inside a plot or a table.
Metric names stay open (new measures appear over time) but every metric value must be a number,
null, or a list / mapping of them, which is what the tables and plots can draw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StrictInt, ValidationError

from asru.config import describe_validation_error, load_json_file, validate_document
from asru.errors import DataError



def _metric_value(value: Any, where: str = "") -> Any:
    """A number, null, or a list / mapping of them, as deep as a metric needs (label shares, per-layer curves).

    Checked by hand rather than as a recursive Union, whose errors name the union's members
    instead of the value that is wrong.
    """
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            _metric_value(item, f"{where}[{index}]")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            _metric_value(item, f"{where}.{key}")
        return value
    raise ValueError(f"{where.lstrip('.') + ': ' if where else ''}expected a number, null, or a list / mapping of them, got {type(value).__name__}")


MetricValue = Annotated[Any, PlainValidator(_metric_value)]


class RequestRecord(BaseModel):
    """One deletion request as the run resolved it (subject id and fact ids)."""

    model_config = ConfigDict(extra="allow")

    subject_id: str = Field(min_length=1)
    fact_ids: list[StrictInt]
    subject: str | None = None


class WorldRecord(BaseModel):
    """The world a run used: where it was and its content hash (checked again by ``asru audit``)."""

    model_config = ConfigDict(extra="allow")

    path: str = Field(min_length=1)
    hash: str | None = None


class OracleRecord(BaseModel):
    """The retrained oracle a run's gone-or-hidden measures compared with (asru.eval.oracle), or why there was none."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    reason: str | None = None


class TargetRecord(BaseModel):
    """The model the run started from and its own metrics on the same questions: the report's "target" column."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    metrics: dict[str, dict[str, dict[str, MetricValue]]] = Field(default_factory=dict)


class RunResults(BaseModel):
    """results.json (DESIGN §9): ``metrics[split][subset][metric]``, ``attacks[attack][metric]`` and the
    gone-or-hidden sections (``forget_quality``, ``membership``, ``answer_ranking``, ``linear_probe``)."""

    model_config = ConfigDict(extra="allow")

    method: str = Field(min_length=1)
    setting: Literal["complete", "selective", "personalized"]
    model: str = Field(min_length=1)
    world: WorldRecord
    requests: list[RequestRecord]
    metrics: dict[str, dict[str, dict[str, MetricValue]]]
    attacks: dict[str, dict[str, MetricValue]] = Field(default_factory=dict)
    target: TargetRecord | None = None  # absent in runs written before it
    # gone or hidden, against the retrained oracle (asru.eval.oracle); absent in runs written before them
    oracle: OracleRecord | None = None
    forget_quality: dict[str, MetricValue] = Field(default_factory=dict)
    membership: dict[str, MetricValue] = Field(default_factory=dict)
    answer_ranking: dict[str, MetricValue] = Field(default_factory=dict)
    linear_probe: dict[str, MetricValue] = Field(default_factory=dict)
    timing: dict[str, MetricValue] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)


class AnswerRecord(BaseModel):
    """One line of answers.jsonl: a question, its gold, the model's answer and the judge's label."""

    model_config = ConfigDict(extra="allow")

    split: str
    id: str
    question: str | None = None
    gold: str | None = None
    pred: str | None = None
    label: str | None = None
    target_answer: str | None = None  # what the model the run started from said (absent in older runs)


def load_results(run: str | Path) -> dict:
    """A run folder's results.json, validated (the dict as written, so every consumer reads one shape)."""
    path = Path(run) / "results.json"
    data = load_json_file(path, DataError, f"not found (is {run} a run folder? run `asru unlearn` or `asru eval` first)")
    validate_document(RunResults, data, path)
    return data


def load_answers(run: str | Path) -> list[dict]:
    """A run folder's answers.jsonl (empty when absent), each line validated; errors name file and line."""
    path = Path(run) / "answers.jsonl"
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    answers = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}:{number}: invalid JSON ({error.msg})") from None
        except RecursionError:
            raise DataError(f"{path}:{number}: invalid JSON (nested too deeply)") from None
        try:
            AnswerRecord.model_validate(record)
        except ValidationError as error:
            raise DataError(describe_validation_error(error, f"{path}:{number}")) from None
        answers.append(record)
    return answers
