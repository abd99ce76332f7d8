"""Import every method file so that each registers itself (one method per file)."""

from asru.methods import asru, asru_stage1, bao, dpo_idk, ga, grad_diff, idk, kl, mmunlearner, npo, rmu, simnpo, steering  # noqa: F401
