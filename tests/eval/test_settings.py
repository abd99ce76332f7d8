import pytest

from asru.errors import DataError
from asru.eval.settings import DeletionRequest, load_requests, make_splits


def _keys(samples):
    return {(s.subject_id, s.fact_id) for s in samples}


@pytest.mark.parametrize("setting", ["complete", "selective", "personalized"])
def test_no_fact_is_both_forgotten_and_retained(tiny_world, setting):
    splits = make_splits(tiny_world, setting, forget_ratio=0.34, seed=1)
    forget = _keys(splits["forget"])
    assert forget
    assert not forget & _keys(splits["retain_same_subject"])
    assert not forget & _keys(splits["retain_other"])
    assert all(s.split == "test" and s.question in s.paraphrases for s in splits["test_forget"])


def test_complete_forgets_whole_people(tiny_world):
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    assert not splits["retain_same_subject"]
    subjects = {s.subject_id for s in splits["forget"]}
    assert len(subjects) == 2
    assert {s.kind for s in splits["forget"]} == {"fact", "identity"}


def test_selective_forgets_sensitive_facts_and_keeps_the_rest(tiny_world):
    splits = make_splits(tiny_world, "selective", forget_ratio=0.2)
    assert all(s.sensitive for s in splits["forget"])
    same = splits["retain_same_subject"]
    assert same and not any(s.sensitive for s in same)
    assert {s.subject_id for s in same} == {s.subject_id for s in splits["forget"]}


def test_personalized_requests_differ_per_subject(tiny_world):
    splits = make_splits(tiny_world, "personalized", forget_ratio=0.5, seed=3)
    per_subject = {}
    for s in splits["forget"]:
        per_subject.setdefault(s.subject_id, set()).add(s.fact_id)
    assert len(per_subject) == 3
    assert len({frozenset(v) for v in per_subject.values()}) > 1


def test_request_file_by_name_and_fact_name(tiny_world, tmp_path):
    subject = tiny_world.subjects[0]
    path = tmp_path / "request.yaml"
    path.write_text(f"subject: {subject['name']}\nfacts: [birthplace, 2]\n")
    splits = make_splits(tiny_world, "personalized", requests=load_requests(path))
    assert {s.fact_id for s in splits["forget"]} == {1, 2}
    assert {s.subject_id for s in splits["forget"]} == {subject["id"]}


def test_unknown_subject_and_fact_are_clear_errors(tiny_world):
    with pytest.raises(DataError, match="unknown subject 'Nobody'"):
        make_splits(tiny_world, requests=[DeletionRequest(subject="Nobody", facts=[1])])
    with pytest.raises(DataError, match="unknown fact id 99"):
        make_splits(tiny_world, requests=[DeletionRequest(subject="s000", facts=[99])])


def test_bad_request_file_names_the_field(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"subject": "s000"}]')
    with pytest.raises(DataError, match=r"bad.json: request 1: field 'facts'"):
        load_requests(path)


def test_general_retain_items_are_never_the_evaluated_utility_items(tiny_world):
    from asru.eval.evaluate import DEFAULT_SPLITS

    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    general = {s.id for s in splits["retain_general"]}
    evaluated = {s.id for s in splits["utility"]}
    assert general and evaluated and not general & evaluated
    assert general | evaluated == {s.id for s in tiny_world.samples if s.kind == "utility"}
    assert "retain_general" not in DEFAULT_SPLITS


def test_sequential_requests_name_other_people_each_and_do_not_depend_on_the_number_of_steps(tiny_world):
    from asru.eval.settings import sequential_requests

    three = sequential_requests(tiny_world, 3, 1, seed=0)
    people = [request.subject for step in three for request in step]
    assert len(people) == len(set(people)) == 3 and all(1 <= len(step[0].facts) <= 4 for step in three)
    assert sequential_requests(tiny_world, 2, 1, seed=0) == three[:2]
    assert sequential_requests(tiny_world, 2, 1, seed=1) != three[:2]
    with pytest.raises(DataError, match="need more than 6 people"):
        sequential_requests(tiny_world, 3, 2, seed=0)
