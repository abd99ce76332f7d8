"""Sequential deletion requests through the CLI: a 2-step chain on the tiny world and model.

The second run continues from the first run's model, forgets only its own request, is evaluated on
both (metrics per request), and writes the chain with a model card into its model folder; a
request already applied, a malformed unlearning.json or another world are one-line errors; an
interrupted step runs again from the same command; ``asru audit MODEL_DIR`` audits the model alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import yaml
from conftest import assert_one_line_error, run_cli  # tests/conftest.py

STEPS = ("--method", "grad_diff", "--setting", "personalized", "--steps", "2", "--attacks", "paraphrase")


def _request(tiny_world, index: int) -> dict:
    """A request naming the first fact of the world's index-th person (whatever the world holds)."""
    person = tiny_world.subjects[index]
    return {"subject": person["id"], "facts": [person["facts"][0]["fact_id"]]}


@pytest.fixture(scope="module")
def chain(tiny_world, tiny_model_dir, tmp_path_factory):
    """run1 (req1 on the tiny model), then run2 (req2 on run1/model)."""
    folder = tmp_path_factory.mktemp("chain")
    files = {}
    for index, name in ((0, "req1"), (1, "req2")):
        files[name] = folder / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump([_request(tiny_world, index)]))
    for step, (model, name) in enumerate(((tiny_model_dir, "req1"), (folder / "run1" / "model", "req2")), start=1):
        code, out, err = run_cli("unlearn", "--model", model, "--world", tiny_world.root, "--out", folder / f"run{step}", "--request", files[name], *STEPS)
        assert code == 0, err + out
    return folder, files


def test_the_second_run_evaluates_both_requests(chain, tiny_world, tiny_model_dir):
    folder, files = chain
    results = json.loads((folder / "run2" / "results.json").read_text())
    assert [entry["id"] for entry in results["chain"]] == ["req1", "req2"]
    for entry in results["chain"]:
        assert entry["sha256"] == hashlib.sha256(files[entry["id"]].read_bytes()).hexdigest()
        assert entry["file"] == str(files[entry["id"]]) and entry["date"][:4].isdigit() and entry["method"] == "grad_diff"
    assert results["chain"][0]["run"] == str(folder / "run1") and results["chain"][1]["run"] == str(folder / "run2")
    # the forget split is the union: both people's named facts, every form; per request, each one's own questions
    named = {(r["subject_id"], tuple(r["fact_ids"])) for r in results["requests"]}
    assert named == {(req["subject"], tuple(req["facts"])) for req in (_request(tiny_world, 0), _request(tiny_world, 1))}
    per_request = results["request_metrics"]
    assert set(per_request) == {"req1", "req2"}
    assert sum(per_request[r]["metrics"]["forget"]["n"] for r in per_request) == results["metrics"]["forget"]["all"]["n"]
    assert all("leakage" in per_request[r]["metrics"]["forget"] and "paraphrase" in per_request[r]["attacks"] for r in per_request)
    answers = [json.loads(line) for line in (folder / "run2" / "answers.jsonl").read_text().splitlines()]
    forget_subjects = {a["subject_id"] for a in answers if a["split"] == "forget"}
    assert forget_subjects == {tiny_world.subjects[0]["id"], tiny_world.subjects[1]["id"]}
    # the first run knew only its own request
    first = json.loads((folder / "run1" / "results.json").read_text())
    assert [entry["id"] for entry in first["chain"]] == ["req1"] and set(first["request_metrics"]) == {"req1"}


def test_the_model_card_and_record_name_both_requests(chain, tiny_model_dir):
    from asru.methods.base import get_method
    from asru.report.model_card import load_model_record
    from asru.report.writer import headline

    folder, files = chain
    model = folder / "run2" / "model"
    record = load_model_record(model)
    assert [entry.id for entry in record.chain] == ["req1", "req2"]
    assert record.base_model == str(tiny_model_dir) and record.parent_model == str(folder / "run1" / "model")
    assert record.method == "grad_diff" and record.config["requests_file"] == str(files["req2"]) and record.config["steps"] == 2
    assert record.config["learning_rate"] == get_method("grad_diff").default_learning_rate  # the defaults filled in
    results = json.loads((folder / "run2" / "results.json").read_text())
    assert record.metrics == headline(results) and {k: v.model_dump() for k, v in record.request_metrics.items()} == results["request_metrics"]
    assert record.audit is None and record.run == str(folder / "run2")
    card = (model / "README.md").read_text()
    _, header, body = card.split("---\n", 2)
    meta = yaml.safe_load(header)
    assert meta["base_model"] == str(tiny_model_dir) and meta["library_name"] == "transformers"
    assert {"machine-unlearning", "asru", "grad_diff"} <= set(meta["tags"])
    assert "after 2 deletion requests" in body and "| 1 | req1 |" in body and "| 2 | req2 |" in body
    assert hashlib.sha256(files["req2"].read_bytes()).hexdigest()[:12] in body
    assert "Not audited yet" in body and "steps: 2" in body
    assert [entry.id for entry in load_model_record(folder / "run1" / "model").chain] == ["req1"]


