"""Answer likelihoods: each token's log-probability and Min-K%++'s standardised one, batched as one by one."""

from __future__ import annotations

import math

import pytest
import torch

from asru.data.collate import Encoder
from asru.eval.attacks import Probe
from asru.eval.likelihood import answer_likelihoods


@pytest.fixture
def loaded(family_model, tiny_world):
    model, processor = family_model
    return model, Encoder(processor, tiny_world.root)


def test_token_logprobs_and_standardised_scores_are_computed_by_hand_too(loaded, tiny_world):
    model, encoder = loaded
    samples = [s for s in tiny_world.samples if s.form == "qa" and s.kind == "fact"][:6]  # text and image questions
    probes = [Probe.of(s) for s in samples]
    answers = [s.answer for s in samples]
    batched = answer_likelihoods(model, encoder, probes, answers, batch_size=4)
    for probe, answer, got in zip(probes, answers, batched):
        item = encoder.encode(probe.question, probe.image, answer=answer)
        batch = encoder.collate([item])
        labels = batch.pop("labels")
        with torch.no_grad():
            logprobs = torch.log_softmax(model(**batch).logits[0, :-1].float(), -1)
        positions = [t for t in range(labels.shape[1] - 1) if labels[0, t + 1] != -100]
        tokens = [labels[0, t + 1].item() for t in positions]
        assert len(got.token_logprobs) == len(encoder.tokenizer(answer, add_special_tokens=False)["input_ids"]) + 1  # + end of turn
        assert got.token_logprobs == pytest.approx([logprobs[t, k].item() for t, k in zip(positions, tokens)], abs=1e-4)
        for value, t, k in zip(got.standardised, positions, tokens):
            p = logprobs[t].exp()
            mu = (p * logprobs[t]).sum()
            sigma = ((p * logprobs[t] ** 2).sum() - mu**2).sqrt()
            # relative: sigma (E[x^2] - mu^2 in float32) is small for an untrained model and amplifies the
            # rounding differences of a padded batch vs one unpadded row, which differ between CPUs' kernels
            assert value == pytest.approx(((logprobs[t, k] - mu) / sigma).item(), rel=2e-3, abs=1e-3)
        assert got.mean_nll == pytest.approx(-sum(got.token_logprobs) / len(got.token_logprobs))
        assert got.answer == answer


def test_the_judges_perplexity_is_the_same_likelihood(loaded, tiny_world):
    from asru.eval.evaluate import answer_perplexities
    from asru.methods.losses import answer_nll

    model, encoder = loaded
    samples = [s for s in tiny_world.samples if s.form == "qa"][:5]
    probes, answers = [Probe.of(s) for s in samples], [s.answer for s in samples]
    batch = encoder.collate([encoder.encode(p.question, p.image, answer=a) for p, a in zip(probes, answers)])
    labels = batch.pop("labels")
    with torch.no_grad():
        expected = torch.exp(answer_nll(model(**batch).logits, labels)).tolist()
    assert answer_perplexities(model, encoder, probes, answers) == pytest.approx(expected, rel=1e-4)
    assert all(math.isfinite(v) for v in expected)
