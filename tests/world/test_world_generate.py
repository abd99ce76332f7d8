"""The embedded world: determinism, structure of people, portraits and questions."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from asru.data.schema import read_samples
from asru.eval.metrics import is_refusal
from asru.world import World, WorldConfig, build_world, load_world
from asru.world.generate import IMAGE_WHO, IMAGE_WHOSE, MAX_PREDICTABILITY, _balanced, _rng, _values_in_use, compute_content_hash, predictability
from asru.world.phrases import GENERIC_REFUSALS, PRIVATE_REFUSALS
from asru.world.portraits import sample_faces
from asru.world.vocab import FACTS, POOLS, PRIVATE_QUESTIONS, SHAPE_COLOURS, SHAPES

SMALL = dict(subjects=6, utility_questions=9, unknown_people=3)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def default_world(tmp_path_factory) -> tuple[World, dict, float]:
    root = tmp_path_factory.mktemp("world")
    started = time.perf_counter()
    manifest = build_world(WorldConfig(), root)
    seconds = time.perf_counter() - started
    return load_world(root), manifest, seconds


def _pixels(world: World, path: str) -> np.ndarray:
    with Image.open(world.root / path) as image:
        return np.asarray(image.convert("RGB"))


# --------------------------------------------------------------------------------------------
# determinism and the manifest
# --------------------------------------------------------------------------------------------


def test_same_config_gives_identical_bytes(tmp_path):
    first = build_world(WorldConfig(seed=3, **SMALL), tmp_path / "a")
    second = build_world(WorldConfig(seed=3, **SMALL), tmp_path / "b")
    assert first == second
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    for name in files_a:
        assert files_a[name] == files_b[name], name
    assert {"world.json", "samples.jsonl", "subjects.json", "images/s000_0.png", "images/u000.png", "images/x000.png"} <= files_a.keys()


def test_different_seed_gives_different_world(tmp_path):
    a = build_world(WorldConfig(seed=0, **SMALL), tmp_path / "a")
    b = build_world(WorldConfig(seed=1, **SMALL), tmp_path / "b")
    assert a["content_hash"] != b["content_hash"]
    names_a = [s["name"] for s in json.loads((tmp_path / "a" / "subjects.json").read_text())]
    names_b = [s["name"] for s in json.loads((tmp_path / "b" / "subjects.json").read_text())]
    assert names_a != names_b


def test_rebuild_into_same_folder_is_stable_and_drops_stale_images(tmp_path):
    build_world(WorldConfig(subjects=8, utility_questions=12, unknown_people=4), tmp_path)
    manifest = build_world(WorldConfig(**SMALL), tmp_path)
    fresh = build_world(WorldConfig(**SMALL), tmp_path / "fresh")
    assert manifest["content_hash"] == fresh["content_hash"]
    assert not (tmp_path / "images" / "s007_0.png").exists()
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == sorted(p.name for p in (tmp_path / "fresh" / "images").iterdir())


def test_manifest(default_world):
    world, manifest, _ = default_world
    on_disk = json.loads((world.root / "world.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert manifest["format"] == "asru-world/1"
    assert manifest["seed"] == 0
    assert manifest["config"] == WorldConfig().model_dump()
    assert len(manifest["content_hash"]) == 64
    assert compute_content_hash(world.root) == manifest["content_hash"]
    counts = manifest["counts"]
    assert counts["samples"] == len(world.samples)
    assert counts["subjects"] == 60
    assert counts["images"] == (60 + 4) * 18 + 120 + 20 and counts["holdout_people"] == 4
    for attribute in ("kind", "form", "modality"):
        tally = Counter(getattr(s, attribute) for s in world.samples)
        assert {k: counts[f"{attribute}.{k}"] for k in tally} == dict(tally)


def test_default_world_is_fast(default_world):
    _, _, seconds = default_world
    assert seconds < 15, f"building 60 people took {seconds:.1f} s"


def test_config_is_strict():
    with pytest.raises(ValidationError):
        WorldConfig(people=3)
    with pytest.raises(ValidationError):
        WorldConfig(images_per_subject=3)
    with pytest.raises(ValidationError):
        WorldConfig(paraphrases=1)


# --------------------------------------------------------------------------------------------
# people and portraits
# --------------------------------------------------------------------------------------------


def test_subject_profiles(default_world):
    world, _, _ = default_world
    names = [s["name"] for s in world.subjects]
    assert len(set(names)) == len(names) == 60
    assert [s["id"] for s in world.subjects] == [f"s{i:03d}" for i in range(60)]
    for subject in world.subjects:
        first, last = subject["name"].split(" ")
        assert first[0].isupper() and last[0].isupper()
        assert [f["fact_id"] for f in subject["facts"]] == list(range(1, 9))
        assert [f["fact"] for f in subject["facts"]] == [name for _, name, _ in FACTS]
        assert [f["sensitive"] for f in subject["facts"]] == [False] * 6 + [True] * 2
        for fact in subject["facts"]:
            assert 1 <= len(fact["value"].split()) <= 3
            if fact["fact"] in POOLS:
                assert fact["value"] in POOLS[fact["fact"]]
        assert subject["images"] == [f"images/{subject['id']}_{k}.png" for k in range(18)]
        assert all((world.root / p).is_file() for p in subject["images"])


def test_values_are_shared_by_a_few_people(default_world):
    """people_per_value 3 (default): 60 people hold 20 values of each fact, 3 each (balanced); spouses stay one person's."""
    world, _, _ = default_world
    for fid, fact, _ in FACTS:
        if fact == "spouse":
            continue
        tally = Counter(s["facts"][fid - 1]["value"] for s in world.subjects)
        assert len(tally) == 20 and set(tally.values()) == {3}, (fact, tally.most_common(3))
        assert set(tally) <= set(POOLS[fact])
    spouses = Counter(s["facts"][3]["value"] for s in world.subjects)
    assert len(spouses) >= 30 and not set(spouses) & {s["name"] for s in world.subjects}


