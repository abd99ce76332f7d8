"""Batched greedy generation: left padding, KV cache, optional per-batch hooks (steering)."""

from __future__ import annotations

from typing import Sequence

import torch

from asru.data.collate import Encoded, Encoder


@torch.no_grad()
def generate_answers(
    model,
    encoder: Encoder,
    prompts: Sequence[Encoded],
    max_new_tokens: int = 24,
    batch_size: int = 32,
    progress=None,
) -> list[str]:
    """Greedy answers for already-encoded prompts (encode without answers), in input order.

    Prompts are sorted by length so that each batch carries little padding; ``progress`` is an
    optional callable advanced by the number of answers done.
    """
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].input_ids))
    answers: list[str] = [""] * len(prompts)
    tokenizer = encoder.tokenizer
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = encoder.collate([prompts[i] for i in chunk])
        batch.pop("labels")
        batch = {key: value.to(device) for key, value in batch.items()}
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        for index, text in zip(chunk, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
            answers[index] = text.strip()
        if progress is not None:
            progress(len(chunk))
    return answers
