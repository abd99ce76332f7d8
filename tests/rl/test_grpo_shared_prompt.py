"""The GRPO scoring passes run each prompt once per group: same log-probs and gradients as the full forward."""

import pytest
import torch

from asru.data.collate import Encoder
from asru.models import TinyModelConfig, build_tiny
from asru.models.layers import placeholder_token_ids
from asru.rl.grpo import (
    completion_logprobs,
    completion_mask,
    mrope_module,
    shared_prompt_generate,
    shared_prompt_logprobs,
)
from asru.train.finetune import tokenizer_corpus

GROUP = 3
SMALL = dict(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)


def _rollout(model, processor, world, modality: str, max_new_tokens: int = 7):
    encoder = Encoder(processor, world.root)
    samples = [s for s in world.samples if s.kind == "fact" and s.form == "qa" and s.modality == modality][:2]
    prompts = [encoder.encode_sample(s, with_answer=False) for s in samples]
    prompts[1].input_ids.pop(0)  # unequal prompt lengths: left padding in both batches
    prompts[1].labels.pop(0)
    for values in prompts[1].sequence_extras.values():
        values.pop(0)
    batch = encoder.collate([p for p in prompts for _ in range(GROUP)])
    prompt_batch = encoder.collate(prompts)
    batch.pop("labels"), prompt_batch.pop("labels")
    width = batch["input_ids"].shape[1]
    tokenizer = processor.tokenizer
    torch.manual_seed(0)
    with torch.no_grad():
        sequences = model.generate(
            **batch, do_sample=True, top_k=0, max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id, suppress_tokens=placeholder_token_ids(model),
        )
    sequences[1, width + 2] = tokenizer.eos_token_id  # one completion ends early: masked tail
    mask = completion_mask(sequences[:, width:], tokenizer.eos_token_id)
    attention = torch.cat([batch["attention_mask"], mask], dim=1)
    return batch, prompt_batch, sequences, attention, width, mask


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def _check(model, processor, world, modality):
    batch, prompt_batch, sequences, attention, width, mask = _rollout(model, processor, world, modality)
    model.train()
    full = completion_logprobs(model, batch, sequences, attention, width)
    (full * mask).sum().backward()
    full_grads = _grads(model)
    model.zero_grad()
    shared = shared_prompt_logprobs(model, prompt_batch, GROUP, sequences, attention, width, mrope=mrope_module(model))
    (shared * mask).sum().backward()
    shared_grads = _grads(model)
    model.zero_grad()
    assert shared.shape == full.shape
    torch.testing.assert_close(shared * mask, full * mask, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(shared_grads, full_grads, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("modality", ["image", "text"])
def test_shared_prompt_matches_the_full_forward(tiny_world, family_model, modality):
    model, processor = family_model
    _check(model, processor, tiny_world, modality)


def test_shared_prompt_matches_the_full_forward_with_lora(tiny_world):
    from peft import LoraConfig, get_peft_model

    qwen, processor = build_tiny(tokenizer_corpus(tiny_world.samples), TinyModelConfig(**SMALL))
    lora = get_peft_model(qwen, LoraConfig(r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)$", init_lora_weights=False))
    assert mrope_module(lora) is not None
    _check(lora, processor, tiny_world, "image")


@pytest.mark.parametrize("modality", ["image", "text"])
def test_shared_prompt_generation_is_the_plain_generation(tiny_world, family_model, modality):
    model, processor = family_model
    model.eval()
    batch, prompt_batch, *_ = _rollout(model, processor, tiny_world, modality)
    tokenizer = processor.tokenizer
    greedy = dict(do_sample=False, max_new_tokens=6, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    with torch.no_grad():
        plain = model.generate(**batch, **greedy)
        shared = shared_prompt_generate(model, batch, prompt_batch, GROUP, mrope_module(model), **greedy)
        torch.manual_seed(1)
        sampled = shared_prompt_generate(model, batch, prompt_batch, GROUP, mrope_module(model), do_sample=True, top_k=0, max_new_tokens=6, pad_token_id=tokenizer.pad_token_id)
    assert torch.equal(shared, plain)
    assert torch.equal(sampled[:, : batch["input_ids"].shape[1]], batch["input_ids"])


def test_image_placeholders_are_never_sampled(family_model):
    model, processor = family_model
    ids = placeholder_token_ids(model)
    assert processor.tokenizer.convert_tokens_to_ids(processor.image_token) in ids
    assert processor.tokenizer.eos_token_id not in ids


def test_shared_passes_continue_the_cache_without_deprecated_keywords(tiny_world):
    """The KV cache is passed on under the keyword this transformers takes (``cache`` in recent 5.x):
    the old ``past_key_values`` alias printed FutureWarnings in every GRPO worker of ``asru demo``."""
    import warnings

    from peft import LoraConfig, get_peft_model

    model, processor = build_tiny(tokenizer_corpus(tiny_world.samples), TinyModelConfig(**SMALL))
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=r".*language_model.*\.(q_proj|v_proj)$"))
    batch, prompt_batch, sequences, attention, width, _ = _rollout(model, processor, tiny_world, "image")
    tokenizer = processor.tokenizer
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always")
        for policy in (model, lora):
            shared_prompt_logprobs(policy, prompt_batch, GROUP, sequences, attention, width, mrope=mrope_module(policy))
            shared_prompt_generate(policy, batch, prompt_batch, GROUP, mrope_module(policy), do_sample=False, max_new_tokens=3, pad_token_id=tokenizer.pad_token_id)
    assert not [str(w.message) for w in caught if "past_key_values" in str(w.message)]
