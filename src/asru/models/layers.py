"""Find the decoder blocks of a VLM's language model, per architecture (no name guessing).

Steering, RMU and ASRU stage 1 hook or train one decoder layer; the attribute path differs per
family, so it is looked up in an explicit table keyed by ``config.model_type``.
Qwen3-VL note: its vision tower also injects "deepstack" features into the first decoder layers
(``vision_config.deepstack_visual_indexes``); the language layers are still the residual stream
we steer, and the deepstack merge happens inside the text model before each early layer.
The vision placeholder tokens are looked up per architecture too (``placeholder_token_ids``).
"""

from __future__ import annotations

from typing import Callable

import torch.nn as nn

from asru.errors import ModelError

# model_type -> attribute path from the top-level model to the ModuleList of decoder layers.
LANGUAGE_LAYER_PATHS: dict[str, str] = {
    "qwen3_vl": "model.language_model.layers",
    "qwen3_vl_moe": "model.language_model.layers",
    "qwen2_5_vl": "model.language_model.layers",
    "qwen2_vl": "model.language_model.layers",
    "llava": "model.language_model.layers",
    "llava_next": "model.language_model.layers",
    "idefics3": "model.text_model.layers",
    "smolvlm": "model.text_model.layers",
    "gemma3": "model.language_model.layers",
    # plain causal LMs (text-only judges, tests)
    "llama": "model.layers",
    "qwen2": "model.layers",
    "qwen3": "model.layers",
    "mistral": "model.layers",
}


# model_type -> the vision tower and its connector to the language model (Qwen-VL's merger lives in
# ``visual``): what the target's vision learning rate applies to and what unlearning leaves frozen.
VISION_MODULE_PATHS: dict[str, tuple[str, ...]] = {
    "qwen3_vl": ("model.visual",),
    "qwen3_vl_moe": ("model.visual",),
    "qwen2_5_vl": ("model.visual",),
    "qwen2_vl": ("model.visual",),
    "llava": ("model.vision_tower", "model.multi_modal_projector"),
    "llava_next": ("model.vision_tower", "model.multi_modal_projector"),
    "idefics3": ("model.vision_model", "model.connector"),
    "smolvlm": ("model.vision_model", "model.connector"),
    "gemma3": ("model.vision_tower", "model.multi_modal_projector"),
}


def _resolve(root: nn.Module, path: str) -> nn.Module:
    module = root
    for name in path.split("."):
        module = getattr(module, name)
    return module


def _base_and_type(model: nn.Module) -> tuple[nn.Module, str | None]:
    """The model inside peft/accelerate wrappers and its ``model_type``."""
    from accelerate.utils import extract_model_from_parallel

    model = extract_model_from_parallel(model)  # DDP / DeepSpeed wrappers
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft
    return base, getattr(getattr(base, "config", None), "model_type", None)


def language_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of ``model``'s language model, unwrapping peft/accelerate wrappers."""
    base, model_type = _base_and_type(model)
    path = LANGUAGE_LAYER_PATHS.get(model_type or "")
    if path is None:
        known = ", ".join(sorted(LANGUAGE_LAYER_PATHS))
        raise ModelError(f"no known decoder-layer path for architecture {model_type!r} (known: {known})")
    try:
        layers = _resolve(base, path)
    except AttributeError:
        raise ModelError(f"architecture {model_type!r}: expected decoder layers at '{path}', not found") from None
    if not isinstance(layers, nn.ModuleList):
        raise ModelError(f"architecture {model_type!r}: '{path}' is {type(layers).__name__}, not a ModuleList")
    return layers


def num_language_layers(model: nn.Module) -> int:
    return len(language_layers(model))


def language_model_path(model: nn.Module) -> str:
    """Attribute path of the language model (the decoder layers' parent): LoRA's target prefix."""
    _, model_type = _base_and_type(model)
    language_layers(model)  # an unknown architecture is the same clear error
    return LANGUAGE_LAYER_PATHS[model_type].rsplit(".", 1)[0]


def is_vision_parameter(model: nn.Module) -> Callable[[str], bool]:
    """``name -> bool`` for ``model.named_parameters()`` names (peft-wrapped too): vision tower or connector."""
    _, model_type = _base_and_type(model)
    paths = VISION_MODULE_PATHS.get(model_type or "")
    if paths is None:
        known = ", ".join(sorted(VISION_MODULE_PATHS))
        raise ModelError(f"no known vision-tower path for architecture {model_type!r} (known: {known})")
    return lambda name: any(f".{path}." in f".{name}" for path in paths)


def placeholder_token_ids(model) -> list[int]:
    """Token ids that stand for vision features (image/video pads and their start/end markers), per architecture's config.

    GRPO's sampling suppresses them: a sampled one would leave more placeholder tokens than image features in
    the sequence that is scored next ("Image features and image tokens do not match"). ASRU stage 1's image
    hold takes its loss at their positions, where the picture enters the language model.
    """
    config = getattr(model, "config", None)
    names = ("image_token_id", "video_token_id", "image_token_index", "video_token_index", "vision_start_token_id", "vision_end_token_id")
    ids = {getattr(config, name, None) for name in names}
    return sorted(i for i in ids if isinstance(i, int) and i >= 0)