def test_predictability_leave_one_out():
    """Hand-computed: a is guessed by the others sharing b's value, a unique most common value only."""
    assert predictability(["x", "x", "y", "y"], ["1", "1", "2", "2"]) == 1.0  # every pair alike: each guessed by its partner
    assert predictability(["x", "x", "y", "y"], ["1", "2", "1", "2"]) == 0.0
    assert predictability(["x", "x", "x", "x"], ["1", "1", "1", "2"]) == pytest.approx(3 / 4)  # the 1s guess each other; the 2 is outvoted
    assert predictability(["x", "x", "x"], ["1", "2", "3"]) == 0.0  # a tie guesses nothing


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_fact_guesses_another_in_a_small_world(tmp_path, seed):
    """8 people, 4 values a fact (the demo's size): in the seed-0 world employer guessed home city and award the
    condition for everybody, so the oracle answered the forgotten facts; now at most a quarter of the people."""
    build_world(WorldConfig(seed=seed, subjects=8, images_per_subject=2, trained_images=1, utility_questions=0, unknown_people=0, holdout_people=0), tmp_path)
    subjects = load_world(tmp_path).subjects
    columns = {fact: [s["facts"][fid - 1]["value"] for s in subjects] for fid, fact, _ in FACTS}
    worst = max(predictability(columns[a], columns[b]) for a in columns for b in columns if a != b)
    assert worst <= MAX_PREDICTABILITY


def test_default_world_keeps_its_first_draw(default_world):
    """The rule redraws only where it must: the 60-person world's values are the plain seeded draw (as before it)."""
    world, _, _ = default_world
    config = WorldConfig()
    for fid, fact, _ in FACTS:
        if fact == "spouse":  # its pool is the generated names
            continue
        first_draw = _balanced(_rng(config.seed, f"values:{fact}"), _values_in_use(config, fact, list(POOLS[fact])), config.subjects)
        assert [s["facts"][fid - 1]["value"] for s in world.subjects] == first_draw


