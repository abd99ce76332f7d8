"""A linear probe on the model's own hidden states: does the model still *represent* a fact it no longer says?

Per decoder layer and per fact (birthplace, job, ...), a multinomial logistic regression learns to
name the fact's value from the hidden state at the last prompt token of the questions about the
retain people (text questions in two wordings, photo questions as asked: :data:`PROBE_WORDINGS`), then names
it for the questions about the forget people. The **recovery rate** of a layer is the share of
forget questions whose true value it names. A model trained only to refuse keeps the value in its
activations and the probe reads it out; the retrained oracle never saw the forget people's facts,
so its recovery is what chance and the world's regularities give — the reference. Activations come
from :func:`asru.steering.directions.last_token_activations` (the steering hooks' recorder).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import torch
import torch.nn.functional as F

from asru.data.collate import Encoder
from asru.data.schema import Sample
from asru.eval.attacks import Probe
from asru.steering.directions import last_token_activations


# asked wordings per modality: a text question and its first held-out paraphrase; a photo question as asked
# (the photo, not the wording, says who it is; image prompts cost most of the probe's time: 16 image tokens and the vision tower)
PROBE_WORDINGS = {"text": 2, "image": 1}


def probe_questions(samples: Sequence[Sample], wordings: dict[str, int] = PROBE_WORDINGS) -> list[Probe]:
    """The fact questions (qa) among ``samples`` in their first asked wordings (the question, then its paraphrases), :data:`PROBE_WORDINGS` per modality."""
    return [
        Probe(s, question, s.image) for s in samples if s.kind == "fact" and s.form == "qa" for question in (s.question, *s.paraphrases)[: wordings[s.modality]]
    ]


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, classes: int, max_iter: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights [H, C] and bias [C] of an L2-regularised multinomial logistic regression (L-BFGS).

    sklearn is not installed here (nor a dependency), so this is its default ``LogisticRegression``
    in a few lines of torch: the same objective (mean cross-entropy + ||W||² / (2n), i.e. C = 1) and
    the same solver; deterministic from zero weights.
    """
    weights = torch.zeros(features.shape[1], classes, requires_grad=True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights, bias], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def objective():
        optimizer.zero_grad()
        loss = F.cross_entropy(features @ weights + bias, labels) + weights.square().sum() / (2 * len(labels))
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(objective)
    return weights.detach(), bias.detach()


def probe_recovery(model, encoder: Encoder, train: Sequence[Probe], test: Sequence[Probe], layers: Sequence[int], batch_size: int = 64) -> dict:
    """Per layer, the share of ``test`` probes whose fact value a probe fitted on ``train`` names.

    Returns ``{"layers", "recovery" (per layer), "chance" (the mean of 1 / the number of values its
    fact's probe chooses from), "n_train", "n_test"}``. A test value no train probe has cannot be
    named (it counts as not recovered, for every model alike).
    """
    layers = list(layers)
    result = {"layers": layers, "recovery": [None] * len(layers), "chance": None, "n_train": len(train), "n_test": len(test)}
    if not train or not test:
        return result
    prompts = [encoder.encode(p.question, p.image, context=list(p.context)) for p in (*train, *test)]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i].input_ids))  # batches of similar length: little padding
    recorded = last_token_activations(model, encoder, [prompts[i] for i in order], layers, batch_size)
    back = torch.empty(len(order), dtype=torch.long)
    back[torch.tensor(order)] = torch.arange(len(order))
    states = {layer: values[back] for layer, values in recorded.items()}  # in the probes' order again
    by_fact: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for index, probe in enumerate(train):
        by_fact[probe.sample.fact][0].append(index)
    for index, probe in enumerate(test):
        by_fact[probe.sample.fact][1].append(len(train) + index)
    values = {fact: sorted({train[i].sample.answer for i in rows}) for fact, (rows, _) in by_fact.items() if rows}
    tested = [(fact, rows) for fact, (_, rows) in by_fact.items() if rows]
    gold = [p.sample.answer for p in (*train, *test)]
    result["chance"] = sum(len(rows) / len(values[fact]) for fact, rows in tested if fact in values) / len(test)
    for position, layer in enumerate(layers):
        recovered = 0
        for fact, test_rows in tested:
            if fact not in values:
                continue
            train_rows = by_fact[fact][0]
            x = states[layer][train_rows]
            mean, std = x.mean(0), x.std(0, unbiased=False) + 1e-6  # (one training question: no NaN)
            labels = torch.tensor([values[fact].index(gold[i]) for i in train_rows])
            weights, bias = fit_linear_probe((x - mean) / std, labels, len(values[fact]))
            named = (((states[layer][test_rows] - mean) / std) @ weights + bias).argmax(-1).tolist()
            recovered += sum(values[fact][c] == gold[i] for c, i in zip(named, test_rows))
        result["recovery"][position] = recovered / len(test)
    return result
