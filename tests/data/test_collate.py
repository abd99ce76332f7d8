"""Encoder and LazyEncodings: the processor shortcut equals the processor; items encoded on first use, once."""

import pytest

from asru.data.collate import Encoder, LazyEncodings
from asru.models import load_vlm


def test_lazy_encodings_encode_each_item_once_on_first_use(tiny_world, tiny_model_dir, monkeypatch):
    _, processor = load_vlm(tiny_model_dir)
    encoder = Encoder(processor, tiny_world.root)
    samples = tiny_world.samples[:6]
    encoded = []
    original = encoder.encode_sample
    monkeypatch.setattr(encoder, "encode_sample", lambda sample: encoded.append(sample.id) or original(sample))
    lazy = LazyEncodings(encoder, samples)
    assert len(lazy) == 6 and encoded == []
    first = lazy[2]
    assert lazy[2] is first and lazy[-4] is first and encoded == [samples[2].id]
    assert first.input_ids == original(samples[2]).input_ids
    assert [item.input_ids for item in lazy[1:3]] == [original(s).input_ids for s in samples[1:3]]
    assert encoded == [samples[2].id, samples[1].id]
    with pytest.raises(IndexError):
        lazy[6]


def _encodings_equal(a, b) -> bool:
    import torch

    return (
        a.input_ids == b.input_ids and a.labels == b.labels and a.sequence_extras == b.sequence_extras and a.tensors.keys() == b.tensors.keys()
        and all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    )


def test_the_processor_shortcut_gives_the_processors_output(tiny_world, family_model):
    """Text and image prompts, with and without earlier turns: the shortcut is taken and equals the processor's own output."""
    _, processor = family_model
    context = [{"role": "user", "content": [{"type": "text", "text": "Who is she?"}]}, {"role": "assistant", "content": [{"type": "text", "text": "Talia."}]}]
    items = [(s.question, s.image, s.answer, None) for s in tiny_world.samples[:40]] + [(s.question, s.image, s.answer, context) for s in tiny_world.samples[40:60]]
    assert {image is None for _, image, _, _ in items} == {True, False}
    shortcut = Encoder(processor, tiny_world.root)
    direct = Encoder(processor, tiny_world.root)
    direct._shortcut = {"text": False, "image": False}
    for question, image, answer, turns in items:
        assert _encodings_equal(shortcut.encode(question, image, answer, context=turns), direct.encode(question, image, answer, context=turns))
    assert shortcut._shortcut == {"text": True, "image": True}


def test_a_shortcut_that_disagrees_is_never_used(tiny_world, tiny_model_dir, monkeypatch):
    _, processor = load_vlm(tiny_model_dir)
    encoder = Encoder(processor, tiny_world.root)
    wrong = encoder._shortcut_processed
    monkeypatch.setattr(encoder, "_shortcut_processed", lambda text, image: {**(wrong(text, image) or {}), "input_ids": [1, 2, 3]})
    direct = Encoder(processor, tiny_world.root)
    direct._shortcut = {"text": False, "image": False}
    for sample in tiny_world.samples[:30]:
        assert _encodings_equal(encoder.encode_sample(sample), direct.encode_sample(sample))
    assert encoder._shortcut == {"text": False, "image": False}
