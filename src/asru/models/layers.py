"""Find the decoder blocks of a VLM's language model, per architecture (no name guessing).

Steering, RMU and ASRU stage 1 hook or train one decoder layer; the attribute path differs per
family, so it is looked up in an explicit table keyed by ``config.model_type``.
Qwen3-VL note: its vision tower also injects "deepstack" features into the first decoder layers
(``vision_config.deepstack_visual_indexes``); the language layers are still the residual stream
we steer, and the deepstack merge happens inside the text model before each early layer.
"""

from __future__ import annotations

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


def _resolve(root: nn.Module, path: str) -> nn.Module:
    module = root
    for name in path.split("."):
        module = getattr(module, name)
    return module


def language_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder layers of ``model``'s language model, unwrapping peft/accelerate wrappers."""
    from accelerate.utils import extract_model_from_parallel

    model = extract_model_from_parallel(model)  # DDP / DeepSpeed wrappers
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft
    model_type = getattr(getattr(base, "config", None), "model_type", None)
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
