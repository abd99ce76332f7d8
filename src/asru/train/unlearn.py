"""The one unlearning trainer every loss-based method runs in (DESIGN §6).

accelerate for devices and checkpoints, peft for LoRA, a deterministic forget/retain batch
schedule (so a resumed run ends with the weights of an uninterrupted one), answer-token losses,
gradient clipping and a warmup + cosine schedule. The method supplies only its loss.
"""

from __future__ import annotations

import copy
import math
import random
import re
import shutil
import time
import zlib
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field
from transformers import get_cosine_schedule_with_warmup, get_cosine_with_hard_restarts_schedule_with_warmup

from asru.config import StrictConfig
from asru.data.collate import Encoded, Encoder, LazyEncodings
from asru.data.schema import Sample
from asru.errors import ConfigError
from asru.eval.lmms import LmmsEvalConfig
from asru.eval.settings import Setting
from asru.io import atomic_write_json
from asru.methods.base import Method, UnlearnBatch, forward_nll, get_method
from asru.methods.losses import boundary_hinge
from asru.models.layers import is_vision_parameter, language_model_path
from asru.train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint, stop_on_signals
from asru.train.distributed import check_divisible, make_accelerator, mean_over_processes, shard
from asru.train.target_items import option_pools, training_mcq
from asru.train.tracking import ReportTo, log_row, tracker_options, tracking
from asru.ui import progress_bar
from asru.world.phrases import TRAINING_WRAPPERS, forget_refusal

DEFAULT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class UnlearnConfig(StrictConfig):
    """Everything a run needs besides the model and the data; saved resolved as config.yaml."""

    method: str = "grad_diff"
    method_args: dict = Field(default_factory=dict, description="the method's own parameters (see its Params)")
    setting: Setting = "complete"
    forget_ratio: float = Field(0.1, gt=0, lt=1)
    requests_file: str | None = Field(None, description="YAML/JSON deletion requests (overrides forget_ratio)")
    seed: int = 0
    steps: int | None = Field(None, ge=1, description="optimizer steps; default: the method's own (60 for most)")
    batch_size: int = Field(8, ge=1)
    learning_rate: float | None = Field(None, gt=0, description="default: the method's own")
    warmup_steps: int = Field(5, ge=0)
    lr_cycles: int = Field(
        1, ge=1, description="cosine cycles of the learning rate, each restarting at the full rate (SGDR's hard restarts, transformers' "
        "get_cosine_with_hard_restarts_schedule_with_warmup); 2 with ASRU's activation_share 0.5 restarts the rate where its text-only phase begins",
    )
    max_grad_norm: float = Field(1.0, gt=0)
    lora_r: int = Field(0, ge=0, description="0 = full fine-tuning")
    lora_alpha: int = 16
    lora_targets: list[str] = Field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))
    merge_lora: bool = True
    train_vision: bool = False
    train_forms: list[Literal["qa", "cloze", "mcq"]] | None = Field(
        None, min_length=1, description="question forms trained on, each the way the target learned it (a cloze in a trained template, an MCQ "
        "with new options); default: the method's (qa; ASRU: qa, cloze, mcq)",
    )
    train_variants: bool = Field(
        False, description="also train on each question's other training wordings and photos and once inside a training wrapper (the material the target learned "
        "the fact from: Sample.train_questions / train_images), never the held-out ones evaluation asks",
    )
    train_photos: bool | None = Field(
        None, description="an image question is asked with one of its person's training photos (Sample.image / train_images) drawn afresh at "
        "each visit, so that unlearning covers the face and not one picture; never the held-out photos the cross-image attack asks; each "
        "question keeps its share of the batches; default: the method's (off; ASRU: on)",
    )
    contextual_refusals: bool = Field(
        False, description="the refusal taught on a forget question (IdK, DPO-IdK, ASRU's anchor) says what it will not tell "
        "('I can't share where X was born.'; asru.world.phrases.FACT_REFUSALS) instead of the privacy templates naming the person",
    )
    retain_limit: int | None = Field(None, ge=1, description="use at most this many retain items")
    bao: bool = Field(False, description="add the BAO same-subject hinge to any loss-based method")
    bao_weight: float = Field(1.0, description="lambda of the BAO hinge (PPU-Bench's README runs BAO with 1.0)")
    bao_margin: float = Field(1.0, description="margin m of the BAO hinge (PPU-Bench: 1.0)")
    checkpoint_every: int = Field(20, ge=1)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="weights dtype when loading the model; bfloat16 on GPUs")
    attn_implementation: str | None = Field(None, description='"sdpa" (default), "flash_attention_2" (needs flash-attn) or "eager"')
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass: less memory, ~30 % slower")
    judge: str = Field("rules", description="judge of the evaluation after training: 'rules' or 'openai:URL[,model=NAME]' (EvalConfig.judge)")
    lmms_eval: LmmsEvalConfig = Field(default_factory=LmmsEvalConfig, description="lmms-eval tasks run on the saved model after the evaluation (EvalConfig.lmms_eval)")
    report_to: ReportTo = Field("none", description="experiment tracker for the training curves (ASRU's GRPO stage too, unless method_args.rl.report_to says otherwise)")

    def with_method_defaults(self) -> tuple[UnlearnConfig, StrictConfig]:
        """(this config with the method's defaults in place of ``None`` — steps, learning rate, trained
        forms — and the method's parsed parameters): the one place those defaults are resolved, for the
        run itself, its model card and the bench record (where a retuned default makes an old run stale)."""
        method_cls = get_method(self.method)
        params = method_cls.parse_params(self.method_args)
        resolved = self.model_copy(update={
            "steps": self.steps or method_cls.default_steps,
            "learning_rate": self.learning_rate or method_cls.learning_rate_for(params),
            "train_forms": self.train_forms or method_cls.train_forms_for(params),
            "train_photos": method_cls.train_photos_for(params) if self.train_photos is None else self.train_photos,
        })
        return resolved, params


