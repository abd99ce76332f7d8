"""benchmarks/refusal_topics.py: the asked fact's refusal ranked among every fact's, under a run's model."""

import json
import shutil

import pytest
from conftest import benchmark_script  # tests/conftest.py


def test_the_asked_fact_is_ranked_among_the_facts_best_log_probabilities():
    ranked = benchmark_script("refusal_topics").ranked
    scores = {"birthplace": -1.0, "spouse": -3.0, "job": -2.0}
    assert ranked(scores, "job") == {"rank": 2, "top": "birthplace", "margin": pytest.approx(1.0)}
    assert ranked(scores, "birthplace") == {"rank": 1, "top": "birthplace", "margin": 0.0}


def test_every_text_forget_question_of_the_run_gets_a_rank(tiny_world, tiny_model_dir, tmp_path):
    from asru.world.phrases import FACT_REFUSALS

    module = benchmark_script("refusal_topics")
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run / "model")
    asked = [s for s in tiny_world.samples if s.kind == "fact" and s.modality == "text" and s.fact in FACT_REFUSALS][:3]
    image = next(s for s in tiny_world.samples if s.kind == "fact" and s.modality == "image" and s.fact in FACT_REFUSALS)
    records = [{"split": "forget", "id": s.id, "modality": s.modality, "form": s.form, "fact": s.fact, "question": s.question, "subject_name": s.subject_name, "label": "leak"}
               for s in [*asked, image]] + [{"split": "retain_other", "id": asked[0].id, "modality": "text", "form": "qa", "fact": asked[0].fact, "question": asked[0].question, "subject_name": asked[0].subject_name}]
    (run / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = module.topic_ranks(run, tiny_world)
    assert [(r["form"], r["fact"]) for r in rows] == [(s.form, s.fact) for s in asked]  # the photo and the retain question left out
    assert all(1 <= r["rank"] <= len(FACT_REFUSALS) and r["top"] in FACT_REFUSALS and r["margin"] >= 0 for r in rows)
    assert all((r["rank"] == 1) == (r["margin"] == 0) for r in rows)
    summary = module.by_form(rows)
    assert sum(s["n"] for s in summary.values()) == len(rows)
