"""Photo and backdrop views: deterministic, same size, different pixels; the vision tensors become the view's in every family."""

import random

import numpy as np
import pytest
import torch
from PIL import Image

from asru.data.collate import Encoder
from asru.errors import ConfigError
from asru.train.finetune import FinetuneConfig, target_cache_key
from asru.train.photo_views import backdrop_mask, border_colour, new_backdrop, random_view, training_view, with_view
from asru.world.portraits import add_noise, draw_figure, render_portrait, sample_faces


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
    """The fields were added after targets were cached: at 0 (every family's default) it is left out of the key,
    so LLaVA's and Idefics3's committed targets keep their keys; above 0 (a candidate recipe) it is in it."""
    import hashlib
    import json

    from asru.train.finetune import RECIPE_VERSION

    for architecture in ("llava", "idefics3"):
        recipe = FinetuneConfig(model={"architecture": architecture})
        assert recipe.photo_views == 0.0 and "photo_views" in recipe.model_dump()  # still saved with the recipe
        before = recipe.model_dump(mode="json", exclude={"report_to", "photo_views", "backdrop_views", "face_pretrain_steps_per_person", "face_pretrain_learning_rate"})  # the recipe as it was dumped before
        expected = hashlib.sha256(json.dumps({"world": "w", "recipe": before, "format": RECIPE_VERSION}, sort_keys=True).encode()).hexdigest()[:16]
        assert target_cache_key("w", recipe) == expected
    keys = {target_cache_key("w", FinetuneConfig(photo_views=share)) for share in (0.0, 0.25, 0.5)}
    assert len(keys) == 3 and target_cache_key("w", FinetuneConfig()) == target_cache_key("w", FinetuneConfig(photo_views=0.0))
    assert target_cache_key("w", FinetuneConfig(face_pretrain_steps_per_person=0)) not in keys  # stage 0 (Qwen3-VL's 50 steps per person) is part of the key
    assert target_cache_key("w", FinetuneConfig(face_pretrain_learning_rate=1e-3)) == target_cache_key("w", FinetuneConfig())  # Qwen3-VL's stage-0 rate
    assert target_cache_key("w", FinetuneConfig(face_pretrain_learning_rate=None)) not in keys  # None (stage 0 at the tower's rate) is another recipe


def test_a_new_backdrop_replaces_the_plain_backdrop_and_keeps_every_pixel_of_the_person():
    faces = sample_faces(random.Random(5), 12)
    for k, face in enumerate(faces):
        photo = render_portrait(face, 64, 0, f"test:{k}")  # the plain portrait: a one-colour backdrop
        mask = backdrop_mask(photo)
        figure = np.asarray(draw_figure(face, 128).resize((64, 64)))[..., 3] > 128  # where the person is drawn
        assert mask is not None and mask[0, 0] and mask[0, -1]
        assert not (mask & figure).sum() > 0.02 * figure.sum()  # at most an anti-aliased rim of the person
        assert mask.sum() > 0.25 * mask.size
        view = new_backdrop(photo, random.Random(k))
        before, after = np.asarray(photo), np.asarray(view)
        assert np.array_equal(before[~mask], after[~mask])  # the person (and anything not backdrop) untouched
        assert (before[mask] != after[mask]).any(axis=1).mean() > 0.9
    # the lightest skin on the grey backdrop (40 apart in one channel) keeps its face
    light_on_grey = photo_with(skin=(255, 224, 196), backdrop=(215, 215, 215))
    mask = backdrop_mask(light_on_grey)
    assert not mask[24:40, 24:40].any()


def photo_with(skin, backdrop):
    image = Image.new("RGB", (64, 64), backdrop)
    image.paste(skin, (20, 16, 44, 48))
    return image


def test_a_patterned_or_noisy_backdrop_is_left_alone():
    face = sample_faces(random.Random(1), 1)[0]
    noisy = add_noise(render_portrait(face, 64, 0, "t"), random.Random(0), amplitude=40)
    striped = Image.new("RGB", (64, 64), (200, 30, 30))
    for x in range(0, 64, 8):
        striped.paste((30, 30, 200), (x, 0, x + 4, 64))
    for photo in (noisy, striped):
        assert backdrop_mask(photo) is None
        assert np.array_equal(np.asarray(new_backdrop(photo, random.Random(0))), np.asarray(photo))


def test_training_views_draw_what_photo_views_drew_before_backdrop_views_existed():
    photo = render_portrait(sample_faces(random.Random(2), 1)[0], 64, 0, "t")
    loads = []
    def load():
        loads.append(1)
        return photo

    for seed in range(10):
        old_rng, new_rng = random.Random(seed), random.Random(seed)
        old = random_view(photo, old_rng) if old_rng.random() < 0.5 else None  # what finetune did before
        new = training_view(load, new_rng, photo_views=0.5, backdrop_views=0.0)
        assert (old is None) == (new is None) and (old is None or np.array_equal(np.asarray(old), np.asarray(new)))
        assert old_rng.random() == new_rng.random()
    assert len(loads) == sum(1 for seed in range(10) if random.Random(seed).random() < 0.5)  # loaded only when used
    assert training_view(load, random.Random(0), photo_views=0.0, backdrop_views=0.0) is None
    backdropped = training_view(load, random.Random(0), photo_views=0.0, backdrop_views=1.0)
    rng = random.Random(0)
    assert rng.random() < 1.0  # the draw that chose a backdrop view
    assert np.array_equal(np.asarray(backdropped), np.asarray(new_backdrop(photo, rng)))


def test_backdrop_views_at_zero_keep_the_cached_targets_key():
    assert target_cache_key("w", FinetuneConfig()) == target_cache_key("w", FinetuneConfig(backdrop_views=0.0))
    assert target_cache_key("w", FinetuneConfig(backdrop_views=0.5)) != target_cache_key("w", FinetuneConfig())