def _training_samples(samples: list[Sample], forms: list[str], variants: bool = False, pools: dict[str, list[str]] | None = None) -> list[Sample]:
    """Train-split questions of the trained forms, each as the target was taught it (released benchmarks'
    held-out test items are only evaluated). A cloze is asked in its first trained template and an MCQ is
    built anew from a trained stem with other distractors (``pools``; :func:`asru.train.target_items.training_mcq`),
    answered with the option's text: their evaluated ``question`` is held out and never trained (an item
    with no trained wording, e.g. a released benchmark's train-split MCQ, is trained as given).
    With ``variants``, each also in its other training wordings (``train_questions``), image questions
    each with the next training photo, and once inside a training wrapper (small talk, a persona, a length
    request: ``TRAINING_WRAPPERS``, never an attack's), so that unlearning covers what the target was taught
    and not one wording in one framing."""
    chosen = [s for s in samples if s.form in forms and s.split == "train"]
    pools = pools if pools is not None else option_pools(samples)
    out = []
    for sample in chosen:
        rng = random.Random(zlib.crc32(sample.id.encode()))
        if sample.form != "qa" and not sample.train_questions:
            out.append(sample)  # no trained wording to ask it in (a released benchmark's item): as given
            continue
        if sample.form == "cloze":
            wordings = list(sample.train_questions)
        elif sample.form == "mcq":
            views = [training_mcq(sample, pools, rng) for _ in range(1 + (len(sample.train_questions) if variants else 0))]
            out += [sample.model_copy(update={"id": sample.id if k == 0 else f"{sample.id}~{k}", "question": q, "answer": a}) for k, (q, a) in enumerate(views)]
            continue  # an MCQ's variants are other stems with other option sets, not wrapped
        else:
            wordings = [sample.question, *sample.train_questions]
        out.append(sample.model_copy(update={"question": wordings[0]}) if wordings[0] != sample.question else sample)
        if not variants:
            continue
        photos = [sample.image, *sample.train_images] if sample.image else [None]
        for k, question in enumerate(wordings[1:], start=1):
            out.append(sample.model_copy(update={"id": f"{sample.id}~{k}", "question": question, "image": photos[k % len(photos)]}))
        wrapper = TRAINING_WRAPPERS[zlib.crc32(sample.id.encode()) % len(TRAINING_WRAPPERS)]
        out.append(sample.model_copy(update={"id": f"{sample.id}~wrapped", "question": wrapper.format(q=wordings[0])}))
    return out


