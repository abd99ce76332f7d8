"""Photo views: deterministic, same size, different pixels; the vision tensors become the view's in every family."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from asru.data.collate import Encoder
from asru.errors import ConfigError
from asru.train.finetune import FinetuneConfig, target_cache_key
from asru.train.photo_views import border_colour, random_view, with_view


def test_a_view_is_drawn_from_its_rng_keeps_the_size_and_moves_the_pixels(tiny_world):
    photo = Image.open(tiny_world.root / next(s.image for s in tiny_world.samples if s.image and s.split == "train")).convert("RGB")
    views = [random_view(photo, random.Random(k)) for k in range(20)]
    assert [np.asarray(v).tobytes() for v in views[:5]] == [np.asarray(random_view(photo, random.Random(k))).tobytes() for k in range(5)]
    assert all(v.size == photo.size and v.mode == "RGB" for v in views)
    changed = [np.abs(np.asarray(v, dtype=int) - np.asarray(photo, dtype=int)).mean() for v in views]
    assert sum(c > 1 for c in changed) >= 15  # each change is drawn half the time: all four absent in 1/16 of views
    moved = [np.asarray(v).tobytes() for v, c in zip(views, changed) if c > 1]
    assert len(set(moved)) == len(moved)  # continuous draws: no two views alike


def test_the_backdrop_continues_beyond_the_frame():
    image = Image.new("RGB", (32, 32), (10, 200, 30))
    image.paste((250, 0, 0), (12, 12, 20, 20))
    assert border_colour(image) == (10, 200, 30)
    rng = random.Random(0)
    for _ in range(20):
        view = np.asarray(random_view(image, rng, max_noise=8), dtype=int)
        corners = view[[0, 0, -1, -1], [0, -1, 0, -1]]
        assert np.abs(corners - [10, 200, 30]).max() <= 8  # no black wedge where the photo was moved away


def test_a_view_replaces_the_vision_tensors_with_the_processors_for_it(family_model, tiny_world):
    _, processor = family_model
    encoder = Encoder(processor, tiny_world.root)
    sample = next(s for s in tiny_world.samples if s.image and s.split == "train")
    encoded = encoder.encode(sample.question, sample.image, sample.answer)
    view = random_view(encoder.load_image(sample.image), random.Random(3))
    swapped = with_view(encoded, view, processor.image_processor)
    expected = processor.image_processor(images=[view], return_tensors="pt")
    assert swapped.input_ids == encoded.input_ids and swapped.labels == encoded.labels
    assert torch.equal(swapped.tensors["pixel_values"], torch.as_tensor(expected["pixel_values"]))
    assert not torch.equal(swapped.tensors["pixel_values"], encoded.tensors["pixel_values"])
    # a processor that would give the view other image tokens (e.g. another size) is an error naming the option
    def other_shape(images, return_tensors):
        return {"pixel_values": torch.zeros(1, *encoded.tensors["pixel_values"].shape)}

    with pytest.raises(ConfigError, match="photo_views: the image processor gave pixel_values of shape .* set photo_views to 0"):
        with_view(encoded, view, other_shape)


def test_recipes_without_views_keep_their_cached_target():
    """The field was added after targets were cached: at 0 (every family's default) it is left out of the key,
    so LLaVA's and Idefics3's committed targets keep their keys; above 0 (a candidate recipe) it is in it."""
    import hashlib
    import json

    from asru.train.finetune import RECIPE_VERSION

    for architecture in ("llava", "idefics3"):
        recipe = FinetuneConfig(model={"architecture": architecture})
        assert recipe.photo_views == 0.0 and "photo_views" in recipe.model_dump()  # still saved with the recipe
        before = recipe.model_dump(mode="json", exclude={"report_to", "photo_views"})  # the recipe as it was dumped before
        expected = hashlib.sha256(json.dumps({"world": "w", "recipe": before, "format": RECIPE_VERSION}, sort_keys=True).encode()).hexdigest()[:16]
        assert target_cache_key("w", recipe) == expected
    keys = {target_cache_key("w", FinetuneConfig(photo_views=share)) for share in (0.0, 0.25, 0.5)}
    assert len(keys) == 3 and target_cache_key("w", FinetuneConfig()) == target_cache_key("w", FinetuneConfig(photo_views=0.0))