def test_only_the_new_request_is_trained_and_no_earlier_one_is_retained(tiny_world):
    from asru.eval.chain import chain_requests, extend, new_entry, training_splits
    from asru.eval.settings import DeletionRequest, make_splits

    first = new_entry(tiny_world, [DeletionRequest(**_request(tiny_world, 0))], setting="personalized", method="npo", run="r1", default_id="a")
    second = new_entry(tiny_world, [DeletionRequest(**_request(tiny_world, 1))], setting="personalized", method="npo", run="r2", default_id="b")
    chain = extend([first], second, "m")
    splits = training_splits(make_splits(tiny_world, "personalized", requests=chain_requests(chain)), chain[-1])
    keys = lambda name: {(s.subject_id, s.fact_id) for s in splits[name]}  # noqa: E731
    earlier = {(r.subject_id, fact) for r in first.requests for fact in r.fact_ids}
    assert keys("forget") == {(r.subject_id, fact) for r in second.requests for fact in r.fact_ids}
    assert keys("test_forget") <= keys("forget")
    assert not earlier & (keys("retain_other") | keys("retain_same_subject") | keys("forget"))


def test_a_request_already_in_the_chain_is_a_one_line_error(chain, tiny_world, tmp_path):
    folder, files = chain
    model = folder / "run2" / "model"
    code, _, err = run_cli("unlearn", "--model", model, "--world", tiny_world.root, "--out", tmp_path / "again", "--request", files["req1"], *STEPS)
    assert_one_line_error(code, err, "'", "is already in the chain of", "step 1: 'req1'")
    # the same request in another file (other bytes, other name) is the same request
    reworded = tmp_path / "req1_again.json"
    reworded.write_text(json.dumps(_request(tiny_world, 0)))
    code, _, err = run_cli("unlearn", "--model", model, "--world", tiny_world.root, "--out", tmp_path / "again", "--request", reworded, *STEPS)
    assert_one_line_error(code, err, "req1_again.json", "already in the chain")
    assert not (tmp_path / "again" / "config.yaml").exists()


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda r: r["chain"][0].pop("sha256"), ["unlearning.json", "field 'chain.0.sha256'"]),
        (lambda r: r["chain"].clear(), ["unlearning.json", "field 'chain'"]),
        (lambda r: r.update(format="asru.unlearning/9"), ["unlearning.json", "field 'format'"]),
        (lambda r: r["chain"][1]["requests"][0].update(fact_ids="all"), ["unlearning.json", "field 'chain.1.requests.0.fact_ids'"]),
        (lambda r: r["world"].update(hash="0" * 64), ["was unlearned on another world"]),
    ],
)
def test_a_bad_model_record_is_a_one_line_error(edit, fragments, chain, tiny_world, tmp_path):
    folder, _ = chain
    model = tmp_path / "model"
    shutil.copytree(folder / "run2" / "model", model)
    record = json.loads((model / "unlearning.json").read_text())
    edit(record)
    (model / "unlearning.json").write_text(json.dumps(record))
    request = tmp_path / "req3.yaml"
    request.write_text(yaml.safe_dump([_request(tiny_world, 2)]))
    code, _, err = run_cli("unlearn", "--model", model, "--world", tiny_world.root, "--out", tmp_path / "run3", "--request", request, *STEPS)
    assert_one_line_error(code, err, *fragments)


def test_an_interrupted_step_runs_again_from_the_same_command(chain, tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    import signal

    from asru import pipeline
    from asru.errors import Interrupted

    folder, files = chain
    run = tmp_path / "run2"
    command = ("unlearn", "--model", folder / "run1" / "model", "--world", tiny_world.root, "--out", run, "--request", files["req2"], *STEPS)

    def killed(*args, **kwargs):
        raise Interrupted("interrupted by SIGTERM after step 1/2", signal.SIGTERM)

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "train_unlearn", killed)
        assert run_cli(*command)[0] == 128 + signal.SIGTERM
    assert (run / "config.yaml").is_file() and not (run / "results.json").exists()
    asked = []  # the model whose answers condition the *_known figures: the one before any request, not step 1's
    real_knowledge = pipeline.TargetKnowledge
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "TargetKnowledge", lambda path, *args, **kwargs: asked.append(str(path)) or real_knowledge(path, *args, **kwargs))
        code, _, err = run_cli(*command)
    assert code == 0, err
    assert asked == [str(tiny_model_dir)]
    again = json.loads((run / "results.json").read_text())
    first = json.loads((folder / "run2" / "results.json").read_text())
    assert [(e["id"], e["sha256"]) for e in again["chain"]] == [(e["id"], e["sha256"]) for e in first["chain"]]
    assert again["metrics"] == first["metrics"] and again["request_metrics"] == first["request_metrics"]
    # and a finished step run again into its own folder is redone, not refused
    assert run_cli(*command)[0] == 0