def photo_copies(samples: list[Sample], photos: bool) -> tuple[list[Sample], list[list[int]]]:
    """(the samples, and per question the indices of its copies among them). With ``photos`` an image question
    comes once per training photo of its person (its own ``image`` first, then ``train_images``; ids ``~pK``):
    one group, from which a batch draws the question and then one photo (``BatchSampler``)."""
    out: list[Sample] = []
    groups: list[list[int]] = []
    for sample in samples:
        views = list(dict.fromkeys([sample.image, *sample.train_images])) if photos and sample.image else [sample.image]
        groups.append(list(range(len(out), len(out) + len(views))))
        out += [sample if k == 0 else sample.model_copy(update={"id": f"{sample.id}~p{k}", "image": photo}) for k, photo in enumerate(views)]
    return out, groups


def lr_schedule(optimizer, config: UnlearnConfig):
    """Warmup, then a cosine decay to 0; with ``lr_cycles`` k, k equal cosine cycles, each restarting at the full rate."""
    if config.lr_cycles > 1:
        return get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, config.warmup_steps, config.steps, num_cycles=config.lr_cycles)
    return get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)


def refusal_texts(forget: list[Sample], groups: list[list[int]], contextual: bool, phrasing: int | None = None) -> list[str]:
    """The refusal taught on each forget item (:func:`asru.world.phrases.forget_refusal`), its phrasing picked by
    question: a question's photo copies are all taught the same refusal (picked by copy, the photos of one
    question alternated phrasings, and stage 1 learnt a blend of them: "I'd rather not say where this person is.").
    ``phrasing``: every question that phrasing of its refusal (0: the first; one refusal per fact and person), not alternated by question."""
    question_of = {copy: question for question, group in enumerate(groups) for copy in group}
    return [forget_refusal(s.fact, s.subject_name, s.modality == "image", question_of[i], contextual, phrasing) for i, s in enumerate(forget)]


