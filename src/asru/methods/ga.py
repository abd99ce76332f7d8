"""Gradient ascent: raise the NLL of the forget answers. The simplest baseline; it collapses fast."""

from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import gradient_ascent


@register
class GradientAscent(Method):
    name = "ga"
    default_learning_rate = 5e-5

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        return gradient_ascent(forget_nll), {"forget_nll": forget_nll.mean().item()}