def test_audit_of_the_model_folder_alone(chain, tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    from asru.eval import audit
    from asru.report.model_card import load_model_record

    folder, _ = chain
    model = tmp_path / "model"
    shutil.copytree(folder / "run2" / "model", model)  # no run folder beside it
    asked = []  # the model whose answers condition the *_known figures: the one before any request
    real_knowledge = audit.TargetKnowledge
    monkeypatch.setattr(audit, "TargetKnowledge", lambda path, *args, **kwargs: asked.append(str(path)) or real_knowledge(path, *args, **kwargs))
    code, out, err = run_cli("audit", model, "--max-leakage", "1")
    assert code == 0, err + out
    assert "PASS" in out and "each request of the chain on its own" in out and "unlearning.json" in out
    record = load_model_record(model)
    assert record.audit.verdict == "pass" and set(record.audit.requests) == {"req1", "req2"}
    assert record.audit.model == str(model) and record.audit.checks["direct"].threshold == 1.0
    card = (model / "README.md").read_text()
    assert "## Audit" in card and "**PASS**" in card and "Not audited yet" not in card
    assert not (model / "audit.json").exists()
    # the same checks as an audit of its run folder (same seed, same questions), which updates the card of RUN/model too
    run = tmp_path / "run2"
    shutil.copytree(folder / "run2", run)
    assert run_cli("audit", run, "--max-leakage", "1")[0] == 0
    by_run = json.loads((run / "audit.json").read_text())
    assert by_run["checks"]["direct"] == record.audit.checks["direct"].model_dump()
    assert by_run["requests"] == {k: v.model_dump() for k, v in record.audit.requests.items()}
    assert load_model_record(run / "model").audit.verdict == "pass"
    assert asked == [str(tiny_model_dir)] * 2


def test_one_request_brought_back_fails_the_audit_whatever_the_union(tiny_world):
    from asru.eval.audit import AuditConfig, check_names, judge_requests
    from asru.eval.chain import chain_requests, new_entry
    from asru.eval.settings import DeletionRequest, make_splits

    people = [DeletionRequest(subject=s["id"], facts="all") for s in tiny_world.subjects[:3]]
    chain = [new_entry(tiny_world, [request], setting="complete", method="npo", run=f"r{i}", default_id=f"req{i}") for i, request in enumerate(people)]
    splits = make_splits(tiny_world, "complete", requests=chain_requests(chain))
    first = {(r.subject_id, f) for r in chain[0].requests for f in r.fact_ids}
    # every question of req0 answered (leaked), every other one refused: the union leaks a third, under a 0.5 threshold
    records = [
        {"split": "forget", "id": s.id, "pred": s.answer if (s.subject_id, s.fact_id) in first else "I can't say.", "gold": s.answer, "form": s.form, "options": s.options, "kind": s.kind}
        for s in splits["forget"]
    ]
    config = AuditConfig(max_leakage=0.5)
    union = {"verdict": "pass", "failed": [], "checks": {}}
    judged = judge_requests(union, chain, splits, records, config, check_names(False))
    assert judged["verdict"] == "fail" and judged["failed_requests"] == ["req0"]
    assert judged["requests"]["req0"]["checks"]["direct"]["leakage"] == 1.0 and judged["requests"]["req1"]["verdict"] == "pass"


@pytest.mark.parametrize(
    "target, options, fragments",
    [
        ("tiny_model", [], ["without unlearning.json", "not saved by `asru unlearn`"]),
        ("model", ["--model", "x"], ["option --model", "is a model folder"]),
        ("moved_world", [], ["world folder not found"]),
    ],
)
def test_audit_of_a_model_folder_bad_input(target, options, fragments, chain, tiny_model_dir, tmp_path):
    folder, _ = chain
    model = tmp_path / "model"
    shutil.copytree(folder / "run2" / "model", model)
    if target == "moved_world":
        record = json.loads((model / "unlearning.json").read_text())
        record["world"]["path"] = str(tmp_path / "gone")
        (model / "unlearning.json").write_text(json.dumps(record))
    code, _, err = run_cli("audit", tiny_model_dir if target == "tiny_model" else model, *options)
    assert_one_line_error(code, err, *fragments)
