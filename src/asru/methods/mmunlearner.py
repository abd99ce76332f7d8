"""MMUnlearner-style saliency masking (Huo et al., 2025): update only forget-salient weights.

Before training, accumulate the gradients of the forget NLL and the retain NLL; a weight is
updated only where its forget saliency |g_f| exceeds its retain saliency |g_r|. The loss is
GradDiff. Memory: one boolean mask per trainable parameter.
"""

import torch

from asru.config import StrictConfig
from asru.methods.base import Method, UnlearnBatch, forward_nll, register
from asru.methods.losses import gradient_difference


def _accumulated_gradients(model, encoder, items, batches: int, batch_size: int) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    for start in range(0, min(len(items), batches * batch_size), batch_size):
        batch = encoder.collate(items[start : start + batch_size])
        device = next(model.parameters()).device
        nll, _ = forward_nll(model, {k: v.to(device) for k, v in batch.items()})
        nll.mean().backward()
    grads = {n: p.grad.detach().abs().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    model.zero_grad(set_to_none=True)
    return grads


@register
class MMUnlearner(Method):
    name = "mmunlearner"
    default_learning_rate = 5e-5

    class Params(StrictConfig):
        retain_weight: float = 1.0
        saliency_batches: int = 8
        saliency_batch_size: int = 8

    def prepare(self, model, encoder, forget, retain, splits=None, world=None):
        p = self.params
        forget_grads = _accumulated_gradients(model, encoder, forget, p.saliency_batches, p.saliency_batch_size)
        retain_grads = _accumulated_gradients(model, encoder, retain, p.saliency_batches, p.saliency_batch_size)
        self.masks = {n: forget_grads[n] > retain_grads.get(n, torch.zeros_like(g)) for n, g in forget_grads.items()}
        total = sum(m.numel() for m in self.masks.values())
        self.mask_fraction = sum(m.sum().item() for m in self.masks.values()) / max(total, 1)

    def after_backward(self, model):
        for name, parameter in model.named_parameters():
            if parameter.grad is None:
                continue
            mask = self.masks.get(name.replace("module.", "", 1))
            if mask is None:
                parameter.grad = None
            else:
                parameter.grad.mul_(mask.to(parameter.grad.device))

    def loss(self, model, batch: UnlearnBatch):
        forget_nll, _ = forward_nll(model, batch.forget)
        retain_nll, _ = forward_nll(model, batch.retain)
        loss = gradient_difference(forget_nll, retain_nll, retain_weight=self.params.retain_weight)
        return loss, {"forget_nll": forget_nll.mean().item(), "retain_nll": retain_nll.mean().item(), "mask_fraction": self.mask_fraction}
