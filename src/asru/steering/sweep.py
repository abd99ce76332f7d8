"""Layer sweep for the knowledge-absence direction: where to redirect (ASRU stage 1) or steer.

Per layer: the AUC with which the direction separates refused prompts from forget prompts, and
the fraction of forget questions that steering with alpha * v turns into refusals. The default
layer is the one that flips the most, ties broken by separation, then by depth nearest the middle.
"""

from __future__ import annotations

from asru.data.collate import Encoder
from asru.eval.generate import generate_answers
from asru.eval.metrics import is_refusal
from asru.models.layers import num_language_layers
from asru.steering.directions import separation
from asru.steering.hooks import steer
from asru.steering.refusal import knowledge_absence_direction


def layer_sweep(model, processor, world, splits, layers: list[int] | None = None, alpha: float = 1.0, max_prompts: int = 64) -> dict:
    """Return ``{"layers": [{layer, separation, flip_rate, direction_norm}], "best_layer": int}``."""
    encoder = Encoder(processor, world.root)
    count = num_language_layers(model)
    layers = layers if layers is not None else list(range(count))
    directions, acts = knowledge_absence_direction(model, encoder, splits, layers)
    forget = [s for s in splits["forget"] if s.form == "qa"][:max_prompts]
    prompts = [encoder.encode_sample(s, with_answer=False) for s in forget]
    rows = []
    for layer in layers:
        with steer(model, layer, alpha * directions[layer]):
            answers = generate_answers(model, encoder, prompts)
        rows.append(
            {
                "layer": layer,
                "separation": separation(acts["positive"][layer], acts["negative"][layer], directions[layer]),
                "flip_rate": sum(is_refusal(a) for a in answers) / max(len(answers), 1),
                "direction_norm": directions[layer].norm().item(),
            }
        )
    best = max(rows, key=lambda r: (round(r["flip_rate"], 3), round(r["separation"], 3), -abs(r["layer"] - count // 2)))
    return {"layers": rows, "best_layer": best["layer"], "alpha": alpha, "refused_prompts": acts["refused"]}
