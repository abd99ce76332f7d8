import pytest
import torch

from asru.data.collate import Encoder
from asru.models import language_layers
from asru.steering.directions import diff_in_means, last_token_activations, pca_direction, separation
from asru.steering.hooks import forward_with_layer_output, layer_output, record_activations, steer


def _hook_count(model):
    return sum(len(layer._forward_hooks) for layer in language_layers(model))


def test_steer_changes_output_and_always_removes_its_hook(family_model):
    model, processor = family_model
    encoder = Encoder(processor)
    batch = encoder.collate([encoder.encode("Where was Talia Vorne born?")])
    batch.pop("labels")
    with torch.no_grad():
        base = model(**batch).logits
        with steer(model, 0, torch.ones(model.config.text_config.hidden_size) * 5):
            assert _hook_count(model) == 1
            steered = model(**batch).logits
    assert _hook_count(model) == 0
    assert not torch.allclose(base, steered)
    with pytest.raises(RuntimeError):
        with steer(model, 0, torch.zeros(model.config.text_config.hidden_size)):
            raise RuntimeError("body failed")
    assert _hook_count(model) == 0
    with pytest.raises(ValueError):
        with record_activations(model, [0, 1]):
            raise ValueError
    assert _hook_count(model) == 0


def test_layer_output_stops_at_the_layer_with_the_full_forwards_values_and_gradients(tiny_world, family_model):
    """The early stop gives exactly hidden_states[layer + 1] of a whole forward, image questions included, and the same gradients."""
    model, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    samples = [s for s in tiny_world.samples if s.image][:2] + [s for s in tiny_world.samples if not s.image][:2]
    batch = encoder.collate([encoder.encode_sample(s) for s in samples])
    assert "pixel_values" in batch
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    calls = []
    last = language_layers(model)[-1].register_forward_hook(lambda *args: calls.append(1))
    early = layer_output(model, batch, 0)
    assert calls == [] and _hook_count(model) == 1  # the last layer never ran; only our counting hook is left
    last.remove()
    full = model(**inputs, output_hidden_states=True).hidden_states[1]
    assert torch.equal(early, full)
    weight = language_layers(model)[0].mlp.down_proj.weight
    (grad_early,) = torch.autograd.grad(early.pow(2).mean(), weight)
    (grad_full,) = torch.autograd.grad(full.pow(2).mean(), weight)
    assert torch.allclose(grad_early, grad_full) and grad_early.abs().sum() > 0


def test_one_pass_layer_output_is_the_early_stops_at_every_layer_even_under_a_ddp_wrapper(tiny_world, family_model):
    """``forward_with_layer_output`` captures each layer's output (the last one too, where ``hidden_states``
    holds the final norm's output instead) with the whole forward's logits; ``layer_output`` takes that
    path when the model is wrapped (DDP / DeepSpeed must see their forward return) and gets the same."""
    model, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    batch = encoder.collate([encoder.encode_sample(s) for s in tiny_world.samples[:3]])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        full = model(**inputs)
        early = [layer_output(model, batch, layer) for layer in range(len(language_layers(model)))]
        for layer, expected in enumerate(early):
            hidden, output = forward_with_layer_output(model, batch, layer)
            assert torch.equal(hidden, expected) and torch.equal(output.logits, full.logits)
        wrapped = torch.nn.DataParallel(model)  # on CPU a pass-through wrapper that accelerate unwraps like DDP
        assert torch.equal(layer_output(wrapped, batch, len(early) - 1), early[-1])
    assert _hook_count(model) == 0


def test_gate_leaves_ungated_rows_alone(family_model):
    model, processor = family_model
    encoder = Encoder(processor)
    batch = encoder.collate([encoder.encode("Where was Talia Vorne born?"), encoder.encode("Who?")])
    batch.pop("labels")
    vector = torch.ones(model.config.text_config.hidden_size) * 5
    with torch.no_grad():
        base = model(**batch).logits
        with steer(model, 0, vector, gate=lambda h: torch.tensor([1.0, 0.0])):
            steered = model(**batch).logits
    assert not torch.allclose(base[0], steered[0])
    assert torch.allclose(base[1], steered[1])


def test_direction_separates_two_synthetic_sets():
    generator = torch.Generator().manual_seed(0)
    axis = torch.zeros(16)
    axis[3] = 1.0
    positive = torch.randn(50, 16, generator=generator) + 2 * axis
    negative = torch.randn(50, 16, generator=generator) - 2 * axis
    for direction in (diff_in_means(positive, negative), pca_direction(positive, negative)):
        assert separation(positive, negative, direction) > 0.95
        assert direction[3] / direction.norm() > 0.8
    assert separation(positive, negative, -diff_in_means(positive, negative)) < 0.05


def test_last_token_activations_are_the_same_batched_and_one_by_one(tiny_world, family_model):
    """Left padding moves nothing: each prompt's last-token activation as in a batch of one."""
    model, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    image = next(s for s in tiny_world.samples if s.image)
    prompts = [encoder.encode("Where was Talia Vorne born?"), encoder.encode("Who is it?"), encoder.encode(image.question, image.image)]
    acts = last_token_activations(model, encoder, prompts, [0, 1])
    alone = last_token_activations(model, encoder, prompts, [0, 1], batch_size=1)
    assert acts[0].shape == (3, model.config.text_config.hidden_size)
    assert not torch.allclose(acts[0], acts[1])
    for layer in (0, 1):
        torch.testing.assert_close(acts[layer], alone[layer], atol=1e-4, rtol=1e-4)
