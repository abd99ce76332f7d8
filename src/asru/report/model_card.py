"""The record that travels with a saved model: ``unlearning.json`` and a Hugging Face ``README.md`` model card.

``asru unlearn`` writes both into ``RUN/model`` once the run is evaluated; ``asru audit`` adds its
verdict. The next ``asru unlearn --model RUN/model`` reads the chain of requests from
``unlearning.json`` alone (no run folder needed), and ``asru audit RUN/model`` re-runs the checks
against it. The JSON goes through :class:`ModelRecord` on every read, so a hand-edited or truncated
file is one line naming the file and the field.

unlearning.json (``format: asru.unlearning/1``)::

    {"format", "base_model" (the model before any request), "parent_model" (this step's input),
     "world": {"path", "hash"}, "chain": [ChainEntry, oldest first], "method", "config" (the last
     step's UnlearnConfig), "method_params" (its parameters, defaults filled in), "run",
     "metrics" (the headline numbers of results.json), "request_metrics" ({request id: {"metrics":
     {forget, test_forget: {...}}, "attacks": {...}}}), "audit" (null, or asru audit's verdict), "versions"}
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from asru.config import load_json_file, validate_document
from asru.errors import DataError
from asru.eval.chain import ChainEntry, chain_table
from asru.io import atomic_write_json, atomic_write_text
from asru.report.results import MetricValue, WorldRecord

FORMAT = "asru.unlearning/1"
RECORD_FILE = "unlearning.json"
CARD_FILE = "README.md"
TAGS = ["machine-unlearning", "asru", "vision-language"]


class CheckRecord(BaseModel):
    """One check of an audit: its leakage against its threshold."""

    model_config = ConfigDict(extra="allow")

    leakage: float | None = None
    threshold: float | None = None
    passed: bool = False
    n: int | None = None


class RequestVerdict(BaseModel):
    """An audit's verdict on one request of the chain."""

    model_config = ConfigDict(extra="allow")

    verdict: Literal["pass", "fail"]
    failed: list[str] = Field(default_factory=list)
    checks: dict[str, CheckRecord] = Field(default_factory=dict)


class AuditRecord(BaseModel):
    """What ``asru audit`` found (the same dict as a run's audit.json), with when it ran."""

    model_config = ConfigDict(extra="allow")

    verdict: Literal["pass", "fail"]
    failed: list[str]
    checks: dict[str, CheckRecord]
    requests: dict[str, RequestVerdict] = Field(default_factory=dict, description="per request of the chain")
    date: str = Field(min_length=1)
    max_leakage: float


class RequestMetrics(BaseModel):
    """One request's own numbers, as results.json's ``request_metrics`` holds them."""

    model_config = ConfigDict(extra="forbid")

    metrics: dict[str, dict[str, MetricValue]] = Field(default_factory=dict, description="forget, test_forget: aggregate()")
    attacks: dict[str, dict[str, MetricValue]] = Field(default_factory=dict)


class ModelRecord(BaseModel):
    """unlearning.json: which requests the model has forgotten, how, and how well."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["asru.unlearning/1"] = FORMAT
    base_model: str = Field(min_length=1, description="the model before the first request of the chain")
    parent_model: str = Field(min_length=1, description="the model the last step started from")
    world: WorldRecord
    chain: list[ChainEntry] = Field(min_length=1, description="every request applied, oldest first")
    method: str = Field(min_length=1, description="the last step's method")
    config: dict[str, Any] = Field(description="the last step's UnlearnConfig, resolved")
    method_params: dict[str, Any] = Field(default_factory=dict, description="the last step's method parameters, defaults filled in")
    run: str = Field(min_length=1, description="the run folder that saved the model")
    metrics: dict[str, MetricValue] = Field(default_factory=dict, description="the headline numbers of the run's results.json")
    request_metrics: dict[str, RequestMetrics] = Field(default_factory=dict)
    audit: AuditRecord | None = None
    versions: dict[str, str] = Field(default_factory=dict)


def record_from_run(results: dict, chain: list[ChainEntry], *, base_model: str, config: dict, method_params: dict, run: str | Path) -> ModelRecord:
    """The record of a model an ``asru unlearn`` run saved and evaluated (``results``: its results.json)."""
    from asru.report.writer import headline

    return ModelRecord(
        base_model=base_model, parent_model=results["model"], world=WorldRecord.model_validate(results["world"]), chain=chain,
        method=results["method"], config=config, method_params=method_params, run=str(run), metrics=headline(results),
        request_metrics=results.get("request_metrics", {}), versions={k: str(v) for k, v in results.get("versions", {}).items()},
    )


def load_model_record(model_dir: str | Path) -> ModelRecord | None:
    """The model's unlearning.json, validated; None for a model no asru run saved (a target, a hub id)."""
    path = Path(model_dir) / RECORD_FILE
    if not path.is_file():
        return None
    return validate_document(ModelRecord, load_json_file(path, DataError, "unlearning record"), path)


