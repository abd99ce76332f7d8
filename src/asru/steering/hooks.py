"""Forward hooks on decoder layers: record activations, add a steering vector. Always removed.

Decoder layers return a tensor (transformers 5) or a tuple whose first item is the hidden
states; both are handled. Hooks run during ``generate`` too, at prefill and at cached steps.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from asru.models.layers import language_layers


def _hidden(output):
    return output[0] if isinstance(output, tuple) else output


def _replace_hidden(output, hidden):
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


@contextmanager
def hooked(model, layer: int, hook: Callable) -> Iterator[None]:
    """Register ``hook`` on decoder layer ``layer``; removed on exit, even when the body raises."""
    handle = language_layers(model)[layer].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class _StopForward(Exception):
    """Raised by :func:`layer_output`'s hook once the wanted layer has run."""


def layer_output(model, inputs: dict[str, torch.Tensor], layer: int) -> torch.Tensor:
    """Decoder layer ``layer``'s output hidden states [B, T, H], with grad where grad is on.

    Written by hand because transformers has no "stop after layer l" option: ``output_hidden_states``
    runs every later layer and the LM head, about a quarter of a forward pass on the embedded model
    wasted at the middle layer (stage 1 and RMU call this four times a step). A hook on the layer
    ends the forward there. A DDP / DeepSpeed wrapper must see its forward return (its gradient sync
    is armed at the end of it), so there the whole model runs, with the logits of one position only.
    """
    from accelerate.utils import extract_model_from_parallel

    if extract_model_from_parallel(model) is not model:
        return forward_with_layer_output(model, inputs, layer, logits_to_keep=1)[0]
    model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
    captured: list[torch.Tensor] = []

    def hook(module, args, output):
        captured.append(_hidden(output))
        raise _StopForward

    with hooked(model, layer, hook):
        try:
            model(**model_inputs)
        except _StopForward:
            pass
    if not captured:
        raise RuntimeError(f"decoder layer {layer} did not run in the forward pass")
    return captured[0]


def forward_with_layer_output(model, inputs: dict[str, torch.Tensor], layer: int, **forward_kwargs):
    """Decoder layer ``layer``'s output [B, T, H] and the whole forward's output, from one pass.

    For a loss that needs both (stage 1's retain MSE and retain NLL) this saves the second pass up
    to the layer. A hook captures the output because ``hidden_states[layer + 1]`` is not always it:
    transformers stores the final norm's output there for the last layer.
    """
    captured: list[torch.Tensor] = []
    with hooked(model, layer, lambda module, args, output: captured.append(_hidden(output))):
        output = model(**{k: v for k, v in inputs.items() if k != "labels"}, **forward_kwargs)
    if not captured:
        raise RuntimeError(f"decoder layer {layer} did not run in the forward pass")
    return captured[0], output  # [0]: gradient checkpointing re-runs the layer (and the hook) in backward


@contextmanager
def record_activations(model, layers: list[int]) -> Iterator[dict[int, list[torch.Tensor]]]:
    """Record each listed layer's output hidden states [B, T, H] (one entry per forward call)."""
    records: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    handles = []
    try:
        for layer in layers:
            def hook(module, args, output, layer=layer):
                records[layer].append(_hidden(output).detach())

            handles.append(language_layers(model)[layer].register_forward_hook(hook))
        yield records
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def steer(model, layer: int, vector: torch.Tensor, gate: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Iterator[dict]:
    """Add ``vector`` to layer ``layer``'s output at every position.

    ``gate`` (optional) maps the layer output at the last prompt token [B, H] to a per-row
    multiplier [B] (0 = leave this input alone); it is decided at prefill and kept for the cached
    decoding steps of the same batch. Yields a state dict with the last ``gate_values``.
    """
    state: dict = {"gate_values": None}

    def hook(module, args, output):
        hidden = _hidden(output)
        if gate is not None:
            if hidden.shape[1] > 1 or state["gate_values"] is None or state["gate_values"].shape[0] != hidden.shape[0]:
                state["gate_values"] = gate(hidden[:, -1]).to(hidden.dtype)
            scale = state["gate_values"][:, None, None]
        else:
            scale = 1.0
        return _replace_hidden(output, hidden + scale * vector.to(hidden.device, hidden.dtype))

    with hooked(model, layer, hook):
        yield state
