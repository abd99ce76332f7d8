"""Build the target model: a tiny VLM that has memorised the embedded world.

This is the stand-in for a pretrained public model that knows public figures. The recipe
(DESIGN §4): AdamW, loss on answer tokens only, a deterministic batch schedule so that a resumed
run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from pathlib import Path
from typing import Literal

import torch
from accelerate import Accelerator
from pydantic import Field
from transformers import get_cosine_schedule_with_warmup

from asru.config import StrictConfig
from asru.data.collate import Encoder
from asru.data.schema import Sample
from asru.errors import ConfigError
from asru.io import atomic_write_json, check_writable
from asru.models.loading import save_vlm
from asru.models.tiny import TinyModelConfig, build_tiny
from asru.train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint, stop_on_signals
from asru.train.tracking import ReportTo, check_tracker_installed, log_row, tracker_options, tracking
from asru.ui import progress_bar
from asru.world import load_world
from asru.world.phrases import GENERIC_REFUSALS, REFUSAL_TEMPLATES


class FinetuneConfig(StrictConfig):
    """The recipe that makes the target model (every field is part of its cache key)."""

    model: TinyModelConfig = Field(default_factory=TinyModelConfig)
    learning_rate: float = Field(2e-3, gt=0)
    vision_learning_rate: float = Field(3e-3, gt=0, description="lr of the vision tower (image-to-identity binding is the slow part)")
    batch_size: int = Field(16, ge=1)
    epochs: int = Field(14, ge=1)
    warmup_steps: int = Field(50, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    train_forms: list[Literal["qa", "cloze", "mcq"]] = Field(default_factory=lambda: ["qa"], description="cloze and mcq forms are held out for evaluation by default")
    train_paraphrases: int = Field(0, ge=0, description="how many paraphrases of each question are also trained on")
    image_repeats: int = Field(3, ge=1, description="image questions appear this many times per epoch (binding a face to a person is the slow part)")
    checkpoint_every: int = Field(200, ge=1)
    report_to: ReportTo = Field("none", description="experiment tracker for the loss curve (not part of the cache key)")


# fields that change where the run is logged, not the weights: left out of the target's cache key
NOT_RECIPE = {"report_to"}


def tokenizer_corpus(samples: list[Sample]) -> list[str]:
    """Every string the model will see, so the offline BPE covers the world's vocabulary."""
    texts = [" ".join(["user", "assistant"] + list(REFUSAL_TEMPLATES) + list(GENERIC_REFUSALS))]
    for sample in samples:
        texts.extend([sample.question, sample.answer, *sample.paraphrases, *sample.options])
    return texts


def training_items(samples: list[Sample], config: FinetuneConfig) -> list[tuple[str, str | None, str]]:
    """(question, image, answer) triples the target model is trained on."""
    items = []
    for sample in samples:
        if sample.split != "train" or sample.form not in config.train_forms:
            continue
        repeats = config.image_repeats if sample.image else 1
        for question in [sample.question, *sample.paraphrases[: config.train_paraphrases]]:
            items.extend([(question, sample.image, sample.answer)] * repeats)
    return items


def batch_schedule(num_items: int, batch_size: int, epochs: int, seed: int) -> list[list[int]]:
    """All batches of the run, fixed by the seed: the basis of exact resume."""
    batches = []
    for epoch in range(epochs):
        order = list(range(num_items))
        random.Random(seed * 100_003 + epoch).shuffle(order)
        batches.extend(order[i : i + batch_size] for i in range(0, num_items, batch_size))
    return batches


def target_cache_key(world_hash: str, config: FinetuneConfig) -> str:
    payload = json.dumps({"world": world_hash, "recipe": config.model_dump(mode="json", exclude=NOT_RECIPE), "format": 1}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def finetune(world_dir: str | Path, out_dir: str | Path, config: FinetuneConfig | None = None, console=None) -> dict:
    """Train the target model into ``out_dir`` (resuming from ``out_dir/checkpoint`` if present).

    Returns a summary with steps, wall time and the final loss; the model and processor are
    saved with ``save_pretrained`` (safetensors) and load back with ``asru.models.load_vlm``.
    """
    config = config or FinetuneConfig()
    check_tracker_installed(config.report_to)  # before any work
    out_dir = Path(out_dir)
    world = load_world(world_dir)
    items = training_items(world.samples, config)
    if not items:
        raise ConfigError(f"no training items in {world_dir} for train_forms {config.train_forms}")
    check_writable(out_dir)
    model, processor = build_tiny(tokenizer_corpus(world.samples), config.model)
    encoder = Encoder(processor, world.root)
    encoded = [encoder.encode(question, image, answer) for question, image, answer in items]
    schedule = batch_schedule(len(encoded), config.batch_size, config.epochs, config.seed)

    vision_params = [p for n, p in model.named_parameters() if ".visual." in f".{n}"]
    vision_ids = {id(p) for p in vision_params}
    other_params = [p for p in model.parameters() if id(p) not in vision_ids]
    optimizer = torch.optim.AdamW(
        [{"params": other_params, "lr": config.learning_rate}, {"params": vision_params, "lr": config.vision_learning_rate}],
        weight_decay=config.weight_decay,
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, len(schedule))
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), **tracker_options(config.report_to, out_dir))
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    checkpoint_dir = out_dir / "checkpoint"
    start_step, elapsed_before = 0, 0.0
    found = find_checkpoint(checkpoint_dir)
    if found is not None:
        record = load_checkpoint(accelerator, found)
        start_step, elapsed_before = record["step"], record.get("elapsed", 0.0)
        if console:
            console.print(f"[cyan]resuming from step {start_step}[/cyan]")

    model.train()
    started = time.perf_counter()
    loss_value = math.nan
    with progress_bar(console, "finetune") as bar, stop_on_signals() as stop, tracking(accelerator, "finetune", config.model_dump(mode="json"), out_dir):
        task = bar.add_task("finetune", total=len(schedule), completed=start_step, loss=math.nan)
        for step in range(start_step, len(schedule)):
            batch = {k: v.to(accelerator.device) for k, v in encoder.collate([encoded[i] for i in schedule[step]]).items()}
            loss = model(**batch).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss.item()
            bar.update(task, advance=1, loss=loss_value)
            log_row(accelerator, {"step": step + 1, "loss": loss_value})
            elapsed = elapsed_before + time.perf_counter() - started
            stop.stop_here(accelerator, checkpoint_dir, step + 1, len(schedule), {"elapsed": elapsed})
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < len(schedule):
                save_checkpoint(accelerator, checkpoint_dir, step + 1, {"elapsed": elapsed})

    model = accelerator.unwrap_model(model)
    model.eval()
    save_vlm(model, processor, out_dir)
    summary = {
        "steps": len(schedule),
        "items": len(items),
        "final_loss": loss_value,
        "train_seconds": elapsed_before + time.perf_counter() - started,
        "world_hash": world.manifest["content_hash"],
        "recipe": config.model_dump(mode="json", exclude=NOT_RECIPE),
    }
    atomic_write_json(out_dir / "finetune.json", summary)
    for leftover in (checkpoint_dir, checkpoint_dir.with_name("checkpoint.old"), checkpoint_dir.with_name("checkpoint.tmp")):
        shutil.rmtree(leftover, ignore_errors=True)
    return summary