def write_model_card(model_dir: str | Path, record: ModelRecord) -> None:
    """unlearning.json and README.md, each written atomically."""
    model_dir = Path(model_dir)
    atomic_write_json(model_dir / RECORD_FILE, record.model_dump(mode="json"))
    atomic_write_text(model_dir / CARD_FILE, render_card(record, model_dir))


def add_audit(model_dir: str | Path, audit: dict) -> None:
    """Put an audit's verdict into the model's record and card (a model without a record is left as it is)."""
    record = load_model_record(model_dir)
    if record is None:
        return
    dated = {**audit, "date": audit.get("date") or datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
    write_model_card(model_dir, record.model_copy(update={"audit": AuditRecord.model_validate(dated)}))


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows])


def _audit_section(record: ModelRecord, model_dir: Path) -> list[str]:
    if record.audit is None:
        return ["## Audit", "", f"Not audited yet: `asru audit {model_dir}` re-runs every check (direct questions, prompt attacks, relearning) against the requests above and writes its verdict here.", ""]
    audit = record.audit
    lines = ["## Audit", "", f"**{audit.verdict.upper()}** ({audit.date}; leakage allowed {audit.max_leakage:g} unless a check says otherwise)."]
    if audit.failed:
        lines[-1] += " Failed: " + ", ".join(audit.failed) + "."
    rows = [[name, c.leakage, c.threshold, c.n, "pass" if c.passed else "FAIL"] for name, c in audit.checks.items()]
    lines += ["", _table(["check (every request together)", "leakage", "threshold", "n", "verdict"], rows), ""]
    if audit.requests:
        rows = [
            [rid, r.verdict.upper(), max((c.leakage for c in r.checks.values() if c.leakage is not None), default=None), ", ".join(r.failed) or "–"]
            for rid, r in audit.requests.items()
        ]
        lines += ["Each request on its own:", "", _table(["request", "verdict", "worst leakage", "failed checks"], rows), ""]
    return lines


def render_card(record: ModelRecord, model_dir: str | Path = ".") -> str:
    """The README.md model card: the Hugging Face YAML header, then the chain, method, audit and metrics."""
    model_dir = Path(model_dir)
    header = yaml.safe_dump(
        {"base_model": record.base_model, "library_name": "transformers", "pipeline_tag": "image-text-to-text", "tags": [*TAGS, record.method]},
        sort_keys=False, allow_unicode=True,
    )
    count = len(record.chain)
    world_hash = (record.world.hash or "")[:12]
    lines = [
        "---", header.rstrip(), "---", "",
        f"# {Path(record.base_model).name or record.base_model} after {count} deletion request{'s' if count != 1 else ''}", "",
        f"Unlearned with asru's method `{record.method}`, saved by the run `{record.run}` from `{record.parent_model}`. "
        f"The model before any request: `{record.base_model}`. World: `{record.world.path}`" + (f" (content hash {world_hash})." if world_hash else "."),
        "Loads with plain transformers (`AutoModelForImageTextToText.from_pretrained`) or `asru.models.load_vlm`. "
        f"The same content, machine-readable: `{RECORD_FILE}`.", "",
        "## Deletion requests applied (oldest first)", "", _table(*chain_table(record.chain)), "",
        f"## Method and config (last step: `{record.method}`)", "",
        "```yaml", yaml.safe_dump(record.config, sort_keys=False, allow_unicode=True).rstrip(), "```", "",
    ]
    if record.method_params:
        lines += ["Method parameters (defaults filled in):", "", "```yaml", yaml.safe_dump(record.method_params, sort_keys=False, allow_unicode=True).rstrip(), "```", ""]
    lines += _audit_section(record, model_dir)
    lines += [f"## Key metrics (from `{Path(record.run) / 'results.json'}`)", "", _table(["metric", "value"], [[k, v] for k, v in record.metrics.items()]), ""]
    if record.request_metrics:
        rows = []
        for rid, per in record.request_metrics.items():
            worst = max((v for v in (_number(a.get("leakage")) for a in per.attacks.values()) if v is not None), default=None)
            forget, reworded = per.metrics.get("forget", {}), per.metrics.get("test_forget", {})
            rows.append([rid, forget.get("n"), forget.get("leakage"), forget.get("n_known"), forget.get("leakage_known"), forget.get("refusal_rate"), reworded.get("leakage"), worst])
        lines += [
            "Each request on its own (leakage: the fraction of its questions answered with the forgotten fact; "
            "known: over the questions the model before any request answered correctly):", "",
            _table(["request", "questions", "leakage", "known", "leakage (known)", "refusal rate", "leakage, reworded", "worst leakage under attack"], rows), "",
        ]
    lines += [
        "## Check it again", "",
        f"`asru audit {model_dir}` (add `--world WORLD` if the world has moved) asks every request's questions again, under every attack, and updates this card. "
        f"`asru unlearn --model {model_dir} --requests NEXT.yaml ...` applies a further request and keeps this chain.", "",
    ]
    return "\n".join(lines)
