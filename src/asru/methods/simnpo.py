"""SimNPO (Fan et al., 2024): NPO without a reference model, length-normalised, + retain NLL."""

from asru.config import StrictConfig
from asru.data.collate import IGNORE_INDEX
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import sequence_logprob, simnpo


@register
class SimNPO(Method):
    name = "simnpo"
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        beta: float = 2.5
        gamma: float = 0.0
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        labels = batch.forget["labels"]
        _, forget_out = forward_nll(model, batch.forget)
        lengths = (labels[:, 1:] != IGNORE_INDEX).sum(-1)
        forget_loss = simnpo(sequence_logprob(forget_out.logits, labels), lengths, self.params.beta, self.params.gamma)
        retain_nll, _ = forward_nll(model, batch.retain)
        loss = forget_loss + self.params.retain_weight * retain_nll.mean()
        return loss, {"simnpo": forget_loss.item(), "retain_nll": retain_nll.mean().item()}
