"""benchmarks/finetune.py: the held-out cloze split by fact (the row moves a whole fact at a time)."""

from conftest import benchmark_script  # tests/conftest.py

from asru.data.schema import Sample
from asru.eval.attacks import Probe


def _probe(fact: str, subject: str) -> Probe:
    sample = Sample(id=f"{subject}-{fact}-cloze", subject_id=subject, subject_name="Ada Vel", kind="fact", fact=fact, fact_id=3, modality="text",
                    form="cloze", question=f"The {fact} of Ada Vel is ____.", answer="Velmora", split="train")
    return Probe(sample=sample, question=sample.question, image=None)


def test_cloze_by_fact_counts_each_fact_apart():
    scored = [(_probe("employer", "s0"), 0.0), (_probe("employer", "s1"), 0.0), (_probe("hobby", "s0"), 1.0), (_probe("hobby", "s1"), 0.0), (_probe("award", "s0"), 1.0)]
    by_fact = benchmark_script("finetune").cloze_by_fact(scored)
    assert list(by_fact) == ["award", "employer", "hobby"]  # sorted
    assert by_fact["employer"] == {"n": 2, "accuracy": 0.0} and by_fact["hobby"] == {"n": 2, "accuracy": 0.5} and by_fact["award"] == {"n": 1, "accuracy": 1.0}
