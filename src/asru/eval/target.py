"""What the target model knows: accuracy per question type, the bar the finetune recipe must pass."""

from __future__ import annotations

from collections import defaultdict

from rich.table import Table

from asru.data.collate import Encoder
from asru.data.schema import Sample
from asru.eval.generate import generate_answers
from asru.eval.metrics import exact_match, is_refusal, mcq_correct

# Question types the recipe is judged on (issue: text >= 95 %, image >= 90 %, refusal >= 95 %).
BARS = {"text_qa": 0.95, "image_qa": 0.90, "refusal": 0.95}


def question_type(sample: Sample) -> str:
    """The row of the accuracy table a sample belongs to."""
    if sample.kind == "refusal":
        return "refusal"
    if sample.kind == "utility":
        return "utility"
    if sample.form != "qa":
        return f"{sample.modality}_{sample.form}"
    if sample.kind == "identity":
        return "identity"
    return f"{sample.modality}_qa"


def score(sample: Sample, answer: str) -> float:
    """1.0 if ``answer`` is right for ``sample`` (refusal questions: right means a refusal)."""
    if sample.kind == "refusal":
        return float(is_refusal(answer))
    if sample.form == "mcq":
        return mcq_correct(answer, sample.answer, sample.options)
    return exact_match(answer, sample.answer)


def target_accuracy(model, processor, world, samples: list[Sample] | None = None, batch_size: int = 64) -> dict:
    """Greedy-decode every training question and report accuracy per question type."""
    samples = [s for s in (samples or world.samples) if s.split == "train"]
    encoder = Encoder(processor, world.root)
    answers = generate_answers(model, encoder, [encoder.encode_sample(s, with_answer=False) for s in samples], batch_size=batch_size)
    totals: dict[str, list[float]] = defaultdict(list)
    for sample, answer in zip(samples, answers):
        totals[question_type(sample)].append(score(sample, answer))
    return {kind: {"n": len(values), "accuracy": sum(values) / len(values)} for kind, values in sorted(totals.items())}


def print_accuracy_table(console, accuracy: dict, title: str = "target model") -> None:
    table = Table(title=title)
    table.add_column("question type")
    table.add_column("n", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("bar", justify="right")
    for kind, row in accuracy.items():
        bar = BARS.get(kind)
        ok = "" if bar is None else ("[green]pass[/green]" if row["accuracy"] >= bar else "[red]below[/red]")
        table.add_row(kind, str(row["n"]), f"{row['accuracy']:.1%}", f"{bar:.0%} {ok}" if bar else "")
    console.print(table)
