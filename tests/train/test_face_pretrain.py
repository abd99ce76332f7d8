"""Stage 0: the vision tower learns to tell the people apart, from training photos only."""

import pytest
import torch

from conftest import small_model  # tests/conftest.py

from asru.data.collate import Encoder
from asru.errors import ConfigError
from asru.models.layers import is_vision_parameter
from asru.train.face_pretrain import pretrain_faces, training_photos_by_person


def test_only_training_photos_of_people_are_used(tiny_world):
    photos = training_photos_by_person(tiny_world.samples)
    held_out = {p for s in tiny_world.samples for p in s.image_variants}
    utility = {s.image for s in tiny_world.samples if s.kind == "utility" and s.image}
    used = {p for found in photos.values() for p in found}
    assert len(photos) >= 6 and all(len(found) > 1 for found in photos.values())
    assert not used & held_out and not used & utility  # a held-out photo is never trained, in any stage
    owners = {p: subject for subject, found in photos.items() for p in found}
    assert all(owners[s.image] == s.subject_id for s in tiny_world.samples if s.image in owners)


def test_it_trains_the_tower_only_and_learns_who_is_who(tiny_world):
    model, processor = small_model(tiny_world)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    photos = training_photos_by_person(tiny_world.samples)
    losses = pretrain_faces(model, processor, Encoder(processor, tiny_world.root).load_image, photos, steps=80, learning_rate=3e-3, seed=0, batch_size=16)
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.8 * first, losses  # it learns (chance: ln(people))
    in_vision = is_vision_parameter(model)
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed and all(in_vision(name) for name in changed)  # the language model is untouched
    again, _ = small_model(tiny_world)
    assert pretrain_faces(again, processor, Encoder(processor, tiny_world.root).load_image, photos, steps=3, learning_rate=3e-3, seed=0, batch_size=4) == \
        pretrain_faces(small_model(tiny_world)[0], processor, Encoder(processor, tiny_world.root).load_image, photos, steps=3, learning_rate=3e-3, seed=0, batch_size=4)


def test_other_families_and_worlds_without_people_are_one_line_errors(tiny_world):
    model, processor = small_model(tiny_world, "llava")
    with pytest.raises(ConfigError, match="face_pretrain_steps.*llava"):
        pretrain_faces(model, processor, None, training_photos_by_person(tiny_world.samples), 1, 1e-3, 0)
    model, processor = small_model(tiny_world)
    with pytest.raises(ConfigError, match="at least 2 people"):
        pretrain_faces(model, processor, None, {"s000": ["a.png"]}, 1, 1e-3, 0)
