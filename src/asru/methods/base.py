"""The method registry: one small class per unlearning method, like open-unlearning's trainers.

A loss-based method implements ``loss(model, batch) -> (loss, logs)``; the shared trainer
(``asru.train.unlearn``) does everything else: data, LoRA, optimiser, checkpoints, evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from asru.config import StrictConfig
from asru.errors import ConfigError
from asru.methods.losses import answer_nll

METHODS: dict[str, type["Method"]] = {}


def register(cls: type["Method"]) -> type["Method"]:
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type["Method"]:
    import asru.methods.all  # noqa: F401  (imports every method file so that it registers)

    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r} (known: {', '.join(sorted(METHODS))})")
    return METHODS[name]


@dataclass
class UnlearnBatch:
    """A forget batch and a retain batch (collated), with the subject of every row."""

    forget: dict[str, torch.Tensor]
    retain: dict[str, torch.Tensor]
    forget_subjects: list[str]
    retain_subjects: list[str]
    # the forget prompts with a refusal as the answer (IdK, DPO-IdK)
    forget_refusal: dict[str, torch.Tensor] | None = None
    # the rows before collation, the same object for the same item every step (per-item caches)
    forget_items: list = field(default_factory=list)
    retain_items: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)


def forward_nll(model, inputs: dict[str, torch.Tensor], output_hidden_states: bool = False):
    """Per-sample answer NLL [B] and the model output (labels are kept out of the forward)."""
    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    output = model(**model_inputs, output_hidden_states=output_hidden_states)
    return answer_nll(output.logits, inputs["labels"]), output


class Method:
    """Base class. ``Params`` holds the method's hyper-parameters with the published defaults."""

    name: ClassVar[str]
    Params: ClassVar[type[StrictConfig]] = StrictConfig
    uses_reference: ClassVar[bool] = False  # needs a frozen copy of the original model
    uses_refusals: ClassVar[bool] = False  # needs ``batch.forget_refusal``
    same_subject_retain: ClassVar[bool] = False  # retain batch rebuilt from the forget subjects (BAO)
    trains: ClassVar[bool] = True  # False for test-time methods (no weight change)
    default_learning_rate: ClassVar[float] = 1e-4
    default_steps: ClassVar[int] = 60

    def __init__(self, params: StrictConfig, reference=None):
        self.params = params
        self.reference = reference

    @classmethod
    def parse_params(cls, values: dict) -> StrictConfig:
        from pydantic import ValidationError

        from asru.config import describe_validation_error

        try:
            return cls.Params.model_validate(values or {})
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, f"method_args of {cls.name!r}")) from None

    @torch.no_grad()
    def reference_output(self, inputs: dict[str, torch.Tensor]):
        return forward_nll(self.reference, inputs)

    def loss(self, model, batch: UnlearnBatch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError
