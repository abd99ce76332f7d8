"""IdK / refusal tuning: fine-tune the forget questions toward varied refusals, keep retain."""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register


@register
class IdK(Method):
    name = "idk"
    uses_refusals = True
    revision = 2  # 2026-12-05: its refusal to a photo says "this person", no longer the name (asru.world.phrases.forget_refusal)
    default_learning_rate = 1e-4

    class Params(StrictConfig):
        retain_weight: float = 1.0

    def loss(self, model, batch: UnlearnBatch):
        refusal_nll, _ = forward_nll(model, batch.forget_refusal)
        retain_nll, _ = forward_nll(model, batch.retain)
        loss = refusal_nll.mean() + self.params.retain_weight * retain_nll.mean()
        return loss, {"refusal_nll": refusal_nll.mean().item(), "retain_nll": retain_nll.mean().item()}