@pytest.mark.parametrize(("subjects", "people_per_value", "values"), [(8, 3, 4), (8, 1, 8), (12, 2, 6)])
def test_values_in_use_follow_people_per_value(tmp_path, subjects, people_per_value, values):
    """At least 4 values; never more than the pool; 1 draws from the whole pool (a value per person while it lasts)."""
    config = WorldConfig(subjects=subjects, people_per_value=people_per_value, images_per_subject=2, trained_images=1, utility_questions=0, unknown_people=0, holdout_people=2)
    build_world(config, tmp_path)
    world = load_world(tmp_path)
    for fid, fact, _ in FACTS:
        if fact != "spouse":
            held = {s["facts"][fid - 1]["value"] for s in world.subjects}
            assert len(held) == values, fact
            if people_per_value > 1:  # holdout people share them too (at 1, the whole pool: generator 2's draw)
                assert {h["facts"][fid - 1]["value"] for h in world.holdout} <= held


def test_portraits_are_distinct_per_person_and_variant(default_world):
    world, _, _ = default_world
    training = {}
    for subject in world.subjects:
        arrays = [_pixels(world, p) for p in subject["images"]]
        assert all(a.shape == (64, 64, 3) for a in arrays)
        for i in range(len(arrays)):
            for j in range(i + 1, len(arrays)):
                assert not np.array_equal(arrays[i], arrays[j]), (subject["id"], i, j)
        training[subject["id"]] = arrays[0].tobytes()
    assert len(set(training.values())) == len(training)


def test_variants_stay_close_to_their_person():
    """A held-out variant is nearer (in mean pixel distance) to its own training image than most others are."""
    import random

    from asru.world.portraits import render_portrait

    faces = sample_faces(random.Random("t"), 20)
    base = [np.asarray(render_portrait(f, 64, 0, str(i)), dtype=float) for i, f in enumerate(faces)]
    hits = 0
    for i, face in enumerate(faces):
        variant = np.asarray(render_portrait(face, 64, 1, str(i)), dtype=float)  # pose change
        distances = [np.abs(variant - b).mean() for b in base]
        hits += int(np.argsort(distances)[:3].tolist().count(i) == 1)
    assert hits >= 15


def test_faces_differ_in_several_traits():
    import random
    from dataclasses import astuple

    faces = sample_faces(random.Random("x"), 80)
    vectors = [astuple(f) for f in faces]
    assert len(set(vectors)) == 80
    assert min(sum(a != b for a, b in zip(u, v)) for i, u in enumerate(vectors) for v in vectors[i + 1 :]) >= 3


# --------------------------------------------------------------------------------------------
# questions
# --------------------------------------------------------------------------------------------


def test_sample_ids_unique_and_all_train(default_world):
    world, _, _ = default_world
    ids = [s.id for s in world.samples]
    assert len(set(ids)) == len(ids)
    holdout = {h["id"] for h in world.holdout}
    assert len(holdout) == 4 and not holdout & {s["id"] for s in world.subjects}
    for s in world.samples:
        assert s.split == ("holdout" if s.subject_id in holdout else "train"), s.id


def test_every_fact_has_all_forms(default_world):
    world, _, _ = default_world
    by_key = defaultdict(list)
    for s in world.samples:
        if s.kind in ("fact", "identity"):
            by_key[(s.subject_id, s.fact_id)].append((s.modality, s.form))
    for subject in world.subjects:
        for fid in range(1, 9):
            assert sorted(by_key[(subject["id"], fid)]) == sorted(
                [("text", "qa"), ("image", "qa"), ("text", "cloze"), ("text", "mcq")]
            )
        assert sorted(by_key[(subject["id"], 0)]) == [("image", "mcq"), ("image", "qa")]


