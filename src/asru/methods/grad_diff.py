"""GradDiff: gradient ascent on the forget set, descent on the retain set (-gamma*CE_f + alpha*CE_r).

As open-unlearning's ``GradDiff`` (retain loss NLL): each CE is the batch's mean over all its
answer tokens (a Hugging Face model's ``outputs.loss``); ``nll_reduction: samples`` averages each
item's mean instead.
"""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import NLLReduction, answer_lengths, batch_nll, gradient_difference


@register
class GradDiff(Method):
    name = "grad_diff"
    default_learning_rate = 5e-5
    default_sources = dict.fromkeys(("forget_weight", "retain_weight", "nll_reduction"), "paper")  # open-unlearning's configs/trainer/GradDiff.yaml

    class Params(StrictConfig):
        forget_weight: float = 1.0  # open-unlearning's gamma
        retain_weight: float = 1.0  # open-unlearning's alpha
        nll_reduction: NLLReduction = "tokens"

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        retain_nll, _ = forward_nll(model, batch.retain)
        forget = batch_nll(forget_nll, answer_lengths(batch.forget["labels"]), self.params.nll_reduction)
        retain = batch_nll(retain_nll, answer_lengths(batch.retain["labels"]), self.params.nll_reduction)
        loss = gradient_difference(forget, retain, self.params.forget_weight, self.params.retain_weight)
        return loss, {"forget_nll": forget.item(), "retain_nll": retain.item()}
