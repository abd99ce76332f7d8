"""ASRU stage 1, activation redirection (Guang et al., ICML 2026; DESIGN §7).

Train the MLP and attention value/output projections of layers 0..l (the authors: only
``layers[l].mlp.down_proj``; see ``Params``) so that on forget inputs h_l ~ h_l^frozen + lambda * v
(v = the knowledge-absence direction) and on retain inputs h_l ~ h_l^frozen (MSE, weighted by ``retain_weight``).
Where the forget and retain losses are taken (``positions``):

- ``"response"`` (default): the last prompt token and every answer token — the positions that
  see the whole question (name or face) and produce the answer.
- ``"tokens"``: every real prompt and answer token on both sides. The chat-template prefix is the
  same for forget and retain prompts, so a causal model has the same hidden state there and the
  two targets (h + lambda*v and h) contradict each other: the optimum shifts *every* prompt a bit
  toward refusal. Kept to measure exactly that (benchmarks/asru.py).
- ``"last"``: the authors' single last position of the padded batch (with their right padding
  often a padding token; our batches are left-padded, so it is the last answer token).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from asru.config import StrictConfig
from asru.data.collate import IGNORE_INDEX, Encoded
from asru.methods.base import Method, UnlearnBatch, register
from asru.models.layers import num_language_layers
from asru.steering.hooks import layer_output
from asru.steering.refusal import knowledge_absence_direction


def loss_mask(inputs: dict[str, torch.Tensor], positions: str) -> torch.Tensor:
    """[B, T] 0/1 mask of the positions where the activation loss is taken."""
    if positions == "tokens":
        return inputs["attention_mask"]
    if positions == "response":
        answer = inputs["labels"] != IGNORE_INDEX
        predicts_answer = torch.zeros_like(answer)
        predicts_answer[:, :-1] = answer[:, 1:]  # the last prompt token predicts the first answer token
        return (answer | predicts_answer).long() * inputs["attention_mask"]
    mask = torch.zeros_like(inputs["attention_mask"])
    mask[:, -1] = 1
    return mask


@register
class ASRUStage1(Method):
    name = "asru_stage1"
    uses_reference = True
    default_learning_rate = 3e-3
    default_steps = 240
    # the authors: lambda 3, retain weight 1, layers[l].mlp.down_proj only, the last position, lr 1e-4 (DESIGN §7)
    default_sources = {"layer": "paper", **dict.fromkeys(("scale", "retain_weight", "positions", "modules", "train_layers", "learning_rate", "steps"), "tuned here")}

    class Params(StrictConfig):
        layer: int | None = None  # default: the middle layer (authors: 17 of 36)
        # tuned on the embedded world (benchmarks/asru_bars.py; the authors' lambda = 3 with only the
        # down-projection moves a 4-layer model's hidden states ~2x their norm and breaks it)
        scale: float = 1.5  # lambda
        retain_weight: float = 5.0
        positions: Literal["response", "tokens", "last"] = "response"
        # the authors train only the down-projection of layer l: too little capacity to tell forget
        # people from retain people on the embedded world (forget leakage 0.13 at retain 0.91)
        modules: list[str] = ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "self_attn.v_proj", "self_attn.o_proj"]
        # layers whose ``modules`` train; default: every layer up to and including l, so that the
        # person is recognised (from the name or the face) before the redirected layer
        train_layers: list[int] | None = None

    def __init__(self, params, reference=None):
        super().__init__(params, reference)
        self.layer = params.layer if params.layer is not None else num_language_layers(reference) // 2

    def prepare(self, model, encoder, forget, retain, splits):
        directions, info = knowledge_absence_direction(self.reference, encoder, splits, [self.layer])
        self.direction = directions[self.layer]
        self.refused_prompts = info["refused"]
        self.encoder = encoder
        self.frozen: dict[int, tuple[Encoded, torch.Tensor]] = {}  # id(item) -> (item, its loss rows [positions, H])

    def frozen_rows(self, items: list[Encoded], device) -> torch.Tensor:
        """The frozen model's layer-l output at the loss positions of ``items`` [N, H], item after item.

        Each item is computed once and kept (its loss positions x H): the reference never
        changes, and running it every step was ~30 % of a step while each forget item is drawn
        ~50-500 times in a run (the trainer hands the same item object each time).
        """
        missing = list({id(item): item for item in items if id(item) not in self.frozen}.values())
        if missing:
            batch = {k: v.to(device) for k, v in self.encoder.collate(missing).items()}
            with torch.no_grad():
                hidden = layer_output(self.reference, batch, self.layer)
            mask = loss_mask(batch, self.params.positions).bool()
            for row, item in enumerate(missing):
                self.frozen[id(item)] = (item, hidden[row][mask[row]])
        return torch.cat([self.frozen[id(item)][1] for item in items])

    def trainable(self, name: str) -> bool:
        layers = self.params.train_layers if self.params.train_layers is not None else range(self.layer + 1)
        return any(f"layers.{layer}.{module}." in f"{name}." for layer in layers for module in self.params.modules)

    def loss(self, model, batch: UnlearnBatch):
        p = self.params
        device = batch.forget["input_ids"].device

        def rows(inputs):  # the trained model's layer-l output at the loss positions [N, H]
            return layer_output(model, inputs, self.layer)[loss_mask(inputs, p.positions).bool()]

        target = self.frozen_rows(batch.forget_items, device) + p.scale * self.direction.to(device)
        forget_loss = F.mse_loss(rows(batch.forget).float(), target.float())
        retain_loss = torch.zeros((), device=device)
        if batch.retain_items:
            retain_loss = F.mse_loss(rows(batch.retain).float(), self.frozen_rows(batch.retain_items, device).float())
        return forget_loss + p.retain_weight * retain_loss, {"forget_mse": forget_loss.item(), "retain_mse": retain_loss.item()}
