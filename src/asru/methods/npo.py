"""NPO (Zhang et al., 2024): a bounded, reference-relative version of gradient ascent, + retain NLL.

As open-unlearning's ``NPO``: gamma * NPO on the answers' summed log-probabilities + alpha * the
retain batch's token-mean NLL (``nll_reduction: samples`` averages each item's mean instead).
"""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import NLLReduction, answer_lengths, batch_nll, npo, sequence_logprob


@register
class NPO(Method):
    name = "npo"
    uses_reference = True
    default_learning_rate = 5e-5
    default_sources = dict.fromkeys(("beta", "forget_weight", "retain_weight", "nll_reduction"), "paper")  # open-unlearning's configs/trainer/NPO.yaml

    class Params(StrictConfig):
        beta: float = 0.1
        forget_weight: float = 1.0  # open-unlearning's gamma
        retain_weight: float = 1.0  # open-unlearning's alpha
        nll_reduction: NLLReduction = "tokens"

    def loss(self, model, batch: UnlearnBatch):
        _, forget_out = forward_nll(model, batch.forget)
        with torch.no_grad():
            _, reference_out = self.reference_output(batch.forget)
        labels = batch.forget["labels"]
        forget_loss = npo(sequence_logprob(forget_out.logits, labels), sequence_logprob(reference_out.logits, labels), self.params.beta)
        retain_nll, _ = forward_nll(model, batch.retain)
        retain = batch_nll(retain_nll, answer_lengths(batch.retain["labels"]), self.params.nll_reduction)
        loss = self.params.forget_weight * forget_loss + self.params.retain_weight * retain
        return loss, {"npo": forget_loss.item(), "retain_nll": retain.item()}
