import pytest
import torch

from asru.data.collate import Encoder
from asru.models import TinyModelConfig, build_tiny, language_layers, load_vlm, save_vlm

from conftest import FAMILIES  # tests/conftest.py


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request, tiny_corpus):
    return build_tiny(tiny_corpus, TinyModelConfig(architecture=request.param, vocab_size=400))


def _batch(processor, image_folder):
    encoder = Encoder(processor, image_folder)
    items = [encoder.encode("Who is the person in this image?", "red.png"), encoder.encode("Where was Talia Vorne born?")]
    batch = encoder.collate(items)
    batch.pop("labels")
    return batch


def test_forward_and_generate(tiny, red_image):
    model, processor = tiny
    batch = _batch(processor, red_image)
    logits = model(**batch).logits
    assert logits.shape[:2] == batch["input_ids"].shape
    assert torch.isfinite(logits).all()
    out = model.generate(**batch, max_new_tokens=3, do_sample=False, pad_token_id=processor.tokenizer.pad_token_id)
    assert out.shape[0] == 2 and out.shape[1] == batch["input_ids"].shape[1] + 3


def test_image_changes_the_output(tiny, red_image):
    """The vision tower is wired in: different pixels, different logits."""
    model, processor = tiny
    batch = _batch(processor, red_image)
    with torch.no_grad():
        base = model(**batch).logits[0, -1]
        batch["pixel_values"] = batch["pixel_values"] + 1.0
        moved = model(**batch).logits[0, -1]
    assert not torch.allclose(base, moved)


def test_layer_accessor(tiny):
    model, _ = tiny
    layers = language_layers(model)
    assert len(layers) == 4
    assert hasattr(layers[0], "mlp") and hasattr(layers[0].mlp, "down_proj")


def test_save_load_roundtrip(tiny, red_image, tmp_path):
    model, processor = tiny
    save_vlm(model, processor, tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin"))
    loaded, loaded_processor = load_vlm(tmp_path)
    assert type(loaded) is type(model)
    batch = _batch(processor, red_image)
    batch2 = _batch(loaded_processor, red_image)
    assert torch.equal(batch["input_ids"], batch2["input_ids"])
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, loaded(**batch2).logits, atol=1e-5)


def test_every_family_gives_a_photo_16_image_tokens(tiny, red_image):
    """64 px, 8 px patches: Qwen3-VL merges 2x2 patches, Idefics3 pixel-shuffles them, LLaVA (no merge) takes 16 px patches and drops CLIP's class token."""
    model, processor = tiny
    item = Encoder(processor, red_image).encode("Who?", "red.png")
    image_token = processor.tokenizer.convert_tokens_to_ids(processor.image_token)
    assert item.input_ids.count(image_token) == 16


def test_an_unknown_architecture_names_the_known_ones():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'qwen3_vl', 'llava' or 'idefics3'"):
        TinyModelConfig(architecture="gemma3")