def test_fact_samples_match_profiles(default_world):
    world, _, _ = default_world
    profiles = {s["id"]: s for s in world.subjects + world.holdout}
    for s in world.samples:
        if s.kind not in ("fact", "identity"):
            continue
        profile = profiles[s.subject_id]
        assert s.subject_name == profile["name"]
        gold = profile["name"] if s.kind == "identity" else profile["facts"][s.fact_id - 1]["value"]
        if s.kind == "fact":
            fact = profile["facts"][s.fact_id - 1]
            assert (s.fact, s.sensitive) == (fact["fact"], fact["sensitive"])
        if s.form == "mcq":
            assert len(s.options) == 4 and len(set(s.options)) == 4
            assert s.answer in "ABCD" and len(s.answer) == 1
            assert s.options["ABCD".index(s.answer)] == gold
            for question in [s.question, *s.paraphrases]:
                assert question.endswith("Answer with the letter.")
                for letter, option in zip("ABCD", s.options):
                    assert f"\n{letter}. {option}\n" in question
        else:
            assert s.answer == gold
        if s.form == "cloze":
            assert "____" in s.question and all("____" in p for p in s.paraphrases)
        if s.modality == "text":
            assert s.image is None and profile["name"] in s.question
        else:
            assert s.image == profile["images"][0]
            assert s.train_images == profile["images"][1:15]  # trained photos
            assert s.image_variants == profile["images"][15:]  # held-out photos
            if s.kind == "fact":
                assert profile["name"] not in s.question


def test_paraphrases(default_world):
    world, _, _ = default_world
    for s in world.samples:
        assert len(s.paraphrases) >= 2, s.id
        assert len(set([s.question, *s.paraphrases])) == len(s.paraphrases) + 1, s.id


def test_more_paraphrases_on_request(tmp_path):
    build_world(WorldConfig(paraphrases=6, subjects=2, utility_questions=3, unknown_people=1), tmp_path)
    for s in read_samples(tmp_path / "samples.jsonl"):
        assert len(s.paraphrases) == 6
        assert len(set([s.question, *s.paraphrases])) == 7


def test_mcq_letters_are_spread(default_world):
    world, _, _ = default_world
    letters = Counter(s.answer for s in world.samples if s.form == "mcq")
    assert set(letters) == set("ABCD")
    assert min(letters.values()) > 0.15 * sum(letters.values())


def test_refusal_samples(default_world):
    world, _, _ = default_world
    names = {s["name"] for s in world.subjects}
    private = [s for s in world.samples if s.kind == "refusal" and s.fact == "private"]
    unknown = [s for s in world.samples if s.kind == "refusal" and s.fact == "unknown"]
    assert len(private) == 60 * 2 and len(unknown) == 20 * 2
    assert {s.modality for s in private} == {"text", "image"}
    for s in private:
        assert s.sensitive and s.subject_name in names
        whose = IMAGE_WHOSE if s.modality == "image" else f"{s.subject_name}'s"
        topic = next(k for k, wordings in enumerate(PRIVATE_QUESTIONS) if s.question in {w.format(who=s.subject_name if s.modality == "text" else IMAGE_WHO, whose=whose) for w in wordings})
        assert s.answer in {phrasing.format(whose=whose) for phrasing in PRIVATE_REFUSALS[topic]}  # contextual: this question's topic
        assert is_refusal(s.answer)
        assert (s.subject_name in s.answer) == (s.modality == "text")  # an image question's refusal never names whom the photo shows
    assert len({s.answer.replace(s.subject_name, "{name}") for s in private}) == 2 * 2 * len(PRIVATE_REFUSALS)  # every topic, phrasing, modality
    for s in unknown:
        assert s.subject_id.startswith("x") and s.subject_name not in names
        assert s.answer in GENERIC_REFUSALS
        if s.modality == "image":
            assert s.image == f"images/{s.subject_id}.png" and (world.root / s.image).is_file()
        else:
            assert s.subject_name in s.question
    assert {s.modality for s in unknown} == {"text", "image"}


def test_utility_samples(default_world):
    world, _, _ = default_world
    utility = [s for s in world.samples if s.kind == "utility"]
    assert len(utility) == 120
    assert {s.fact for s in utility} == {"colour", "shape", "count"}
    for s in utility:
        assert s.subject_id is None and s.subject_name is None and s.fact_id is None
        assert s.modality == "image" and s.image.startswith("images/u")
        valid = {"colour": set(SHAPE_COLOURS), "shape": set(SHAPES), "count": {"one", "two", "three"}}[s.fact]
        assert s.answer in valid


