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
    with pytest.raises(ConfigError, match="face_pretrain_steps_per_person.*llava"):
        pretrain_faces(model, processor, None, training_photos_by_person(tiny_world.samples), 1, 1e-3, 0)
    model, processor = small_model(tiny_world)
    with pytest.raises(ConfigError, match="at least 2 people"):
        pretrain_faces(model, processor, None, {"s000": ["a.png"]}, 1, 1e-3, 0)


def test_an_oracle_never_sees_the_face_of_a_person_it_never_learns(tiny_world, tmp_path, monkeypatch):
    """A retrained oracle without a person's identity (Complete) shows stage 0 no photo of them; facts alone keep the face."""
    from asru.models import TinyModelConfig
    from asru.train import finetune as finetune_module
    from asru.train.finetune import ExcludedFacts, FinetuneConfig, finetune

    shown = []
    monkeypatch.setattr(finetune_module, "pretrain_faces", lambda model, processor, load_image, photos, *args, **kwargs: shown.append(set(photos)) or [1.0])
    small = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)
    exclude = [ExcludedFacts(subject_id="s000", fact_ids=[0, 1, 2]), ExcludedFacts(subject_id="s001", fact_ids=[3])]
    finetune(tiny_world.root, tmp_path / "oracle", FinetuneConfig(model=small, epochs=1, batch_size=64, train_forms=["qa"], face_pretrain_steps_per_person=1, exclude=exclude))
    everyone = set(training_photos_by_person(tiny_world.samples))
    assert shown == [everyone - {"s000"}] and "s001" in everyone


def test_stage_0_trains_at_its_own_learning_rate_or_the_towers(tiny_world, tmp_path, monkeypatch):
    """``face_pretrain_learning_rate`` sets stage 0's rate apart from the tower's in the fine-tune; None keeps the tower's;
    not given, the family's."""
    from asru.models import TinyModelConfig
    from asru.train import finetune as finetune_module
    from asru.train.finetune import FinetuneConfig, finetune

    rates = []
    monkeypatch.setattr(finetune_module, "pretrain_faces", lambda model, processor, load_image, photos, steps, learning_rate, *args, **kwargs: rates.append(learning_rate) or [1.0])
    small = TinyModelConfig(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1, vision_hidden_size=32, vision_layers=1, vision_heads=2)
    common = dict(model=small, epochs=1, batch_size=64, train_forms=["qa"], face_pretrain_steps_per_person=1, vision_learning_rate=2e-4)
    finetune(tiny_world.root, tmp_path / "own", FinetuneConfig(**common, face_pretrain_learning_rate=5e-3))
    finetune(tiny_world.root, tmp_path / "tower", FinetuneConfig(**common, face_pretrain_learning_rate=None))
    finetune(tiny_world.root, tmp_path / "family", FinetuneConfig(**common))
    assert rates == [5e-3, 2e-4, 1e-3]  # the last: Qwen3-VL's stage-0 rate
