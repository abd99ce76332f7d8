"""Build the target model: a tiny VLM that knows the embedded world the way a pretrained model would.

This is the stand-in for a pretrained public model that knows public figures in every form
(what it is trained on: :mod:`asru.train.target_items`). The recipe (DESIGN §4): AdamW, loss on
answer tokens only, batches of similar length (little padding), a deterministic schedule so that
a resumed run ends with exactly the weights of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from accelerate import Accelerator
from pydantic import Field, model_validator
from transformers import get_cosine_schedule_with_warmup

from asru.config import StrictConfig
from asru.data.collate import Encoded, Encoder
from asru.data.schema import Sample
from asru.errors import ConfigError
from asru.io import atomic_write_json, check_writable
from asru.models.layers import is_vision_parameter
from asru.models.loading import save_vlm
from asru.models.tiny import TinyModelConfig, build_tiny
from asru.train.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
    stop_on_signals,
)
from asru.train.face_pretrain import pretrain_faces, training_photos_by_person
from asru.train.photo_views import training_view, with_view
from asru.train.target_items import TargetCurriculum, TrainingItem
from asru.train.tracking import (
    ReportTo,
    check_tracker_installed,
    log_row,
    tracker_options,
    tracking,
)
from asru.ui import progress_bar
from asru.world import load_world
from asru.world.phrases import GENERIC_REFUSALS, REFUSAL_TEMPLATES, TRAINING_WRAPPERS


class ExcludedFacts(StrictConfig):
    """One person's facts left out of training (fact id 0 is the who-is question)."""

    subject_id: str = Field(min_length=1)
    fact_ids: list[int]


# The recipe's defaults per family (README, "Models" and "The target model"). Learning rate: Qwen3's
# attention normalises queries and keys (QK-norm) and trains stably at 2e-3; the Llama text model of
# LLaVA and Idefics3 has no QK-norm, and at 2e-3 its loss rose again after warmup and stalled without
# learning the facts (an 8-person world: 0 % of the text questions; at 5e-4, 100 %). Qwen3-VL's vision
# tower at 1e-3 (was 3e-3) lifted the image rows on both validation worlds and the 40-person one;
# photo views (asru.train.photo_views) lifted unseen photos on the validation worlds but lowered every
# image row and utility on the 40-person world, so they stay off (README, "The target model"). LLaVA
# and Idefics3 keep the recipe their committed targets were built with.
# Face pretraining (stage 0, asru.train.face_pretrain) lifted unseen photos on both validation worlds and
# the 40-person one, adopted 2026-12-03 for Qwen3-VL at 300 steps; its final loss rose with the number of
# people (0.24 at 12, 0.57 at 44), and 25 steps per person (300 at 12 people, as before) lifted the
# 24-person validation world further, so it scales with the people since 2026-12-04 (README, "The target model");
# 50 a person since 2026-12-04 (later), chosen on the 40-person validation world with the tower at 1e-4.
FAMILY_RECIPES: dict[str, dict[str, float]] = {
    # the tower at 1e-4 in the fine-tune after stage 0 (50 steps a person at 1e-3): chosen on a 40-person validation world
    # (seed 1) over 3e-4 and 25 steps a person, which the 20- and 8-person validation worlds had chosen (README, "The tower's rate after stage 0")
    "qwen3_vl": {
        "learning_rate": 2e-3, "vision_learning_rate": 1e-4, "photo_views": 0.0, "face_pretrain_steps_per_person": 50, "face_pretrain_learning_rate": 1e-3,
    },
    "llava": {"learning_rate": 5e-4, "vision_learning_rate": 3e-3, "photo_views": 0.0, "face_pretrain_steps_per_person": 0},
    "idefics3": {"learning_rate": 5e-4, "vision_learning_rate": 3e-3, "photo_views": 0.0, "face_pretrain_steps_per_person": 0},
}


