"""DPO-IdK: prefer a refusal (chosen) over the true answer (rejected), relative to the original model."""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import dpo, sequence_logprob


@register
class DPOIdK(Method):
    name = "dpo_idk"
    uses_reference = True
    uses_refusals = True
    revision = 2  # 2026-12-05: its refusal to a photo says "this person", no longer the name (asru.world.phrases.forget_refusal)
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        beta: float = 0.1
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        chosen, rejected = batch.forget_refusal, batch.forget
        _, chosen_out = forward_nll(model, chosen)
        _, rejected_out = forward_nll(model, rejected)
        with torch.no_grad():
            _, ref_chosen = self.reference_output(chosen)
            _, ref_rejected = self.reference_output(rejected)

        def logprob(output, inputs):
            return sequence_logprob(output.logits, inputs["labels"])

        preference = dpo(
            logprob(chosen_out, chosen), logprob(rejected_out, rejected), logprob(ref_chosen, chosen), logprob(ref_rejected, rejected), self.params.beta
        )
        retain_nll, _ = forward_nll(model, batch.retain)
        return preference + self.params.retain_weight * retain_nll.mean(), {"dpo": preference.item(), "retain_nll": retain_nll.mean().item()}
