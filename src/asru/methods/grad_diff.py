"""GradDiff: gradient ascent on the forget set, descent on the retain set (-CE_f + w*CE_r)."""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import gradient_difference


@register
class GradDiff(Method):
    name = "grad_diff"
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        retain_nll, _ = forward_nll(model, batch.retain)
        loss = gradient_difference(forget_nll, retain_nll, self.params.retain_weight)
        return loss, {"forget_nll": forget_nll.mean().item(), "retain_nll": retain_nll.mean().item()}