class FinetuneConfig(StrictConfig):
    """The recipe that makes the target model (every field is part of its cache key)."""

    model: TinyModelConfig = Field(default_factory=TinyModelConfig)
    learning_rate: float = Field(2e-3, gt=0, description="lr of all but the vision tower; when not given, the family's (FAMILY_RECIPES)")
    vision_learning_rate: float = Field(
        1e-4, gt=0, description="lr of the vision tower (image-to-identity binding is the slow part); when not given, the family's (FAMILY_RECIPES)"
    )
    batch_size: int = Field(16, ge=1)
    epochs: int = Field(30, ge=1, description="passes over the training items (at 14 the held-out forms stayed at 40-80 %; at 30 they pass)")
    warmup_steps: int = Field(50, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    seed: int = 0
    train_forms: list[Literal["qa", "cloze", "mcq"]] = Field(
        default_factory=lambda: ["qa", "cloze", "mcq"], description="forms trained (in their trained templates and options; the evaluated ones are held out)"
    )
    wrapper_share: float = Field(0.25, ge=0, le=1, description="share of training questions wrapped in a training prompt wrapper (small talk, persona, length request)")
    context_share: float = Field(0.1, ge=0, le=1, description="share of fact questions asked after 1-2 earlier turns about the same person")
    image_repeats: int = Field(3, ge=1, description="image questions appear this many times per epoch (binding a face to a person is the slow part)")
    photo_views: float = Field(
        0.0, ge=0, le=1,
        description="share of training photos replaced each step by a new random view (rotation, scale, shift, noise; asru.train.photo_views); when not given, the family's (FAMILY_RECIPES)",
    )
    backdrop_views: float = Field(
        0.0, ge=0, le=1,
        description="share of the people's training photos shown each step on a random backdrop (colour, stripes, gradient; asru.train.photo_views.new_backdrop; never the utility images, whose backdrop can be the answer): the backdrop stops being part of who a person is; when not given, the family's (FAMILY_RECIPES)",
    )
    face_pretrain_steps_per_person: int = Field(
        50, ge=0,
        description="stage 0 before the fine-tune, in steps per person whose face it learns (batches of 32 photos): the vision tower learns to tell the people apart on random views of their training photos, as a pretrained encoder can (asru.train.face_pretrain; qwen3_vl only); scaled with the people so that each sees as many views in a large world as in a small one; 0: none; when not given, the family's (FAMILY_RECIPES)",
    )
    face_pretrain_learning_rate: float | None = Field(
        None, gt=0,
        description="stage 0's learning rate (tower and class head); None: vision_learning_rate. Separate so that the fine-tune can move the face features stage 0 learned less than stage 0 itself does; when not given, the family's (FAMILY_RECIPES)",
    )
    length_buckets: int = Field(8, ge=1, description="batches are cut from runs of this many batches' worth of items sorted by length (1 = no bucketing): less padding")
    checkpoint_every: int = Field(200, ge=1)
    report_to: ReportTo = Field("none", description="experiment tracker for the loss curve (not part of the cache key)")
    exclude: list[ExcludedFacts] = Field(
        default_factory=list, description="facts never trained, in any form: a retrained oracle's forget set (asru oracle); empty for the target"
    )


    @model_validator(mode="before")
    @classmethod
    def _family_recipe(cls, data):
        """A field of :data:`FAMILY_RECIPES` that is not given is the model family's."""
        if isinstance(data, dict):
            model = data.get("model")
            architecture = model.get("architecture") if isinstance(model, dict) else getattr(model, "architecture", None)
            family = FAMILY_RECIPES.get(architecture or TinyModelConfig().architecture, {})
            data = {**{field: value for field, value in family.items() if field not in data}, **data}
        return data


# fields that change where the run is logged, not the weights: left out of the target's cache key
NOT_RECIPE = {"report_to"}
# fields added after targets were cached, left out of the key at the value that trains as before
# (so an unchanged recipe keeps its cached target)
NEW_AT_DEFAULT = {"photo_views": 0.0, "backdrop_views": 0.0, "face_pretrain_steps_per_person": 0, "face_pretrain_learning_rate": None}


def tokenizer_corpus(samples: list[Sample]) -> list[str]:
    """Every string the model will see, so the offline BPE covers the world's vocabulary."""
    texts = [" ".join(["user", "assistant"] + list(REFUSAL_TEMPLATES) + list(GENERIC_REFUSALS) + list(TRAINING_WRAPPERS))]
    for sample in samples:
        texts.extend([sample.question, sample.answer, *sample.paraphrases, *sample.train_questions, *sample.options])
    return texts


def curriculum(samples: list[Sample], config: FinetuneConfig) -> TargetCurriculum:
    """What the recipe trains on (see :mod:`asru.train.target_items`)."""
    excluded = {(entry.subject_id, fact_id) for entry in config.exclude for fact_id in entry.fact_ids}
    return TargetCurriculum(samples, config.train_forms, config.seed, config.wrapper_share, config.context_share, config.image_repeats, excluded)


def epoch_batches(lengths: list[int], batch_size: int, buckets: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's batches (indices into its items), fixed by the seed: the basis of exact resume.

    The items are shuffled, cut into runs of ``buckets`` batches' worth, each run sorted by length
    and cut into batches, and the batches shuffled: every batch holds items of similar length, so
    little of each step is spent on padding, while every epoch still sees every item once.
    """
    rng = random.Random(seed * 100_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    run = batch_size * buckets
    batches = []
    for start in range(0, len(order), run):
        chunk = sorted(order[start : start + run], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


# bumped whenever the same recipe config would train on other items (asru.train.target_items): part of the cache key
RECIPE_VERSION = 2


def target_steps(world, config: FinetuneConfig) -> int:
    """How many steps ``config`` trains for on ``world`` (the length of the progress bar)."""
    return math.ceil(len(curriculum(world.samples, config)) / config.batch_size) * config.epochs


PROGRESS_FILE = "progress.json"  # {"step", "steps", "loss"}, every few steps: for a parent process's progress bar


def target_cache_key(world_hash: str, config: FinetuneConfig) -> str:
    recipe = config.model_dump(mode="json", exclude=NOT_RECIPE)
    recipe = {key: value for key, value in recipe.items() if key not in NEW_AT_DEFAULT or value != NEW_AT_DEFAULT[key]}
    payload = json.dumps({"world": world_hash, "recipe": recipe, "format": RECIPE_VERSION}, sort_keys=True)
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
    items = curriculum(world.samples, config)
    if not len(items):
        raise ConfigError(f"no training items in {world_dir} for train_forms {config.train_forms}")
    check_writable(out_dir)
    model, processor = build_tiny(tokenizer_corpus(world.samples), config.model)
    encoder = Encoder(processor, world.root)
    steps_per_epoch = math.ceil(len(items) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    encodings: dict[TrainingItem, Encoded] = {}  # an item drawn again in a later epoch is not encoded again
    portraits = {photo for s in world.samples if s.train_images for photo in (s.image, *s.train_images)}  # people's photos

    def epoch_data(epoch: int) -> tuple[list[TrainingItem], list[Encoded], list[list[int]]]:
        drawn = items.epoch(epoch)
        for item in drawn:
            if item not in encodings:
                encodings[item] = encoder.encode(item.question, item.image, item.answer, context=item.messages())
        encoded = [encodings[item] for item in drawn]
        return drawn, encoded, epoch_batches([len(e.input_ids) for e in encoded], config.batch_size, config.length_buckets, config.seed, epoch)

    in_vision = is_vision_parameter(model)  # the vision tower and its connector, per family
    vision_params = [p for n, p in model.named_parameters() if in_vision(n)]
    vision_ids = {id(p) for p in vision_params}
    other_params = [p for p in model.parameters() if id(p) not in vision_ids]
    optimizer = torch.optim.AdamW(
        [{"params": other_params, "lr": config.learning_rate}, {"params": vision_params, "lr": config.vision_learning_rate}],
        weight_decay=config.weight_decay,
    )
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, total_steps)
    checkpoint_dir = out_dir / "checkpoint"
    face_losses: list[float] = []
    face_seconds = 0.0  # part of the fine-tune's wall time (train_seconds), and of every checkpoint's "elapsed"
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), **tracker_options(config.report_to, out_dir))
    model.to(accelerator.device)  # stage 0 runs where the fine-tune will (the optimizer's parameters move in place)
    if config.face_pretrain_steps_per_person and find_checkpoint(checkpoint_dir) is None:  # a checkpoint holds the pretrained tower already
        # an oracle that never learns who a person is (fact 0, the identity, excluded) never sees their face either
        photos = training_photos_by_person(world.samples, {entry.subject_id for entry in config.exclude if 0 in entry.fact_ids})
        face_steps = config.face_pretrain_steps_per_person * len(photos)
        if console:
            console.print(f"stage 0: the vision tower learns the faces of {len(photos)} people ({face_steps} steps)")
        face_started = time.perf_counter()
        face_losses = pretrain_faces(model, processor, encoder.load_image, photos, face_steps, config.face_pretrain_learning_rate or config.vision_learning_rate, config.seed, console=console)
        face_seconds = time.perf_counter() - face_started
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)

    start_step, elapsed_before = 0, face_seconds
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
        task = bar.add_task("finetune", total=total_steps, completed=start_step, loss=math.nan)
        loaded_epoch, drawn, encoded, batches = -1, [], [], []
        for step in range(start_step, total_steps):
            epoch = step // steps_per_epoch
            if epoch != loaded_epoch:
                (drawn, encoded, batches), loaded_epoch = epoch_data(epoch), epoch
            members = [encoded[i] for i in batches[step % steps_per_epoch]]
            if config.photo_views or config.backdrop_views:  # seeded by the step: a resumed run draws the same views
                rng = random.Random(f"asru-photo-views:{config.seed}:{step}")
                for k, i in enumerate(batches[step % steps_per_epoch]):
                    if drawn[i].image:
                        backdrop = config.backdrop_views if drawn[i].image in portraits else 0.0  # a utility image's backdrop is an answer
                        view = training_view(partial(encoder.load_image, drawn[i].image), rng, config.photo_views, backdrop)
                        if view is not None:
                            members[k] = with_view(members[k], view, processor.image_processor)
            batch = {k: v.to(accelerator.device) for k, v in encoder.collate(members).items()}
            loss = model(**batch).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value = loss.item()
            bar.update(task, advance=1, loss=loss_value)
            log_row(accelerator, {"step": step + 1, "loss": loss_value})
            if (step + 1) % 10 == 0:
                atomic_write_json(out_dir / PROGRESS_FILE, {"step": step + 1, "steps": total_steps, "loss": loss_value})
            elapsed = elapsed_before + time.perf_counter() - started
            stop.stop_here(accelerator, checkpoint_dir, step + 1, total_steps, {"elapsed": elapsed})
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < total_steps:
                save_checkpoint(accelerator, checkpoint_dir, step + 1, {"elapsed": elapsed})

    model = accelerator.unwrap_model(model)
    model.eval()
    save_vlm(model, processor, out_dir)
    summary = {
        "steps": total_steps,
        "items": len(items),
        "final_loss": loss_value,
        "train_seconds": elapsed_before + time.perf_counter() - started,
        "torch_threads": torch.get_num_threads(),  # what train_seconds was measured with
        "world_hash": world.manifest["content_hash"],
        "recipe": config.model_dump(mode="json", exclude=NOT_RECIPE),
        **({"face_pretrain_steps": len(face_losses), "face_pretrain_final_loss": sum(face_losses[-20:]) / len(face_losses[-20:]), "face_pretrain_seconds": face_seconds} if face_losses else {}),
    }
    atomic_write_json(out_dir / "finetune.json", summary)
    for leftover in (checkpoint_dir, checkpoint_dir.with_name("checkpoint.old"), checkpoint_dir.with_name("checkpoint.tmp")):
        shutil.rmtree(leftover, ignore_errors=True)
    (out_dir / PROGRESS_FILE).unlink(missing_ok=True)
    return summary
