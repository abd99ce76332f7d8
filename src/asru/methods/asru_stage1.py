"""ASRU stage 1, activation redirection (Guang et al., ICML 2026; DESIGN §7).

Train only ``layers[l].mlp.down_proj`` so that on forget inputs h_l ~ h_l^frozen + lambda * v
(v = the knowledge-absence direction) and on retain inputs h_l ~ h_l^frozen (MSE, weight 1).
``positions="tokens"`` takes the loss at every real prompt and answer token (masks respected);
``positions="last"`` reproduces the authors' single last position of the padded batch, whose
right-padded form often lands on a padding token.
"""

from __future__ import annotations

from typing import Literal

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, register
from asru.methods.losses import activation_mse
from asru.methods.rmu import layer_output
from asru.models.layers import num_language_layers
from asru.steering.refusal import knowledge_absence_direction


def loss_mask(inputs: dict[str, torch.Tensor], positions: str) -> torch.Tensor:
    if positions == "tokens":
        return inputs["attention_mask"]
    mask = torch.zeros_like(inputs["attention_mask"])
    mask[:, -1] = 1
    return mask


@register
class ASRUStage1(Method):
    name = "asru_stage1"
    uses_reference = True
    default_learning_rate = 1e-3

    class Params(StrictConfig):
        layer: int | None = None  # default: the middle layer (authors: 17 of 36)
        scale: float = 3.0  # lambda
        retain_weight: float = 1.0
        positions: Literal["tokens", "last"] = "tokens"

    def __init__(self, params, reference=None):
        super().__init__(params, reference)
        self.layer = params.layer if params.layer is not None else num_language_layers(reference) // 2

    def prepare(self, model, encoder, forget, retain, splits):
        directions, info = knowledge_absence_direction(self.reference, encoder, splits, [self.layer])
        self.direction = directions[self.layer]
        self.refused_prompts = info["refused"]

    def trainable(self, name: str) -> bool:
        return f"layers.{self.layer}.mlp.down_proj" in name

    def loss(self, model, batch: UnlearnBatch):
        p = self.params
        forget_hidden = layer_output(model, batch.forget, self.layer)
        retain_hidden = layer_output(model, batch.retain, self.layer)
        with torch.no_grad():
            frozen_forget = layer_output(self.reference, batch.forget, self.layer)
            frozen_retain = layer_output(self.reference, batch.retain, self.layer)
        target = frozen_forget + p.scale * self.direction.to(frozen_forget.device, frozen_forget.dtype)
        forget_loss = activation_mse(forget_hidden, target, loss_mask(batch.forget, p.positions))
        retain_loss = activation_mse(retain_hidden, frozen_retain, loss_mask(batch.retain, p.positions))
        return forget_loss + p.retain_weight * retain_loss, {"forget_mse": forget_loss.item(), "retain_mse": retain_loss.item()}