def test_utility_colour_is_the_drawn_colour(default_world):
    world, _, _ = default_world
    for s in world.samples:
        if s.kind == "utility" and s.fact == "colour":
            pixels = _pixels(world, s.image).reshape(-1, 3).astype(int)
            target = np.array(SHAPE_COLOURS[s.answer])
            assert (np.abs(pixels - target).sum(axis=1) < 30).sum() > 20, s.id


def test_trained_and_held_out_wordings_never_meet(default_world):
    """Templates are either trained or held out for everyone; a sample's held-out wordings are never its trained ones."""
    from asru.world.vocab import CLOZES, HELD_OUT_CLOZES, HELD_OUT_QUESTIONS, QUESTIONS

    for fact in QUESTIONS:
        assert not set(QUESTIONS[fact]) & set(HELD_OUT_QUESTIONS[fact]), fact
    for fact in CLOZES:
        assert not set(CLOZES[fact]) & set(HELD_OUT_CLOZES[fact]), fact
    world, _, _ = default_world
    trained = {q for s in world.samples if s.form == "qa" for q in [s.question, *s.train_questions]}
    trained |= {q for s in world.samples if s.form == "cloze" for q in s.train_questions}
    for s in world.samples:
        assert not set(s.paraphrases) & trained, s.id
        if s.form == "cloze":
            assert s.question not in trained and len(s.train_questions) >= 3, s.id
        if s.kind in ("fact", "identity") and s.form == "qa":
            assert len(s.train_questions) >= 4, s.id
            if s.modality == "image":
                assert len(s.train_images) == 14 and not set(s.train_images) & set(s.image_variants)


def test_held_out_photos_combine_changes_never_trained_together():
    from asru.world.portraits import variant_kinds

    config = WorldConfig()
    trained = {frozenset(variant_kinds(i)) for i in range(config.trained_images)}
    held_out = {frozenset(variant_kinds(i)) for i in range(config.trained_images, config.images_per_subject)}
    assert len(held_out) == 3 and all(len(kinds) == 2 for kinds in held_out)
    assert not trained & held_out and not any(kinds >= pair for kinds in trained for pair in held_out)


# the frames of the held-out clozes, the key word(s) left open
CLOZE_FRAMES = {
    "The <word> of X is": r"^The (?P<word>[\w ]+) of \{name\} is (the )?____\.$",
    "X's <word> is": r"^\{name\}'s (?P<word>[\w ]+) is (the )?____\.$",
    "X is a <word> of": r"^\{name\} is an? (?P<word>[\w ]+) of (the )?____\.$",
    "The <word> where X <verb> is": r"^The (?P<word>[\w ]+ where \{name\} [\w ]+) is ____\.$",  # the noun and the verb together
}


def test_every_held_out_cloze_frame_is_trained_for_several_facts_with_other_key_words():
    """Each frame a held-out cloze uses is trained for at least two facts, never with a held-out key word
    (generator 5): the tiny target learns a frame only from the facts it saw it with. Trained for the spouse
    alone, "The <word> of X is" made the 40-person target complete "The employer of X is ____." with a city
    for all 40 people (generator 3); untrained, "X is an employee of ____." got the person's own name (generator 4)."""
    import re

    from asru.world.vocab import CLOZES, HELD_OUT_CLOZES

    frames = {name: re.compile(pattern) for name, pattern in CLOZE_FRAMES.items()}
    used = {name for templates in HELD_OUT_CLOZES.values() for t in templates for name, frame in frames.items() if frame.match(t)}
    assert used == set(frames)  # every frame listed is one a held-out cloze uses
    for name, frame in frames.items():
        held_out_words = {m["word"] for templates in HELD_OUT_CLOZES.values() for t in templates if (m := frame.match(t))}
        trained = {fact: {m["word"] for t in templates if (m := frame.match(t))} for fact, templates in CLOZES.items()}
        assert sum(bool(words) for words in trained.values()) >= 2, f"{name}: trained for {[f for f, w in trained.items() if w]}"
        for fact, words in trained.items():
            assert not words & held_out_words, (name, fact)  # the frame is trained, the held-out wording is not
    the_of = frames["The <word> of X is"]
    assert all(any(the_of.match(t) for t in templates) for templates in CLOZES.values())  # this one for every fact
