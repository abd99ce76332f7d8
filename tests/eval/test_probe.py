"""The linear probe: a logistic regression that names a fact's value from hidden states, per layer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from asru.data.schema import Sample
from asru.eval import probe as probe_module
from asru.eval.attacks import Probe
from asru.eval.probe import fit_linear_probe, probe_questions, probe_recovery


def test_fit_separates_classes_and_is_deterministic():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=generator) * 3
    labels = torch.arange(3).repeat(20)
    features = centres[labels] + torch.randn(60, 8, generator=generator) * 0.3
    weights, bias = fit_linear_probe(features, labels, 3)
    assert ((features @ weights + bias).argmax(-1) == labels).all()
    again = fit_linear_probe(features, labels, 3)
    assert torch.equal(weights, again[0]) and torch.equal(bias, again[1])


def sample(person: str, fact: str, value: str) -> Sample:
    return Sample(
        id=f"{person}-{fact}", subject_id=person, kind="fact", fact=fact, fact_id=1, modality="text", question=f"{fact} of {person}?", answer=value,
        paraphrases=[f"{fact} of {person}, please?"],
    )


class _Encoder:
    """Encodes a question as its characters (the probe sorts prompts by length)."""

    def encode(self, question, image=None, context=None):
        return SimpleNamespace(question=question, input_ids=list(question))


def test_recovery_per_layer_reads_what_each_layer_encodes(monkeypatch):
    """Layer 0 encodes the value (the forget people's too), layer 1 nothing: recovery 1 and about chance."""
    values = {"birthplace": ["Oslo", "Lisbon", "Korsa"], "job": ["chef", "pilot"]}
    train_people, test_people = [f"r{i}" for i in range(6)], ["f0", "f1"]
    assign = lambda person, fact: values[fact][int(person[1:]) % len(values[fact])]  # noqa: E731
    train = probe_questions([sample(p, f, assign(p, f)) for p in train_people for f in values])
    test = probe_questions([sample(p, f, assign(p, f)) for p in test_people for f in values])
    test.append(Probe(sample("f2", "job", "astronaut"), "job of f2?", None))  # a value no retain person has: never named
    assert len(train) == 6 * 2 * 2 and all(p.sample.kind == "fact" for p in train)  # the question and its paraphrase
    generator = torch.Generator().manual_seed(0)
    codes = {v: torch.randn(16, generator=generator) * 4 for vs in values.values() for v in vs} | {"astronaut": torch.randn(16, generator=generator) * 4}

    by_question = {p.question: p for p in [*train, *test]}

    def activations(model, encoder, prompts, layers, batch_size=64):
        asked = [by_question[prompt.question] for prompt in prompts]
        assert [len(p.input_ids) for p in prompts] == sorted(len(p.input_ids) for p in prompts)  # by length; the probe puts them back in order
        knows = torch.stack([codes[p.sample.answer] + torch.randn(16, generator=generator) * 0.1 for p in asked])
        noise = torch.randn(len(asked), 16, generator=generator)
        return {0: knows, 1: noise}

    monkeypatch.setattr(probe_module, "last_token_activations", activations)
    result = probe_recovery(None, _Encoder(), train, test, [0, 1])
    assert result["layers"] == [0, 1] and result["n_train"] == len(train) and result["n_test"] == len(test) == 9
    assert result["recovery"][0] == pytest.approx(8 / 9)  # all but the unseen value
    assert result["recovery"][1] < 0.7
    # chance: 1 / the number of values each test probe's fact offers, averaged (4 birthplace probes of 3 values, 5 job probes of 2)
    assert result["chance"] == pytest.approx((4 / 3 + 5 / 2) / 9)
    assert probe_recovery(None, _Encoder(), [], test, [0])["recovery"] == [None]
