"""KL: gradient ascent on forget + KL to the original model's outputs on retain."""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import gradient_ascent, kl_to_reference


@register
class KLMinimization(Method):
    name = "kl"
    uses_reference = True
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        _, retain_out = forward_nll(model, batch.retain)
        with torch.no_grad():
            _, reference_out = self.reference_output(batch.retain)
        kl = kl_to_reference(retain_out.logits, reference_out.logits, batch.retain["labels"])
        return gradient_ascent(forget_nll) + self.params.retain_weight * kl, {"forget_nll": forget_nll.mean().item(), "retain_kl": kl.item()}
