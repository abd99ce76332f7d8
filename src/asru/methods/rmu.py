"""RMU (Li et al., 2024, WMDP): scramble forget activations at one layer, keep retain activations.

Forget inputs: push the layer-l output toward c*u for a fixed random unit vector u.
Retain inputs: keep the layer-l output equal to the original model's (MSE, weight alpha).
Only the MLPs of layers l-2..l are trained, as in the paper.
"""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, register
from asru.methods.losses import activation_mse
from asru.models.layers import num_language_layers
from asru.steering.hooks import layer_output


@register
class RMU(Method):
    name = "rmu"
    uses_reference = True
    default_learning_rate = 5e-4
    default_sources = {"layers_trained": "paper"}

    class Params(StrictConfig):
        layer: int | None = None  # default: the middle layer
        coeff: float | None = None  # c; default: 3x the mean activation norm at the layer (scale-free)
        alpha: float = 1.0  # retain weight
        layers_trained: int = 3  # MLPs of layers l-2..l

    def __init__(self, params, reference=None):
        super().__init__(params, reference)
        self.layer = params.layer if params.layer is not None else num_language_layers(reference) // 2

    def prepare(self, model, encoder, forget, retain, splits=None, world=None):
        with torch.no_grad():
            batch = encoder.collate(forget[:16])
            hidden = layer_output(self.reference, batch, self.layer)
            norm = hidden[batch["attention_mask"].bool()].norm(dim=-1).mean().item()
        generator = torch.Generator().manual_seed(0)
        direction = torch.rand(hidden.shape[-1], generator=generator)
        self.control = direction / direction.norm() * (self.params.coeff or 3.0 * norm)

    def trainable(self, name: str) -> bool:
        first = max(0, self.layer - self.params.layers_trained + 1)
        return any(f"layers.{i}.mlp." in name for i in range(first, self.layer + 1))

    def loss(self, model, batch: UnlearnBatch):
        forget_hidden = layer_output(model, batch.forget, self.layer)
        target = self.control.to(forget_hidden.device).expand_as(forget_hidden)
        forget_loss = activation_mse(forget_hidden, target, batch.forget["attention_mask"])
        retain_hidden = layer_output(model, batch.retain, self.layer)
        with torch.no_grad():
            reference_hidden = layer_output(self.reference, batch.retain, self.layer)
        retain_loss = activation_mse(retain_hidden, reference_hidden, batch.retain["attention_mask"])
        return forget_loss + self.params.alpha * retain_loss, {"forget_mse": forget_loss.item(), "retain_mse": retain_loss.item()}
