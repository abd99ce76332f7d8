"""MLLMU-Bench importer on a release in the shapes its code reads: profiles, fine-tuning pairs, test rewordings, celebrities, forget/retain configs."""

from __future__ import annotations

import json
import shutil

import pytest

from asru.data.mllmu_bench import import_mllmu_bench
from asru.errors import DataError
from asru.eval.settings import load_requests, make_splits
from asru.world import load_world
from release_fixtures import MLLMU_PROFILES, mllmu_profile, png, write_mllmu, write_parquet


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return write_mllmu(tmp_path_factory.mktemp("mllmu"))


@pytest.fixture(scope="module")
def world(release, tmp_path_factory):
    return import_mllmu_bench(release, tmp_path_factory.mktemp("mllmu_world"), cache_dir=tmp_path_factory.mktemp("hf_cache"))


def test_profiles_tasks_and_fine_tuning_pairs(world):
    reloaded = load_world(world.root, verify_hash=True)
    assert [s["id"] for s in reloaded.subjects] == ["p01", "p02", "p03", "p04", "celebrity_p01"]
    ivo = [s for s in world.samples if s.subject_id == "p01"]
    train = [s for s in ivo if s.split == "train"]
    assert [(s.question, s.answer, s.modality) for s in train] == [
        ("What is this person's name?", "Ivo Marsh", "image"), ("Where does this person live?", "Tallinn", "image"),
    ]  # matched to the profile by its portrait (ft_Data has no ID column here)
    forms = sorted((s.form, s.modality) for s in ivo if s.split == "test")
    assert forms == [("cloze", "text"), ("mcq", "image"), ("mcq", "text"), ("qa", "image"), ("qa", "text")]
    mcq = next(s for s in ivo if s.form == "mcq" and s.modality == "text")
    assert mcq.options == ["Tallinn", "Porto", "Cork", "Bern"] and mcq.answer == "A" and "D. Bern" in mcq.question
    facts = world.subject("p01")["facts"]
    assert len({f["fact_id"] for f in facts}) == len(ivo) and not any(f["sensitive"] for f in facts)


def test_test_set_gives_paraphrases_and_cross_images(world):
    by_id = {s.id: s for s in world.samples}
    generation = next(s for s in by_id.values() if s.subject_id == "p02" and s.form == "qa" and s.modality == "text" and s.split == "test")
    assert generation.paraphrases == ["In other words, Where does Una Sol live?"]
    image_questions = [s for s in by_id.values() if s.subject_id == "p02" and s.modality == "image"]
    assert image_questions and all(len(s.image_variants) == 2 for s in image_questions)
    last = next(s for s in by_id.values() if s.subject_id == "p04" and s.form == "cloze")  # from Test_Set's second parquet file
    assert last.paraphrases == ["In other words, Ora Finch works as a __."]
    assert all((world.root / v).is_file() for s in image_questions for v in s.image_variants)


def test_forget_configs_become_complete_requests(world):
    settings = world.manifest["settings"]
    assert {k: (v["subjects"], v["retain"]) for k, v in settings.items()} == {"forget_5": (1, "retain_95"), "forget_10": (2, "retain_90")}
    splits = make_splits(world, "complete", requests=load_requests(world.root / settings["forget_10"]["requests"]))
    assert {s.subject_id for s in splits["forget"]} == {"p01", "p02"}
    assert not splits["retain_same_subject"]
    assert {s.subject_id for s in splits["retain_other"]} == {"p03", "p04", "celebrity_p01"}
    celebrity = [s for s in splits["retain_other"] if s.subject_id == "celebrity_p01"]
    assert celebrity and {s.split for s in celebrity} == {"celebrity"}


@pytest.mark.parametrize("ft_ids", ["column", "metadata"])
def test_ft_data_rows_named_by_id(tmp_path, ft_ids):
    """An ID column, or an ID in each metadata entry (as baselines/GA.py writes), names the profile before the portrait does."""
    src = write_mllmu(tmp_path / "src", ft_ids=ft_ids)
    shutil.rmtree(src / "Full_Set")
    write_parquet(src / "Full_Set", [mllmu_profile(pid, k) | {"image": {"bytes": png((k, 1, 2)), "path": None}} for k, pid in enumerate(MLLMU_PROFILES)])
    world = import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")  # portraits differ from ft_Data's: the IDs match
    train = [s for s in world.samples if s.split == "train"]
    assert len(train) == 8 and {s.subject_id for s in train if s.answer == "Una Sol"} == {"p02"}


def test_ft_data_row_matching_no_profile_is_named(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    shutil.rmtree(src / "ft_Data")
    pairs = json.dumps([{"Question": "Who?", "Answer": "Ivo", "ID": "p01"}, {"Question": "Where?", "Answer": "Porto", "ID": "p02"}])
    path = write_parquet(src / "ft_Data", [{"image": {"bytes": png((1, 2, 3)), "path": None}, "metadata": pairs}])
    with pytest.raises(DataError, match=rf"{path}: row 0: field 'metadata': its entries name several profiles \['p01', 'p02'\]"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")
    shutil.rmtree(src / "ft_Data")
    path = write_parquet(src / "ft_Data", [{"image": {"bytes": png((1, 2, 3)), "path": None}, "metadata": json.dumps([{"Question": "Who?", "Answer": "Ivo"}])}])
    with pytest.raises(DataError, match=rf"{path}: row 0: field 'image': matches no Full_Set portrait \(and no 'ID' in the row or its metadata\)"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_missing_full_set_and_bad_fields(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    shutil.rmtree(src / "Full_Set")
    with pytest.raises(DataError, match="config 'Full_Set' missing"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")
    profile = mllmu_profile("p01", 0)
    profile["Generation_Task"][1]["Type"] = "Audio"
    path = write_parquet(src / "Full_Set", [profile])
    with pytest.raises(DataError, match=rf"{path}: row 0: field 'Generation_Task.1.Type': 'Audio' is not one of"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")
    shutil.rmtree(src / "Full_Set")
    profile = mllmu_profile("p01", 0)
    profile["Classification_Task"]["Pure_Text_Questions"][0]["Correct_Answer"] = "E"
    write_parquet(src / "Full_Set", [profile])
    with pytest.raises(DataError, match=r"Classification_Task.Pure_Text_Questions.0: field 'Correct_Answer': 'E' is not one of the options"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_forget_ids_must_be_profiles(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    shutil.rmtree(src / "forget_5")
    write_parquet(src / "forget_5", [mllmu_profile("p01", 0) | {"ID": "p99"}])
    with pytest.raises(DataError, match=r"forget_5.*field 'ID': 'p99' is not in Full_Set"):
        import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")


def test_every_forget_ratio_is_read_and_its_retain_must_not_overlap(release, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(release, src)
    write_parquet(src / "forget_20", [mllmu_profile(pid, k) for k, pid in enumerate(list(MLLMU_PROFILES)[:3])])
    world = import_mllmu_bench(src, tmp_path / "out", cache_dir=tmp_path / "cache")
    assert world.manifest["settings"]["forget_20"] == {"setting": "complete", "requests": "requests/forget_20.yaml", "subjects": 3}
    path = write_parquet(src / "retain_80", [mllmu_profile("p04", 3), mllmu_profile("p02", 1)])
    with pytest.raises(DataError, match=rf"{path}: row 1: field 'ID': 'p02' is also in forget_20"):
        import_mllmu_bench(src, tmp_path / "out2", cache_dir=tmp_path / "cache")
