"""SimNPO (Fan et al., 2024): NPO without a reference model, length-normalised, + retain NLL.

As open-unlearning's ``SimNPO`` with its defaults (from the SimNPO authors' TOFU config): beta 4.5,
delta 0, the forget term weighted gamma = 0.125, + alpha * the retain batch's token-mean NLL.
"""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import NLLReduction, answer_lengths, batch_nll, sequence_logprob, simnpo


@register
class SimNPO(Method):
    name = "simnpo"
    default_learning_rate = 5e-5
    default_sources = dict.fromkeys(("beta", "delta", "forget_weight", "retain_weight", "nll_reduction"), "paper")  # open-unlearning's configs/trainer/SimNPO.yaml

    class Params(StrictConfig):
        beta: float = 4.5
        delta: float = 0.0  # the margin, as open-unlearning's delta: the paper's gamma / beta
        forget_weight: float = 0.125  # open-unlearning's gamma (the SimNPO authors' npo_coeff)
        retain_weight: float = 1.0  # open-unlearning's alpha
        nll_reduction: NLLReduction = "tokens"

    def loss(self, model, batch: UnlearnBatch):
        labels = batch.forget["labels"]
        _, forget_out = forward_nll(model, batch.forget)
        forget_loss = simnpo(sequence_logprob(forget_out.logits, labels), answer_lengths(labels), self.params.beta, self.params.delta)
        retain_nll, _ = forward_nll(model, batch.retain)
        retain = batch_nll(retain_nll, answer_lengths(batch.retain["labels"]), self.params.nll_reduction)
        loss = self.params.forget_weight * forget_loss + self.params.retain_weight * retain
        return loss, {"simnpo": forget_loss.item(), "retain_nll": retain.item()}
