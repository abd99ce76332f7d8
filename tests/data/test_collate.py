"""LazyEncodings: encoded on first use, once, and the same object afterwards."""

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
