"""ASRU: stage 1 activation redirection, then stage 2 refusal-boundary RL (GRPO).

Stage 2 trains on a small set: ~200 forget questions and ~200 retain questions. Unlike the
authors' random retain items, ``boundary_retain`` picks the retain items nearest the boundary:
the forget subjects' own kept facts first, then the subjects whose activations are closest to
the forget subjects'. The reward is the authors' rule (``reward``: their leak, ROUGE-L and refusal
tests by default, ours as options) plus (``quality_weight`` > 0) the offline judge's naturalness,
which penalises rigid templated refusals, gibberish and hallucination.
"""

from __future__ import annotations

import copy
import random
from functools import partial
from typing import Literal

import torch.nn.functional as F
from pydantic import Field

from asru.data.collate import Encoder
from asru.methods.asru_stage1 import ASRUStage1
from asru.methods.base import register
from asru.rl.grpo import GRPOConfig, grpo
from asru.rl.rewards import RewardConfig, boundary_reward, quality_reward
from asru.steering.directions import last_token_activations
from asru.world.phrases import TRAINING_WRAPPERS


def nearest_subjects(model, encoder: Encoder, forget, candidates, layer: int, count: int) -> list[str]:
    """Subjects of ``candidates`` whose mean prompt activation is most similar to the forget subjects'."""
    def centroids(samples):
        by_subject: dict[str, list] = {}
        for s in samples:
            by_subject.setdefault(s.subject_id, []).append(s)
        names = sorted(by_subject)
        prompts = [encoder.encode_sample(by_subject[n][0], with_answer=False) for n in names]
        return names, last_token_activations(model, encoder, prompts, [layer])[layer]

    _, forget_acts = centroids(forget)
    names, acts = centroids(candidates)
    similarity = F.cosine_similarity(acts[:, None], forget_acts[None], dim=-1).max(-1).values
    order = similarity.argsort(descending=True).tolist()
    return [names[i] for i in order[:count]]


def stage2_items(model, encoder, splits, params, layer: int):
    """(samples, should_forget) for GRPO: forget items and boundary (or random) retain items."""
    rng = random.Random(params.rl.seed)
    qa = lambda name: [s for s in splits.get(name, []) if s.form == "qa"]  # noqa: E731
    forget = qa("forget")
    forget = rng.sample(forget, min(params.forget_items, len(forget)))
    # a quarter of the retain items are general questions (when the world has them), so that the
    # boundary the RL draws is "these people" and not "people in general" or "images in general"
    general = qa("retain_general")
    retain = rng.sample(general, min(len(general), params.retain_items // 4))
    want = params.retain_items - len(retain)
    if params.boundary_retain:
        same = qa("retain_same_subject")
        others = qa("retain_other")
        near = set(nearest_subjects(model, encoder, forget, others, layer, count=max(2, len({s.subject_id for s in forget}))))
        pool = same + [s for s in others if s.subject_id in near]
        rest = [s for s in others if s.subject_id not in near]
        boundary = rng.sample(pool, min(want, len(pool)))
        retain += boundary + rng.sample(rest, min(want - len(boundary), len(rest)))
    else:
        pool = qa("retain_same_subject") + qa("retain_other")
        retain += rng.sample(pool, min(want, len(pool)))
    items = forget + retain
    if params.prompt_variants > 0:
        items = [training_variant(s, rng) if rng.random() < params.prompt_variants else s for s in items]
    return items, [True] * len(forget) + [False] * len(retain)


def training_variant(sample, rng: random.Random):
    """``sample`` asked the way the target was taught it but not in its plain wording: another training
    wording (``train_questions``), another training photo, inside a training wrapper — never the held-out
    paraphrases, photos and attack wrappers the evaluation asks, so the benchmark still measures generalisation."""
    question = rng.choice(sample.train_questions) if sample.train_questions else sample.question
    image = rng.choice([sample.image, *sample.train_images]) if sample.image else None
    return sample.model_copy(update={"question": rng.choice(TRAINING_WRAPPERS).format(q=question), "image": image})


@register
class ASRU(ASRUStage1):
    name = "asru"
    # 2026-12-06: stage 2's quality reward is the offline judge's naturalness, and judge rules 3 gives a refusal
    # whose wording broke down none (rules 2 rewarded "I'd rather not say where health of." as fluent)
    # 2026-12-06 (3): its reward's answer test (contains_answer) sees a gold glued after a lower-case word
    # 2026-12-06 (4): judge rules 6 -- a refusal closing "who X was born." is broken, its naturalness no longer full
    # 2026-12-06 (5): stage 1 draws every training photo (train_photos on by default)
    # 2026-12-06 (6): judge rules 7 ("which employer this person is." is broken); stage 1's revision 3
    # 2026-12-06 (7): stage 1's refusal text at weight 20 (stage 1's revision 4)
    # 2026-12-06 (8): stage 1's text last with the general image hold (stage 1's revision 5)
    revision = 8
    # the authors' GRPO and reward rule (DESIGN §7); lr 1e-6 there (8B, full model); boundary_retain and quality_weight are asru's additions
    default_sources = {
        **dict.fromkeys(("stage", "forget_items", "retain_items", "reward", "rl.group_size", "rl.temperature", "rl.top_p", "rl.kl_coef", "rl.clip_low", "rl.clip_high"), "paper"),
        "rl.learning_rate": "tuned here",
    }

    class Params(ASRUStage1.Params):
        stage: Literal["both", "1", "2"] = "both"
        rl: GRPOConfig = Field(default_factory=GRPOConfig)
        reward: RewardConfig = Field(default_factory=RewardConfig)
        forget_items: int = 200
        retain_items: int = 200
        quality_weight: float = Field(0.5, ge=0)
        # the quality term pays a forget refusal in full only when it names the fact asked, half when it names
        # only the person (rewards.quality_reward's ``topic``); off: any contextual refusal in full
        quality_topic: bool = False
        # share of the stage-2 prompts asked through a training variant (training_variant): RL against the
        # rewordings, photos and framings the attacks vary, from material the target was trained on only
        prompt_variants: float = Field(0.0, ge=0, le=1)

        @classmethod
        def authors_values(cls) -> dict:
            # random retain items, no quality term, their GRPO learning rate (1e-6 on an 8B model)
            return {**ASRUStage1.AUTHORS, "quality_weight": 0.0, "rl": {"learning_rate": 1e-6}}

    @staticmethod
    def refine(model, processor, world, splits, params, out_dir, console=None):
        """Stage 2 on ``model`` (the stage-1 model, also the frozen KL reference)."""
        from asru.models.layers import is_vision_parameter, num_language_layers

        layer = params.layer if params.layer is not None else num_language_layers(model) // 2
        encoder = Encoder(processor, world.root)
        items, should_forget = stage2_items(model, encoder, splits, params, layer)
        reference = copy.deepcopy(model).eval()
        reference.requires_grad_(False)
        in_vision = is_vision_parameter(model)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(not in_vision(name))
        rewards = [("boundary", partial(boundary_reward, config=params.reward), 1.0)]
        if params.quality_weight > 0:
            rewards.append(("quality", partial(quality_reward, topic=params.quality_topic), params.quality_weight))
        log = grpo(model, reference, processor, encoder, items, should_forget, rewards, params.rl, out_dir, console)
        model.eval()
        return model, log
