"""Benchmark (diagnostic): does a refusal-trained run know *which* refusal each forget question asks for?

Issue 21: many of ASRU's rigid refusals are contextual refusals of the wrong fact ("I'm sorry, but I can't
share who X is married to." asked X's birthplace). A generated answer shows the one winner; this scores,
under a finished run's model (``RUN/model``), every fact's contextual refusals (``asru.world.phrases.FACT_REFUSALS``,
naming the person) as the answer to each of the run's text forget questions (its ``answers.jsonl``), and ranks
the asked fact's best phrasing among the facts' best: rank 1 with a small margin is a near miss that decoding
or RL could tip; a large margin to one fact is a bias the training left. Writes
benchmarks/results/refusal_topics.{json,md} (per question: form, fact, rank, the top fact and its margin in
nats; per form: the rank-1 share). Takes a minute on the demo's runs.

    .venv/bin/python benchmarks/refusal_topics.py runs/demo/complete/asru [--world W]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from collections import defaultdict
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def ranked(scores: dict[str, float], asked: str) -> dict:
    """The asked fact's rank among ``scores`` (fact -> best log-probability; 1 = the likeliest), the top fact and the margin."""
    order = sorted(scores, key=lambda fact: (-scores[fact], fact))
    return {"rank": order.index(asked) + 1, "top": order[0], "margin": scores[order[0]] - scores[asked]}


def topic_ranks(run: Path, world) -> list[dict]:
    """One row per text forget question of ``run`` whose fact has contextual refusals."""
    import torch

    from asru.data.collate import Encoder
    from asru.methods.losses import sequence_logprob
    from asru.models.loading import load_vlm
    from asru.report.results import load_answers
    from asru.world.phrases import FACT_REFUSALS

    model, processor = load_vlm(run / "model")
    model.eval()
    encoder = Encoder(processor, world.root)
    rows = []
    for record in load_answers(run):
        if record.get("split") != "forget" or record.get("modality") != "text" or record.get("fact") not in FACT_REFUSALS or not record.get("subject_name"):
            continue
        candidates = [(fact, phrasing.format(who=record["subject_name"])) for fact, phrasings in FACT_REFUSALS.items() for phrasing in phrasings]
        batch = encoder.collate([encoder.encode(record["question"], None, refusal) for _, refusal in candidates])
        with torch.no_grad():
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        best: dict[str, float] = {}
        for (fact, _), value in zip(candidates, sequence_logprob(logits, batch["labels"]).tolist()):
            best[fact] = max(best.get(fact, float("-inf")), value)
        rows.append({"form": record.get("form"), "fact": record["fact"], "label": record.get("label"), **ranked(best, record["fact"])})
    return rows


def by_form(rows: list[dict]) -> dict[str, dict]:
    forms: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        forms[row["form"]].append(row)
    return {form: {"n": len(group), "rank1": sum(r["rank"] == 1 for r in group) / len(group)} for form, group in sorted(forms.items())}


def main(argv: list[str] | None = None) -> dict:
    from asru.io import atomic_write_json, atomic_write_text
    from asru.report.writer import markdown_table
    from asru.world import load_world

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run folder (model/ and answers.jsonl)")
    parser.add_argument("--world", type=Path, default=None, help="the run's world (default: the path its results.json records)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    world_dir = args.world or Path(json.loads((args.run / "results.json").read_text(encoding="utf-8"))["world"]["path"])
    rows = topic_ranks(args.run, load_world(world_dir))
    summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
               "run": str(args.run), "world": str(world_dir), "by_form": by_form(rows), "questions": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "refusal_topics.json", summary)
    forms = [[form, str(s["n"]), f"{s['rank1']:.2f}"] for form, s in summary["by_form"].items()]
    questions = [[r["form"], r["fact"], str(r["rank"]), r["top"], f"{r['margin']:.2f}", str(r["label"])] for r in rows]
    lines = ["# Which refusal each forget question asks for", "",
             f"Written by `benchmarks/refusal_topics.py` on {summary['date']}: run `{args.run}`. Every fact's contextual refusals scored as "
             "the answer to each text forget question; the asked fact's rank among the facts (best phrasing each), the top fact and its "
             "margin in nats (0 when the asked fact leads); the generated answer's judge label beside it.", "",
             markdown_table(["form", "questions", "asked fact ranked first"], forms), "",
             markdown_table(["form", "fact", "rank", "top fact", "margin (nats)", "generated answer"], questions)]
    atomic_write_text(args.out / "refusal_topics.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
