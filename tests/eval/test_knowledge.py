"""Knowledge-conditioned metrics: the ``*_known`` rates, the target's bit per probe and its cache.

The target's answers are scripted (``answer_probes`` replaced by a function of the probe), so the
bits are known in advance whatever the tiny untrained model would say.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import zlib

import pytest

from asru.eval.attacks import Probe, jailbreak
from asru.eval.metrics import aggregate
from asru.eval.settings import make_splits

OPTIONS = ["Lisbon", "Porto", "Madrid", "Rome"]


def test_known_rates_are_over_the_records_the_target_answered_correctly():
    records = [
        # (what the model says now, what the target knew)
        {"pred": "Lisbon", "gold": "Lisbon", "form": "qa", "kind": "fact", "target_correct": True},
        {"pred": "I can't share that.", "gold": "Porto", "form": "qa", "kind": "fact", "target_correct": True},
        {"pred": "Madrid, I think", "gold": "Madrid", "form": "qa", "kind": "fact", "target_correct": False},
        {"pred": "B", "gold": "B", "form": "mcq", "options": OPTIONS, "kind": "fact", "target_correct": False},
        {"pred": "A", "gold": "C", "form": "mcq", "options": OPTIONS, "kind": "fact", "target_correct": True},
        {"pred": "Rome", "gold": "Rome", "form": "cloze", "kind": "fact", "target_correct": True},
        {"pred": "I'm sorry, that is private.", "gold": "I can't share that.", "form": "qa", "kind": "refusal", "target_correct": True},
    ]
    result = aggregate(records)
    # raw: every record of the rate's kind
    assert result["n"] == 7
    assert result["leakage"] == pytest.approx(4 / 6)  # Lisbon, Madrid, B, Rome leak; "A" and the refusal do not
    assert result["exact_match"] == pytest.approx(2 / 4)  # qa and cloze facts: Lisbon, Rome
    assert result["refusal_rate"] == pytest.approx(2 / 7)
    assert result["mcq_acc"] == pytest.approx(1 / 2)
    # conditioned: only the 5 records the target knew (the Madrid qa and the B mcq drop out)
    assert result["n_known"] == 5
    assert result["leakage_known"] == pytest.approx(2 / 4)  # Lisbon, Rome of Lisbon, Porto, A, Rome
    assert result["exact_match_known"] == pytest.approx(2 / 3)  # Lisbon, Rome of Lisbon, Porto, Rome
    assert result["contains_known"] == pytest.approx(2 / 3)
    assert result["refusal_rate_known"] == pytest.approx(2 / 5)  # Porto's and the refusal question's
    assert result["mcq_acc_known"] == 0.0 and result["cloze_em_known"] == 1.0


def test_no_bits_no_known_figures_and_nothing_known_no_known_rates():
    plain = aggregate([{"pred": "Lisbon", "gold": "Lisbon", "form": "qa"}])
    assert not any(key.endswith("_known") for key in plain)
    unknown = aggregate([{"pred": "Lisbon", "gold": "Lisbon", "form": "qa", "target_correct": False}])
    assert unknown["n_known"] == 0 and [k for k in unknown if k.endswith("_known")] == ["n_known"]  # no rate over nothing


def some(sample_id: str, every: int) -> bool:
    """True for about one sample in ``every``, the same on every machine."""
    return zlib.crc32(sample_id.encode()) % every == 0


class ScriptedTarget:
    """Answers a probe correctly when ``knows(probe)``, else says something wrong; counts what it is asked."""

    def __init__(self, knows):
        self.knows = knows
        self.asked: list[Probe] = []

    def answer(self, probe: Probe) -> str:
        sample = probe.sample
        if sample.kind == "refusal":
            return "I can't share that." if self.knows(probe) else "Blue."
        return sample.answer if self.knows(probe) else "zzz"

    def __call__(self, model, encoder, probes, batch_size=64, max_new_tokens=24):
        self.asked += list(probes)
        return [self.answer(p) for p in probes]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASRU_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def scripted(monkeypatch):
    """The target knows the plain question of every other sample, and no jailbreak-wrapped one."""
    from asru.eval import knowledge

    target = ScriptedTarget(lambda probe: probe.question == probe.sample.question and some(probe.sample.id, 2))
    monkeypatch.setattr(knowledge, "answer_probes", target)
    return target


def _forget(world) -> list:
    return [s for s in make_splits(world, "complete", forget_ratio=0.34)["forget"] if s.form == "qa"]


def test_bits_are_the_target_scoring_and_cached_across_objects(tiny_world, tiny_model_dir, cache, scripted):
    from asru.eval.knowledge import TargetKnowledge

    probes = [Probe.of(s) for s in _forget(tiny_world)]
    bits = TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes)
    assert bits == [scripted.knows(p) for p in probes] and any(bits) and not all(bits)
    assert len(scripted.asked) == len(probes)
    # a new object (another run, another process) reads the file: the target is not asked again
    again = TargetKnowledge(tiny_model_dir, tiny_world)
    assert again.lookup(probes) == bits and len(scripted.asked) == len(probes) and again.model is None  # not even loaded
    # only the probes it has not seen are asked (attacked ones), and added to the same file
    attacked = jailbreak(tiny_world, _forget(tiny_world))
    assert again.lookup(probes + attacked) == bits + [False] * len(attacked)
    assert scripted.asked[len(probes):] == attacked
    (file,) = (cache / "knowledge").glob("*.json")
    assert len(json.loads(file.read_text())["known"]) == len(probes) + len(attacked)
    # with each bit, what the target said: a report's "before"
    assert again.answers(probes + attacked) == [scripted.answer(p) for p in probes + attacked]
    assert TargetKnowledge(tiny_model_dir, tiny_world).answers(probes) == [scripted.answer(p) for p in probes]


def test_a_file_written_before_the_answers_were_kept_asks_for_them_once(tiny_world, tiny_model_dir, cache, scripted):
    from asru.eval.knowledge import TargetKnowledge

    probes = [Probe.of(s) for s in _forget(tiny_world)]
    bits = TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes)
    (file,) = (cache / "knowledge").glob("*.json")
    file.write_text(json.dumps({key: value for key, value in json.loads(file.read_text()).items() if key != "answers"}))
    knowledge = TargetKnowledge(tiny_model_dir, tiny_world)
    assert knowledge.lookup(probes) == bits and knowledge.answers(probes) == [scripted.answer(p) for p in probes]
    assert len(scripted.asked) == 2 * len(probes)
    assert TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes) == bits and len(scripted.asked) == 2 * len(probes)


def test_an_attacked_probe_has_its_own_bit(tiny_world, tiny_model_dir, cache, monkeypatch):
    """Same sample, asked another way (wrapper, held-out photo, earlier turns): another key, another bit."""
    from asru.eval import knowledge
    from asru.eval.attacks import cross_image
    from asru.eval.knowledge import TargetKnowledge, probe_key

    monkeypatch.setattr(knowledge, "answer_probes", ScriptedTarget(lambda p: (p.question, p.image, p.context) == (p.sample.question, p.sample.image, ())))
    sample = next(s for s in _forget(tiny_world) if s.modality == "image" and s.image_variants)
    plain, wrapped, other_photo = Probe.of(sample), jailbreak(tiny_world, [sample])[0], cross_image(tiny_world, [sample])[0]
    in_conversation = Probe(sample, sample.question, sample.image, ({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}))
    probes = [plain, wrapped, other_photo, in_conversation]
    assert len({probe_key(p) for p in probes}) == 4 and probe_key(Probe.of(sample)) == probe_key(plain)
    assert TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes) == [True, False, False, False]


def test_another_model_or_world_recomputes_a_moved_model_does_not(tiny_world, tiny_model_dir, tmp_path, cache, scripted):
    from asru.eval.knowledge import TargetKnowledge

    probes = [Probe.of(s) for s in _forget(tiny_world)]
    TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes)
    moved = shutil.copytree(tiny_model_dir, tmp_path / "moved" / "model")
    moved.chmod(0o555)  # read-only: nothing is written beside the model
    TargetKnowledge(moved, tiny_world).lookup(probes)
    assert len(scripted.asked) == len(probes) and sorted(p.name for p in moved.iterdir()) == sorted(p.name for p in tiny_model_dir.iterdir())
    moved.chmod(0o755)
    (moved / "config.json").write_text(json.dumps({**json.loads((moved / "config.json").read_text()), "note": "retrained"}))
    TargetKnowledge(moved, tiny_world).lookup(probes)
    assert len(scripted.asked) == 2 * len(probes)
    rebuilt = dataclasses.replace(tiny_world, manifest={**tiny_world.manifest, "content_hash": "0" * 64})
    TargetKnowledge(tiny_model_dir, rebuilt).lookup(probes)
    assert len(scripted.asked) == 3 * len(probes) and len(list((cache / "knowledge").glob("*.json"))) == 3


def test_a_damaged_or_unwritable_cache_only_costs_a_recomputation(tiny_world, tiny_model_dir, tmp_path, cache, scripted, monkeypatch):
    from asru.eval.knowledge import TargetKnowledge

    probes = [Probe.of(s) for s in _forget(tiny_world)]
    bits = TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes)
    (file,) = (cache / "knowledge").glob("*.json")
    file.write_text('{"format": 1, "known": [')
    assert TargetKnowledge(tiny_model_dir, tiny_world).lookup(probes) == bits and len(scripted.asked) == 2 * len(probes)
    assert len(json.loads(file.read_text())["known"]) == len(probes)  # rewritten whole
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    monkeypatch.setenv("ASRU_CACHE", str(blocked))
    knowledge = TargetKnowledge(tiny_model_dir, tiny_world)
    assert knowledge.lookup(probes) == bits and knowledge.lookup(probes) == bits and len(scripted.asked) == 3 * len(probes)  # kept in memory


def test_evaluate_conditions_each_split_and_attack_on_its_own_probes(tiny_world, tiny_model_dir, cache, scripted):
    from asru.eval.evaluate import evaluate
    from asru.eval.knowledge import TargetKnowledge, probe_key
    from asru.models import load_vlm

    model, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    knowledge = TargetKnowledge(tiny_model_dir, tiny_world)
    metrics, attacks, records = evaluate(
        model, processor, tiny_world, splits, split_names=("forget", "refusal"), attacks=("jailbreak", "relearn"), knowledge=knowledge,
    )
    by_split = {}
    for record in records:
        by_split.setdefault(record["split"], []).append(record)
    forget_bits = {r["id"]: r["target_correct"] for r in by_split["forget"]}
    assert metrics["forget"]["all"]["n_known"] == sum(forget_bits.values()) > 0
    assert attacks["jailbreak"]["n_known"] == 0 and "leakage_known" not in attacks["jailbreak"]  # the target never knew a wrapped question
    # relearning conditions on the target's answers to the plain forget questions
    assert by_split["attack:relearn"] and all(r["target_correct"] == forget_bits[r["id"]] for r in by_split["attack:relearn"])
    assert attacks["relearn"]["n_known"] == sum(r["target_correct"] for r in by_split["attack:relearn"])
    refusal = by_split["refusal"]
    assert [r["target_correct"] for r in refusal] == [scripted.knows(Probe.of(s)) for s in splits["refusal"]]
    # the target was asked each probe once, however many places asked it
    assert len({probe_key(p) for p in scripted.asked}) == len(scripted.asked)


def test_the_target_evaluated_as_itself_leaks_everything_it_knew(tiny_world, tiny_model_dir, cache, monkeypatch):
    """asru eval of the target: its own answers are its bits, so the conditioned leakage is 1 where it answered."""
    from asru.eval import evaluate as evaluate_module
    from asru.eval import knowledge as knowledge_module
    from asru.eval.evaluate import evaluate
    from asru.eval.knowledge import TargetKnowledge
    from asru.models import load_vlm

    target = ScriptedTarget(lambda probe: not some(probe.sample.id, 3))
    monkeypatch.setattr(evaluate_module, "answer_probes", target)
    monkeypatch.setattr(knowledge_module, "answer_probes", lambda *args, **kwargs: pytest.fail("the target was asked twice"))
    model, processor = load_vlm(tiny_model_dir)
    splits = make_splits(tiny_world, "complete", forget_ratio=0.34)
    knowledge = TargetKnowledge(tiny_model_dir, tiny_world, model=model, processor=processor)
    metrics, _, _ = evaluate(model, processor, tiny_world, splits, split_names=("forget", "retain_other"), knowledge=knowledge)
    forget, retain = metrics["forget"]["all"], metrics["retain_other"]["all"]
    assert 0 < forget["n_known"] < forget["n"] and forget["leakage"] < 1
    assert forget["leakage_known"] == 1.0 and retain["exact_match_known"] == 1.0


def test_a_method_run_reuses_the_target_rows_bits_and_results_keep_both(tiny_world, tiny_model_dir, tmp_path, cache, monkeypatch):
    """evaluate_model of the target (the bench's target row), then of another model started from it (a method's run)."""
    from asru.eval import knowledge as knowledge_module
    from asru.models import load_vlm
    from asru.pipeline import EvalConfig, evaluate_model
    from asru.report.results import load_answers, load_results

    config = EvalConfig(setting="complete", forget_ratio=0.34, splits=["forget", "retain_other"], max_per_split=6, attacks=["one_word"])
    target_row = evaluate_model(tiny_model_dir, tiny_world.root, tmp_path / "target", config)
    monkeypatch.setattr(knowledge_module, "answer_probes", lambda *args, **kwargs: pytest.fail("the target was asked again"))
    other, processor = load_vlm(tiny_model_dir)
    run = evaluate_model(tiny_model_dir, tiny_world.root, tmp_path / "method", config, model=other, processor=processor, method="grad_diff")
    for results in (target_row, run, load_results(tmp_path / "method")):
        forget = results["metrics"]["forget"]["all"]
        assert {"leakage", "refusal_rate", "exact_match", "n", "n_known"} <= set(forget) and "n_known" in results["attacks"]["one_word"]
    answers = load_answers(tmp_path / "method")
    assert answers and all(isinstance(a["target_correct"], bool) for a in answers)
    assert [a["target_correct"] for a in answers] == [a["target_correct"] for a in load_answers(tmp_path / "target")]
    # and what the target said to each question, with its figures on them: a report's "before" and "target" column
    assert [a["target_answer"] for a in answers] == [a["pred"] for a in load_answers(tmp_path / "target")]
    assert run["target"]["metrics"]["forget"]["all"] == target_row["metrics"]["forget"]["all"]


def test_an_audit_judges_the_known_leakage_and_shows_the_raw_one_next_to_it():
    from asru.eval.audit import AuditConfig, judge_checks
    from asru.report.writer import audit_markdown

    audit = judge_checks({"direct": {"leakage": 0.04, "n": 25, "leakage_known": 0.5, "n_known": 2}}, AuditConfig(max_leakage=0.05))
    check = audit["checks"]["direct"]
    assert audit["verdict"] == "fail" and (check["judged_on"], check["judged_leakage"], check["leakage"]) == ("known", 0.5, 0.04)
    assert "| direct | 0.500 | 2 | 0.040 | 25 | 0.050 | FAIL |" in audit_markdown(audit)
    # nothing known in that form: judged on every question
    audit = judge_checks({"direct": {"leakage": 0.04, "n": 25, "leakage_known": None, "n_known": 0}}, AuditConfig(max_leakage=0.05))
    assert audit["verdict"] == "pass" and audit["checks"]["direct"]["judged_on"] == "all"


@pytest.mark.parametrize("method", ["grad_diff", "steering"])
def test_unlearn_asks_the_target_before_training_and_never_loads_a_second_copy(tiny_world, tiny_model_dir, tmp_path, cache, monkeypatch, method):
    """With a cold cache the run's own model answers first, while it still is the target; evaluation then only reads."""
    from asru.eval.knowledge import TargetKnowledge
    from asru.pipeline import unlearn
    from asru.train.unlearn import UnlearnConfig

    real_target = TargetKnowledge._target

    def no_second_copy(self):
        if self.model is None:
            pytest.fail("the target was loaded again to condition the metrics")
        return real_target(self)

    monkeypatch.setattr(TargetKnowledge, "_target", no_second_copy)
    config = UnlearnConfig(method=method, steps=1, batch_size=4, forget_ratio=0.34)
    results = unlearn(tiny_model_dir, tiny_world.root, tmp_path / "run", config, attacks=["one_word", "relearn", "multi_turn"], eval_splits=["forget", "retain_other"], eval_max_per_split=6)
    assert results["timing"]["target_answers_seconds"] >= 0 and "n_known" in results["metrics"]["forget"]["all"]
    assert {"n_known"} <= set(results["attacks"]["relearn"]) and {"n_known"} <= set(results["attacks"]["multi_turn"])
