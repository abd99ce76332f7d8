"""NPO (Zhang et al., 2024): a bounded, reference-relative version of gradient ascent, + retain NLL."""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import npo, sequence_logprob


@register
class NPO(Method):
    name = "npo"
    uses_reference = True
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        beta: float = 0.4
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        _, forget_out = forward_nll(model, batch.forget)
        with torch.no_grad():
            _, reference_out = self.reference_output(batch.forget)
        labels = batch.forget["labels"]
        forget_loss = npo(sequence_logprob(forget_out.logits, labels), sequence_logprob(reference_out.logits, labels), self.params.beta)
        retain_nll, _ = forward_nll(model, batch.retain)
        loss = forget_loss + self.params.retain_weight * retain_nll.mean()
        return loss, {"npo": forget_loss.item(), "retain_nll": retain_nll.mean().item()}
