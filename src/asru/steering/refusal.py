"""The ASRU "knowledge-absence" (refusal) direction (DESIGN §7).

positive = prompts the model refuses (refusal-trained private questions and people it does not
know, kept only if the model actually refused); negative = the forget questions, asked of the
model that still knows them. v = mean(positive) - mean(negative) at the last prompt token.
"""

from __future__ import annotations

import torch

from asru.data.collate import Encoder
from asru.eval.generate import generate_answers
from asru.eval.metrics import is_refusal
from asru.steering.directions import diff_in_means, last_token_activations


def refused_prompts(model, encoder: Encoder, samples) -> list:
    """Encoded prompts of ``samples`` that the model really refuses (all of them if none is refused)."""
    prompts = [encoder.encode_sample(s, with_answer=False) for s in samples]
    answers = generate_answers(model, encoder, prompts)
    kept = [p for p, a in zip(prompts, answers) if is_refusal(a)]
    return kept or prompts


def knowledge_absence_direction(model, encoder: Encoder, splits, layers: list[int]) -> tuple[dict[int, torch.Tensor], dict]:
    """Per layer: v = mean(refused) - mean(forget); also returns the activations used."""
    forget = [encoder.encode_sample(s, with_answer=False) for s in splits["forget"] if s.form == "qa"]
    refused = refused_prompts(model, encoder, splits["refusal"])
    positive = last_token_activations(model, encoder, refused, layers)
    negative = last_token_activations(model, encoder, forget, layers)
    directions = {layer: diff_in_means(positive[layer], negative[layer]) for layer in layers}
    return directions, {"positive": positive, "negative": negative, "refused": len(refused)}
