"""BAO (PPU-Bench): GradDiff + a same-subject hinge that keeps the boundary inside one person.

L = -CE_f + CE_r + lambda * mean over same-subject pairs of max(0, m - (NLL_f - NLL_r)); the
retain batch is rebuilt from the forget batch's subjects (``same_subject_retain``).
"""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import boundary_hinge, gradient_difference


@register
class BAO(Method):
    name = "bao"
    same_subject_retain = True
    default_learning_rate = 5e-5
    default_sources = {"margin": "paper"}  # PPU-Bench's code: lambda 0.5, m 1

    class Params(StrictConfig):
        weight: float = 1.0  # lambda
        margin: float = 1.0  # m

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        retain_nll, _ = forward_nll(model, batch.retain)
        hinge = boundary_hinge(forget_nll, batch.forget_subjects, retain_nll, batch.retain_subjects, self.params.margin)
        loss = gradient_difference(forget_nll, retain_nll) + self.params.weight * hinge
        return loss, {"forget_nll": forget_nll.mean().item(), "retain_nll": retain_nll.mean().item(), "bao_hinge": hinge.item()}