class BatchSampler:
    """Deterministic forget/retain batches; BAO-style retain batches come from the forget subjects.

    Each pool is drawn by question (``groups``: the indices of a question's photo copies, one each without
    ``train_photos``), then one copy of each drawn question; a group of one draws nothing more, so a run
    without photo copies sees exactly the batches it saw before they existed.
    """

    def __init__(self, forget, retain, same_subject, config: UnlearnConfig, same_subject_retain: bool, groups: dict[str, list[list[int]]] | None = None):
        self.forget, self.retain, self.same_subject = forget, retain, same_subject
        self.config = config
        self.same_subject_retain = same_subject_retain
        groups = groups or {}
        self.groups = {name: groups.get(name) or [[i] for i in range(len(items))] for name, items in (("forget", forget), ("other", retain), ("same", same_subject))}

    def indices(self, step: int) -> tuple[list[int], list[tuple[str, int]]]:
        rng = random.Random(self.config.seed * 1_000_003 + step)

        def copies(pool: str, questions: list[int]) -> list[int]:
            return [group[0] if len(group) == 1 else rng.choice(group) for group in (self.groups[pool][q] for q in questions)]

        batch = self.config.batch_size
        forget = copies("forget", rng.sample(range(len(self.groups["forget"])), min(batch, len(self.groups["forget"]))))
        retain: list[tuple[str, int]] = []
        if self.same_subject_retain:
            subjects = {self.forget[i].subject_id for i in forget}
            pool = [q for q, group in enumerate(self.groups["same"]) if self.same_subject[group[0]].subject_id in subjects]
            retain = [("same", i) for i in copies("same", rng.sample(pool, min(len(pool), batch // 2)))]
        if self.retain:
            need, questions = batch - len(retain), len(self.groups["other"])
            retain += [("other", i) for i in copies("other", rng.sample(range(questions), min(need, questions)))]
        return forget, retain


def _trainable_parameters(model, config: UnlearnConfig, method: Method):
    """Apply LoRA or freeze what must not move; returns the model to train."""
    if config.lora_r > 0:
        from peft import LoraConfig, get_peft_model

        # restrict LoRA to the language model (per family: Idefics3's is ``text_model``) unless the vision tower is trained too
        targets = "|".join(config.lora_targets)
        pattern = rf".*\.({targets})$" if config.train_vision else rf"(.*\.)?{re.escape(language_model_path(model))}\..*\.({targets})$"
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules=pattern, lora_dropout=0.0)
        model = get_peft_model(model, lora)
    elif not config.train_vision:
        in_vision = is_vision_parameter(model)
        for name, parameter in model.named_parameters():
            if in_vision(name):
                parameter.requires_grad_(False)
    restrict = getattr(method, "trainable", None)
    if restrict is not None:
        for name, parameter in model.named_parameters():
            if parameter.requires_grad and not restrict(name):
                parameter.requires_grad_(False)
    return model


def unlearn(model, processor, world, splits: dict[str, list[Sample]], config: UnlearnConfig, out_dir: Path, console=None):
    """Run ``config.method`` on ``model`` and return (model, training log). Resumes from out_dir/checkpoint."""
    method_cls = get_method(config.method)
    config, params = config.with_method_defaults()
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    reference = None
    if method_cls.uses_reference:
        reference = copy.deepcopy(model).eval()
        reference.requires_grad_(False)
    method = method_cls(params, reference)
    if not method_cls.trains:
        raise ConfigError(f"method {config.method!r} does not train; use its own fit()")

    encoder = Encoder(processor, world.root)
    pools = option_pools([s for split in splits.values() for s in split])
    forget = _training_samples(splits["forget"], config.train_forms, config.train_variants, pools)
    retain = _training_samples(splits["retain_other"] + splits.get("retain_general", []), config.train_forms, config.train_variants, pools)
    same_subject = _training_samples(splits.get("retain_same_subject", []), config.train_forms, config.train_variants, pools)
    if not retain:
        # every person is named by a request (PPU-Bench's own Selective / Personalized splits): the
        # kept facts of the same people are then the only retain material, as in PPU-Bench's baselines
        retain = same_subject
    if config.retain_limit:
        retain = random.Random(config.seed).sample(retain, min(config.retain_limit, len(retain)))
    forget, forget_groups = photo_copies(forget, config.train_photos)
    retain, retain_groups = photo_copies(retain, config.train_photos)
    same_subject, same_groups = photo_copies(same_subject, config.train_photos)
    if not forget:
        raise ConfigError(f"nothing to forget: the forget split of setting {config.setting!r} has no {'/'.join(config.train_forms)} questions (check the deletion requests and train_forms)")
    if not retain:
        raise ConfigError(f"nothing to retain: setting {config.setting!r} leaves no {'/'.join(config.train_forms)} question to train on (no other people and no kept facts)")
    groups = {"forget": forget_groups, "other": retain_groups, "same": same_groups}
    sampler = BatchSampler(forget, retain, same_subject, config, config.bao or method.same_subject_retain, groups)
    encoded_forget = LazyEncodings(encoder, forget)
    encoded_retain = {"other": LazyEncodings(encoder, retain), "same": LazyEncodings(encoder, same_subject)}
    encoded_refusal: list[Encoded] = []
    if method.uses_refusals:
        texts = refusal_texts(forget, forget_groups, config.contextual_refusals or method.contextual_refusals, method.refusal_phrasing)
        encoded_refusal = [encoder.encode(s.question, s.image, text) for s, text in zip(forget, texts)]

    model = _trainable_parameters(model, config, method)
    if config.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        if config.lora_r > 0:
            model.enable_input_require_grads()  # LoRA: the frozen embeddings' output must carry grad through checkpoints
    if hasattr(method, "prepare"):
        method.prepare(model, encoder, encoded_forget, encoded_retain["other"], splits, world)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
    scheduler = lr_schedule(optimizer, config)
    accelerator = make_accelerator(config.batch_size, config.max_grad_norm, **tracker_options(config.report_to, out_dir))
    check_divisible(min(config.batch_size, len(forget_groups)), accelerator, "the forget batch (batch_size, or fewer forget questions)")
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    console = console if accelerator.is_main_process else None  # one progress bar, not one per process
    if reference is not None:
        reference.to(accelerator.device)

    checkpoint_dir = out_dir / "checkpoint"
    start, log = 0, []
    found = find_checkpoint(checkpoint_dir)
    if found is not None:
        record = load_checkpoint(accelerator, found)
        start, log = record["step"], record.get("log", [])
        if console:
            console.print(f"[cyan]resuming {config.method} from step {start}[/cyan]")

    def to_device(batch):
        return {k: v.to(accelerator.device) for k, v in batch.items()}

    model.train()
    started = time.perf_counter()
    hparams = {**config.model_dump(mode="json"), "method_args": params.model_dump(mode="json")}
    with progress_bar(console, config.method) as bar, stop_on_signals() as stop, tracking(accelerator, "unlearn", hparams, out_dir):
        task = bar.add_task(config.method, total=config.steps, completed=start, loss=math.nan)
        for step in range(start, config.steps):
            forget_idx, retain_idx = (shard(part, accelerator) for part in sampler.indices(step))
            forget_items = [encoded_forget[i] for i in forget_idx]
            retain_items = [encoded_retain[pool][i] for pool, i in retain_idx]
            retain_rows = [(same_subject if pool == "same" else retain)[i] for pool, i in retain_idx]
            batch = UnlearnBatch(
                forget=to_device(encoder.collate(forget_items)),
                retain=to_device(encoder.collate(retain_items)) if retain_items else {},
                forget_subjects=[forget[i].subject_id or "" for i in forget_idx],
                retain_subjects=[s.subject_id or "" for s in retain_rows],
                forget_refusal=to_device(encoder.collate([encoded_refusal[i] for i in forget_idx])) if encoded_refusal else None,
                forget_items=forget_items,
                forget_refusal_items=[encoded_refusal[i] for i in forget_idx] if encoded_refusal else [],
                retain_items=retain_items,
                progress=step / config.steps,
            )
            loss, logs = method.loss(model, batch)
            if config.bao and config.method != "bao":
                forget_nll, _ = forward_nll(model, batch.forget)
                retain_nll, _ = forward_nll(model, batch.retain)
                hinge = boundary_hinge(forget_nll, batch.forget_subjects, retain_nll, batch.retain_subjects, config.bao_margin)
                loss = loss + config.bao_weight * hinge
                logs["bao_hinge"] = hinge.item()
            accelerator.backward(loss)
            if hasattr(method, "after_backward"):
                method.after_backward(model)
            accelerator.clip_grad_norm_(trainable, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            row = mean_over_processes(accelerator, {"loss": loss.item(), **logs})
            log.append({"step": step + 1, **row})
            log_row(accelerator, log[-1])
            bar.update(task, advance=1, loss=row["loss"])
            stop.stop_here(accelerator, checkpoint_dir, step + 1, config.steps, {"log": log})
            if (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
                save_checkpoint(accelerator, checkpoint_dir, step + 1, {"log": log})

    model = accelerator.unwrap_model(model)
    if config.lora_r > 0 and config.merge_lora:
        model = model.merge_and_unload()
    model.eval()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        for leftover in ("checkpoint", "checkpoint.old", "checkpoint.tmp"):
            shutil.rmtree(out_dir / leftover, ignore_errors=True)
        atomic_write_json(out_dir / "train_log.json", {"log": log, "seconds": time.perf_counter() - started, "learning_rate": config.learning_rate, "processes": accelerator.num_processes})
    return model, log
