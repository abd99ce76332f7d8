"""Directions in activation space: diff-in-means, PCA, and how well they separate two prompt sets.

Activations are taken at the **last prompt token** (the position that decides the answer);
prompts are left-padded, so that is index -1 of every row.
"""

from __future__ import annotations

import torch

from asru.data.collate import Encoded, Encoder
from asru.steering.hooks import record_activations


@torch.no_grad()
def last_token_activations(model, encoder: Encoder, prompts: list[Encoded], layers: list[int], batch_size: int = 64) -> dict[int, torch.Tensor]:
    """Activations [N, H] at the last prompt token for each layer."""
    model.eval()
    device = next(model.parameters()).device
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for start in range(0, len(prompts), batch_size):
        batch = encoder.collate(prompts[start : start + batch_size])
        batch.pop("labels")
        with record_activations(model, layers) as records:
            model(**{k: v.to(device) for k, v in batch.items()})
        for layer in layers:
            out[layer].append(records[layer][0][:, -1].float().cpu())
    return {layer: torch.cat(chunks) for layer, chunks in out.items()}


def diff_in_means(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """mean(positive) - mean(negative), not normalised (ASRU's direction keeps its scale)."""
    return positive.mean(0) - negative.mean(0)


def pca_direction(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """First principal component of the pooled, centred activations, oriented toward ``positive``."""
    pooled = torch.cat([positive, negative])
    centred = pooled - pooled.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    direction = v[0]
    if (positive @ direction).mean() < (negative @ direction).mean():
        direction = -direction
    return direction * diff_in_means(positive, negative).norm()


def separation(positive: torch.Tensor, negative: torch.Tensor, direction: torch.Tensor) -> float:
    """AUC of the projection on ``direction``: 1.0 = every positive projects above every negative."""
    pos = positive @ direction
    neg = negative @ direction
    greater = (pos[:, None] > neg[None, :]).float().mean()
    ties = (pos[:, None] == neg[None, :]).float().mean()
    return (greater + 0.5 * ties).item()
