"""Test-time steering in the style of MLLMEraser: no weight change, a gated refusal direction.

fit():  v = mean(refused prompts) - mean(forget prompts) at layer l (last prompt token); a gate
        s(h) = cos(h, mu_forget) - cos(h, mu_retain) with a threshold chosen on a held-out half
        of the forget/retain prompts (best balanced accuracy).
apply(): a context manager adding alpha * v to layer l for inputs whose gate fires; its hooks are
        always removed. Saved as a small safetensors file plus its JSON config.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from asru.config import StrictConfig
from asru.data.collate import Encoder
from asru.eval.metrics import is_refusal
from asru.errors import ModelError
from asru.io import atomic_write_json
from asru.methods.base import Method, register
from asru.models.layers import num_language_layers
from asru.steering.directions import diff_in_means, last_token_activations
from asru.steering.hooks import steer


@register
class TestTimeSteering(Method):
    name = "steering"
    trains = False

    class Params(StrictConfig):
        layer: int | None = None  # default: the middle layer
        alpha: float = 1.5
        gated: bool = True

    def fit(self, model, processor, world, splits) -> "TestTimeSteering":
        from asru.eval.generate import generate_answers

        encoder = Encoder(processor, world.root)
        self.layer = self.params.layer if self.params.layer is not None else num_language_layers(model) // 2
        forget = [encoder.encode_sample(s, with_answer=False) for s in splits["forget"] if s.form == "qa"]
        retain_samples = [s for name in ("retain_same_subject", "retain_other") for s in splits.get(name, []) if s.form == "qa"]
        retain = [encoder.encode_sample(s, with_answer=False) for s in retain_samples[: max(len(forget) * 2, 64)]]
        refusal_prompts = [encoder.encode_sample(s, with_answer=False) for s in splits["refusal"]]
        # keep only the prompts the model really refuses (the ASRU/DESIGN §7 rule)
        answers = generate_answers(model, encoder, refusal_prompts)
        refused = [p for p, a in zip(refusal_prompts, answers) if is_refusal(a)] or refusal_prompts
        acts = {
            name: last_token_activations(model, encoder, prompts, [self.layer])[self.layer]
            for name, prompts in (("forget", forget), ("retain", retain), ("refused", refused))
        }
        self.direction = diff_in_means(acts["refused"], acts["forget"])
        self.mu_forget, self.mu_retain = acts["forget"].mean(0), acts["retain"].mean(0)
        self.threshold = self._choose_threshold(acts["forget"][1::2], acts["retain"][1::2])
        return self

    def score(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.float()
        mu_f, mu_r = self.mu_forget.to(hidden.device), self.mu_retain.to(hidden.device)
        return F.cosine_similarity(hidden, mu_f[None], dim=-1) - F.cosine_similarity(hidden, mu_r[None], dim=-1)

    def _choose_threshold(self, forget: torch.Tensor, retain: torch.Tensor) -> float:
        scores_f, scores_r = self.score(forget), self.score(retain)
        best, best_threshold = -1.0, 0.0
        for threshold in torch.cat([scores_f, scores_r]).unique().tolist():
            balanced = ((scores_f >= threshold).float().mean() + (scores_r < threshold).float().mean()).item() / 2
            if balanced > best:
                best, best_threshold = balanced, threshold
        return best_threshold

    def gate(self, hidden: torch.Tensor) -> torch.Tensor:
        return (self.score(hidden) >= self.threshold).float()

    @contextmanager
    def apply(self, model):
        vector = self.params.alpha * self.direction
        with steer(model, self.layer, vector, self.gate if self.params.gated else None):
            yield

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"direction": self.direction, "mu_forget": self.mu_forget, "mu_retain": self.mu_retain}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "steering.safetensors"))
        atomic_write_json(folder / "steering.json", {"layer": self.layer, "threshold": self.threshold, "params": self.params.model_dump()})

    @classmethod
    def load(cls, folder: Path) -> "TestTimeSteering":
        folder = Path(folder)
        if not (folder / "steering.json").is_file() or not (folder / "steering.safetensors").is_file():
            raise ModelError(f"{folder}: steering.json / steering.safetensors missing")
        meta = json.loads((folder / "steering.json").read_text())
        method = cls(cls.parse_params(meta["params"]))
        tensors = load_file(str(folder / "steering.safetensors"))
        method.direction, method.mu_forget, method.mu_retain = tensors["direction"], tensors["mu_forget"], tensors["mu_retain"]
        method.layer, method.threshold = meta["layer"], meta["threshold"]
        return method
