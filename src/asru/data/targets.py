"""Fine-tuning-free unlearning targets (PPU-Bench): the model's own answers become the gold answers.

A real model already knows public figures, so nothing is injected first: ``asru targets`` asks
the model every fact question once (greedy, batched by :func:`asru.eval.generate.generate_answers`)
and writes a copy of the dataset whose answers are what the model said. Unlearning then removes
exactly what this model knows, and leakage is measured against it. Multiple-choice golds stay the
release's letters (the model's pick would make a wrong pick "known"); refusal-trained and utility
questions keep their answers. ``targets.jsonl`` keeps every original answer beside the new one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from asru.data.collate import Encoder
from asru.errors import DataError
from asru.eval.generate import generate_answers
from asru.io import atomic_write_text
from asru.world.generate import write_world

TARGET_FORMS = ("qa", "cloze")
CARRIED_FOLDERS = ("requests", "attacks")  # written by the dataset adapters beside the samples


def record_targets(model, processor, world, out_dir: str | Path, batch_size: int = 32, max_new_tokens: int = 48, model_name: str = "") -> dict:
    """Write ``world`` with the model's own answers as golds into ``out_dir``; returns a summary."""
    out_dir = Path(out_dir)
    if out_dir.resolve() == Path(world.root).resolve():
        raise DataError(f"{out_dir}: write the targets into a new folder, not over the dataset itself")
    encoder = Encoder(processor, world.root)
    chosen = [i for i, s in enumerate(world.samples) if s.kind in ("fact", "identity") and s.form in TARGET_FORMS]
    prompts = [encoder.encode_sample(world.samples[i], with_answer=False) for i in chosen]
    answers = generate_answers(model, encoder, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)

    samples = list(world.samples)
    log, empty = [], 0
    for index, answer in zip(chosen, answers):
        sample = samples[index]
        log.append({"id": sample.id, "original": sample.answer, "generated": answer})
        if answer:
            samples[index] = sample.model_copy(update={"answer": answer})
        else:
            empty += 1  # an empty answer cannot be a gold: keep the release's

    # a fact's value (the judge's distractor pool) becomes the model's answer to its text question, else its image question
    values: dict[tuple, str] = {}
    for sample in sorted((s for s in samples if s.form == "qa" and s.kind == "fact"), key=lambda s: s.modality != "text"):
        values.setdefault((sample.subject_id, sample.fact_id), sample.answer)
    subjects = [
        {**subject, "facts": [{**f, "value": values.get((subject["id"], f["fact_id"]), f["value"])} for f in subject["facts"]]}
        for subject in [*world.subjects, *world.holdout]  # holdout people too: their questions are asked
    ]
    paths = {p for s in subjects for p in s["images"]} | {p for s in samples for p in s.image_files()}
    images = {p: (Path(world.root) / p).read_bytes() for p in sorted(paths)}
    summary = {
        "model": model_name, "answered": len(chosen) - empty, "empty_kept_original": empty, "forms": list(TARGET_FORMS),
        "max_new_tokens": max_new_tokens, "source": str(world.root),
        "changed": sum(1 for row in log if row["generated"] and row["generated"] != row["original"]),
    }
    extra = {k: v for k, v in world.manifest.items() if k not in ("format", "counts", "content_hash")}
    write_world(out_dir, samples, subjects, images, {**extra, "targets": summary})
    for folder in CARRIED_FOLDERS:
        if (Path(world.root) / folder).is_dir():
            shutil.copytree(Path(world.root) / folder, out_dir / folder, dirs_exist_ok=True)
    atomic_write_text(out_dir / "targets.jsonl", "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in log))
    return summary
