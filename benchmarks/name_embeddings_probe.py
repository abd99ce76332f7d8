"""Benchmark (diagnostic): how much of the linear probe's reading lives in the forgotten names' own token embeddings?

ASRU's stage 1 trains the decoder layers' MLP and attention projections, never an embedding; the target learned
each person's facts with their name, so the name's token embeddings may carry the facts into every layer. For the
target and one finished ASRU run (a folder with ``model/`` and ``results.json``), this measures the probe recovery
(:func:`asru.eval.probe.probe_recovery`, the evaluation's probe sets) per layer as the model stands and again with
the embedding rows of the tokens that only the forget people's names use set to the mean row of the other names'
tokens (what a model that never learnt those names would hold), beside the run's oracle recovery. Writes
benchmarks/results/name_embeddings_probe.{json,md}.

    .venv/bin/python benchmarks/name_embeddings_probe.py RUN_FOLDER [--world W] [--target T] [--setting complete] [--seed 100]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def recoveries(model_dir: Path, world, train, test, forget_names: set[str], other_names: set[str]) -> dict:
    import torch

    from asru.data.collate import Encoder
    from asru.eval.probe import probe_recovery
    from asru.models.loading import load_vlm

    model, processor = load_vlm(model_dir)
    model.eval()
    encoder, tokenizer = Encoder(processor, world.root), processor.tokenizer

    def token_ids(names: set[str]) -> set[int]:  # a name alone and after a space: both tokenisations occur in questions
        return {i for name in names for text in (name, " " + name) for i in tokenizer(text, add_special_tokens=False)["input_ids"]}

    only_forget = sorted(token_ids(forget_names) - token_ids(other_names))
    layers = list(range(model.config.get_text_config().num_hidden_layers))
    before = probe_recovery(model, encoder, train, test, layers)["recovery"]
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings[only_forget] = embeddings[sorted(token_ids(other_names))].mean(0)
    after = probe_recovery(model, encoder, train, test, layers)["recovery"]
    return {"model": str(model_dir), "forget_only_tokens": len(only_forget), "layers": layers, "recovery": before, "recovery_names_reset": after}


def main() -> None:
    from asru.eval.oracle import _questions
    from asru.io import atomic_write_json, atomic_write_text
    from asru.report.writer import markdown_table
    from asru.pipeline import setting_splits
    from asru.world import load_world

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished ASRU run folder (model/ and results.json)")
    parser.add_argument("--world", type=Path, default=Path.home() / ".cache/asru/worlds/d0a484a4317d7d6b")
    parser.add_argument("--target", type=Path, default=Path.home() / ".cache/asru/targets/d65497b001dd802e")
    parser.add_argument("--setting", default="complete")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--forget-ratio", type=float, default=0.1)
    args = parser.parse_args()

    world = load_world(args.world)
    _, splits = setting_splits(world, args.setting, args.forget_ratio, args.seed, None)
    _, _, train, test = _questions(splits)
    forget_names = {s.subject_name for s in splits["forget"] if s.subject_name}
    other_names = {s.subject_name for s in world.samples if s.subject_name} - forget_names
    oracle = json.loads((args.run / "results.json").read_text(encoding="utf-8"))["linear_probe"].get("recovery_oracle")
    rows = {"target": recoveries(args.target, world, train, test, forget_names, other_names),
            "run": recoveries(args.run / "model", world, train, test, forget_names, other_names)}
    summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
               "setting": args.setting, "seed": args.seed, "run": str(args.run), "oracle_recovery": oracle, "n_test": len(test), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "name_embeddings_probe.json", summary)
    fmt = lambda values: " / ".join(f"{v:.2f}" for v in values) if values else "–"  # noqa: E731
    body = [[name, str(row["forget_only_tokens"]), fmt(row["recovery"]), fmt(row["recovery_names_reset"])] for name, row in rows.items()]
    body.append(["oracle (the run's)", "–", fmt(oracle), "–"])
    lines = ["# Probe recovery and the forget names' token embeddings", "",
             f"Written by `benchmarks/name_embeddings_probe.py` on {summary['date']}: {args.setting}, seed {args.seed}, {len(test)} probe questions; "
             f"run `{args.run}`. Recovery per decoder layer (0 first), as the model stands and with the embedding rows of the tokens only the "
             "forget names use set to the mean row of the other names' tokens.", "",
             markdown_table(["model", "forget-only name tokens", "probe recovery by layer", "with those rows reset"], body)]
    atomic_write_text(RESULTS / "name_embeddings_probe.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
