"""Test-time steering in the style of MLLMEraser: no weight change, a gated refusal direction.

fit():  v = mean(refused prompts) - mean(forget prompts) at layer l (last prompt token); a gate
        s(h) = cos(h, mu_forget) - cos(h, mu_retain), centroids from half of the forget/retain
        prompts and the threshold chosen on the other half (best balanced accuracy).
apply(): a context manager adding alpha * v to layer l for inputs whose gate fires; its hooks are
        always removed. Saved as a small safetensors file plus its JSON config.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, StrictInt
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from asru.config import StrictConfig, load_json_file, validate_document
from asru.data.collate import Encoder
from asru.errors import ModelError
from asru.io import atomic_write_json
from asru.methods.base import Method, register
from asru.models.layers import num_language_layers
from asru.steering.directions import last_token_activations
from asru.steering.refusal import knowledge_absence_direction
from asru.steering.hooks import steer


class SteeringFile(BaseModel):
    """steering.json: the layer, the gate's threshold and the parameters the artefact was fitted with."""

    model_config = ConfigDict(extra="forbid")

    layer: StrictInt
    threshold: float
    params: dict


@register
class TestTimeSteering(Method):
    name = "steering"
    trains = False
    default_sources = {"gated": "paper"}  # MLLMEraser steers only the inputs it detects as forget queries

    class Params(StrictConfig):
        layer: int | None = None  # default: the middle layer
        alpha: float = 1.5
        gated: bool = True

    def fit(self, model, processor, world, splits) -> "TestTimeSteering":
        encoder = Encoder(processor, world.root)
        self.layer = self.params.layer if self.params.layer is not None else num_language_layers(model) // 2
        directions, acts = knowledge_absence_direction(model, encoder, splits, [self.layer])
        self.direction = directions[self.layer]
        retain_samples = [s for name in ("retain_same_subject", "retain_other") for s in splits.get(name, []) if s.form == "qa"]
        forget_acts = acts["negative"][self.layer]
        retain = [encoder.encode_sample(s, with_answer=False) for s in retain_samples[: max(2 * len(forget_acts), 64)]]
        retain_acts = last_token_activations(model, encoder, retain, [self.layer])[self.layer]
        # centroids from the even half, the threshold chosen on the odd (held-out) half
        self.mu_forget, self.mu_retain = forget_acts[0::2].mean(0), retain_acts[0::2].mean(0)
        self.threshold = self._choose_threshold(forget_acts[1::2], retain_acts[1::2])
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
        meta = validate_document(SteeringFile, load_json_file(folder / "steering.json", ModelError), folder / "steering.json", ModelError)
        method = cls(cls.parse_params(meta.params))
        try:
            tensors = load_file(str(folder / "steering.safetensors"))
        except (SafetensorError, OSError) as error:
            raise ModelError(f"{folder / 'steering.safetensors'}: unreadable ({error})") from None
        missing = sorted({"direction", "mu_forget", "mu_retain"} - set(tensors))
        if missing:
            raise ModelError(f"{folder / 'steering.safetensors'}: tensor {missing[0]!r} missing")
        method.direction, method.mu_forget, method.mu_retain = tensors["direction"], tensors["mu_forget"], tensors["mu_retain"]
        method.layer, method.threshold = meta.layer, meta.threshold
        return method
