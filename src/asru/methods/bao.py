"""BAO (PPU-Bench): GradDiff + a same-subject hinge that keeps the boundary inside one person.

L = -CE_f + CE_r + lambda * hinge, as PPU-Bench's ``BAGD.py``: the CEs are the batch's mean over
all answer tokens (the model's ``outputs.loss``), the hinge is max(0, m - (NLL_f - NLL_r)) on
per-sample mean NLLs, averaged over each subject's (forget, retain) pairs and then over subjects.
The retain batch is rebuilt from the forget batch's subjects (``same_subject_retain``).
"""

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import NLLReduction, answer_lengths, batch_nll, boundary_hinge, gradient_difference


@register
class BAO(Method):
    name = "bao"
    same_subject_retain = True
    default_learning_rate = 5e-5
    # PPU-Bench's README runs BAO with --boundary_lambda 1.0 --boundary_margin 1.0 (its argparse default lambda is 0.5)
    default_sources = dict.fromkeys(("weight", "margin", "nll_reduction"), "paper")

    class Params(StrictConfig):
        weight: float = 1.0  # lambda
        margin: float = 1.0  # m
        nll_reduction: NLLReduction = "tokens"  # of the GradDiff terms

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        retain_nll, _ = forward_nll(model, batch.retain)
        hinge = boundary_hinge(forget_nll, batch.forget_subjects, retain_nll, batch.retain_subjects, self.params.margin)
        forget = batch_nll(forget_nll, answer_lengths(batch.forget["labels"]), self.params.nll_reduction)
        retain = batch_nll(retain_nll, answer_lengths(batch.retain["labels"]), self.params.nll_reduction)
        loss = gradient_difference(forget, retain) + self.params.weight * hinge
        return loss, {"forget_nll": forget.item(), "retain_nll": retain.item(), "bao_hinge": hinge.item()}
