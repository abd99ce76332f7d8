"""The method registry: one small class per unlearning method, like open-unlearning's trainers.

A loss-based method implements ``loss(model, batch) -> (loss, logs)``; the shared trainer
(``asru.train.unlearn``) does everything else: data, LoRA, optimiser, checkpoints, evaluation.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

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


def method_summaries() -> dict[str, str]:
    """Every registered method's one-line summary, by name (what ``asru unlearn --help`` lists)."""
    import asru.methods.all  # noqa: F401

    return {name: METHODS[name].summary() for name in sorted(METHODS)}


# Where a default comes from (``asru unlearn --method X --help-method`` shows it per parameter):
DEFAULT_SOURCES = {
    "paper": "the published value (the paper or the authors' code, as recorded in this repository)",
    "tuned here": "tuned on the embedded world (benchmarks/asru_bars.py, benchmarks/tradeoff.py)",
    "chosen here": "set by asru, not tuned and not checked against a paper",
}


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
    forget_refusal_items: list = field(default_factory=list)
    retain_items: list = field(default_factory=list)
    extras: dict = field(default_factory=dict)
    # the share of the run's steps done before this one (0 at the first): for a method whose terms follow a schedule
    progress: float = 0.0


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
    uses_refusals: bool = False  # needs ``batch.forget_refusal`` (a method may set it per instance from its params)
    contextual_refusals: bool = False  # its refusals say what they will not tell, whatever UnlearnConfig.contextual_refusals says (ASRU's, from its params)
    refusal_phrasing: int | None = None  # every forget question taught this phrasing of its refusal, not alternated (asru.train.unlearn.refusal_texts; ASRU's, from its params)
    same_subject_retain: bool = False  # half of each retain batch from the forget subjects' kept facts (BAO; per instance where a param decides)
    trains: ClassVar[bool] = True  # False for test-time methods (no weight change)
    default_learning_rate: ClassVar[float] = 1e-4
    default_steps: ClassVar[int] = 60
    # bumped when a change of the code alters what the method trains on or how: the bench record holds it,
    # so that its finished runs become stale instead of standing for the new code
    revision: ClassVar[int] = 1
    # the question forms a run without ``train_forms`` trains on (UnlearnConfig.train_forms)
    default_train_forms: ClassVar[tuple[str, ...]] = ("qa",)
    # whether a run without ``train_photos`` asks image questions with every training photo (UnlearnConfig.train_photos)
    default_train_photos: ClassVar[bool] = False
    # the source (a key of DEFAULT_SOURCES) of each default: by parameter name ("rl.learning_rate"
    # for a nested one; "learning_rate" and "steps" for the two above), merged over the base
    # classes; a parameter not named has ``default_source``
    default_source: ClassVar[str] = "chosen here"
    default_sources: ClassVar[dict[str, str]] = {}

    def __init__(self, params: StrictConfig, reference=None):
        self.params = params
        self.reference = reference

    @classmethod
    def summary(cls) -> str:
        """One line on what the method does: its class docstring's first line, else its module's."""
        doc = cls.__dict__.get("__doc__") or sys.modules[cls.__module__].__doc__ or ""
        return doc.strip().splitlines()[0].strip() if doc.strip() else ""

    @classmethod
    def source_of(cls, name: str) -> str:
        """The source of parameter ``name``'s default (the nearest entry: "rl.steps", then "rl")."""
        sources: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            sources.update(klass.__dict__.get("default_sources", {}))
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            if ".".join(parts[:end]) in sources:
                return sources[".".join(parts[:end])]
        return cls.default_source

    @classmethod
    def parameter_rows(cls) -> list[dict[str, Any]]:
        """Every parameter with its type, default, source and description (nested configs flattened).

        The trainer's ``learning_rate`` and ``steps`` come first for methods that train: their
        defaults are the method's own.
        """
        rows = []
        if cls.trains:
            rows.append({"name": "learning_rate", "type": "float", "default": cls.default_learning_rate, "source": cls.source_of("learning_rate"), "description": "--learning-rate / learning_rate in the config"})
            rows.append({"name": "steps", "type": "int", "default": cls.default_steps, "source": cls.source_of("steps"), "description": "--steps / steps in the config"})

        def walk(model: type[StrictConfig], prefix: str) -> None:
            for name, info in model.model_fields.items():
                annotation = info.annotation
                if isinstance(annotation, type) and issubclass(annotation, StrictConfig):
                    walk(annotation, f"{prefix}{name}.")
                    continue
                default = info.get_default(call_default_factory=True)
                type_name = annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")
                rows.append({"name": prefix + name, "type": type_name, "default": default, "source": cls.source_of(prefix + name), "description": info.description or ""})

        walk(cls.Params, "")
        return rows

    @classmethod
    def learning_rate_for(cls, params) -> float:
        """The learning rate a run without ``learning_rate`` uses (a preset may choose its own)."""
        return cls.default_learning_rate

    @classmethod
    def train_forms_for(cls, params) -> list[str]:
        """The question forms a run without ``train_forms`` trains on (a preset may choose its own)."""
        return list(cls.default_train_forms)

    @classmethod
    def train_photos_for(cls, params) -> bool:
        """Whether a run without ``train_photos`` draws a training photo per visit (a preset may choose its own)."""
        return cls.default_train_photos

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
