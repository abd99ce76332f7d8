"""Gone or hidden: the measures that compare a model with the retrained oracle, which never saw the forget set.

A model that refuses everything about a person scores perfect leakage while knowing every fact.
The gold standard of unlearning is a model retrained without the forget set (TOFU's forget quality
and MUSE's PrivLeak compare with one): here the **oracle** is the target's own recipe fine-tuned on
the world without that setting's and seed's forget set (:func:`asru.cache.cached_oracle`, built by
``asru oracle`` and by ``asru bench`` / ``asru demo``). Against it, per evaluation:

- ``forget_quality``: TOFU's truth ratios and their KS test (:mod:`asru.eval.forget_quality`);
- ``membership``: MIA AUCs of forget people vs never-trained holdout people, and MUSE's PrivLeak
  (:mod:`asru.eval.membership`);
- ``answer_ranking``: the true answer's likelihood ranked among wrong ones, given rather than generated;
- ``linear_probe``: a probe on the model's hidden states naming the forget people's facts (:mod:`asru.eval.probe`).

(The fourth attack that looks inside, ``prefill``, is a prompt attack: :mod:`asru.eval.attacks`.)
Each model's own numbers need only the model; the oracle's are computed once per (oracle, world,
forget set) and cached in ``cache_root()/oracle_measures/`` (keyed by the oracle, the world's content
hash and the questions'), so a benchmark's methods share them. The cache's own oracles are keyed by
their folder's name, their recipe's hash (as the target is known by its recipe): their measures,
once recorded (``asru bench`` keeps them with its tables), stand for the oracle on a machine where
its model is not built (:func:`resolve_oracle`); any other oracle folder by its files' content.
Without an oracle the sections still hold the model's own numbers, the comparisons are null and
``oracle.reason`` says why.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import nullcontext
from pathlib import Path

from asru.cache import cache_root, cached_oracle, is_cached_model, oracle_recipe, target_folder
from asru.config import load_json_file, validate_document
from asru.data.collate import Encoder
from asru.errors import AsruError, ConfigError, DataError
from asru.eval.attacks import Probe
from asru.eval.evaluate import fact_values, forget_questions
from asru.eval.forget_quality import WRONG_ANSWERS, forget_quality, ranked_first, truth_ratio, truth_ratio_score, wrong_answers
from asru.eval.knowledge import model_fingerprint
from asru.eval.likelihood import answer_likelihoods
from asru.eval.membership import MIN_K, PRIVLEAK_SCORE, SCORES, auc, membership_scores, privleak
from asru.eval.probe import probe_questions, probe_recovery
from asru.eval.settings import request_targets
from asru.io import atomic_write_json

ORACLE_ROW = "oracle"  # the row name of the oracle in asru bench / asru demo tables, its run's method
FORMAT = 1  # of the cached oracle measures: bump when a measure changes, old files are then ignored
MEASURES_DIR = "oracle_measures"
SECTIONS = ("forget_quality", "membership", "answer_ranking", "linear_probe")


def target_recipe(target_dir: str | Path, world):
    """The FinetuneConfig a target model folder was trained with (its ``finetune.json``), checked against ``world``."""
    from asru.train.finetune import FinetuneConfig

    path = Path(target_dir) / "finetune.json"
    data = load_json_file(path, ConfigError, "not found: the oracle retrains the target's recipe, which `asru finetune` records there")
    if not isinstance(data, dict) or "recipe" not in data:
        raise ConfigError(f"{path}: no 'recipe' (not written by `asru finetune`?)")
    if data.get("world_hash") != world.manifest.get("content_hash"):
        raise ConfigError(f"{path}: the target was fine-tuned on another world than {world.root} (content hash differs)")
    return validate_document(FinetuneConfig, data["recipe"], path, ConfigError)


def forget_set(world, requests) -> dict[str, set[int]]:
    """{subject id: fact ids} the requests name: what the oracle never trains."""
    return request_targets(world, requests)


def build_oracle(target_dir: str | Path, world_dir: str | Path, requests, console=None) -> Path:
    """The oracle of ``requests`` for the target in ``target_dir``: fine-tuned once (cached), then its folder."""
    from asru.world import load_world

    world = load_world(world_dir)
    return cached_oracle(Path(world_dir), target_recipe(target_dir, world), forget_set(world, requests), console)


def resolve_oracle(oracle: str | None, target_dir: str | Path | None, world, requests) -> tuple[Path | None, str | None]:
    """(the oracle's folder, None) or (None, why there is none).

    ``oracle``: ``"auto"`` — the cached oracle of the target's recipe for this forget set, if built
    (never trained here: ``asru oracle`` builds it); ``"none"``; or a model folder (an error if missing).
    """
    if oracle == "none":
        return None, "not asked for (oracle: none)"
    if oracle not in (None, "auto"):
        if not (Path(oracle) / "config.json").is_file():
            raise ConfigError(f"option --oracle: {oracle} is not a model folder (no config.json)")
        return Path(oracle), None
    if target_dir is None:
        return None, "no target model to retrain"
    try:
        recipe = target_recipe(target_dir, world)
    except AsruError as error:
        return None, str(error)
    facts = forget_set(world, requests)
    folder = cached_oracle(Path(world.root), recipe, facts, build=False)
    if folder is None:
        expected = target_folder(world.manifest["content_hash"], oracle_recipe(recipe, facts))
        if recorded_measures(expected, world):  # measured where it was built; its numbers are all a comparison needs
            return expected, None
        return None, f"the oracle of this forget set is not built yet (`asru oracle --model {target_dir} --world {world.root}` with the run's setting and seed or --requests)"
    return folder, None


def _questions(splits: dict) -> tuple[list, list, list, list]:
    """(forget qa questions, holdout qa questions, probe training probes, probe test probes)."""
    forget = forget_questions(splits)
    holdout = [s for s in splits.get("holdout", []) if s.form == "qa"]
    return forget, holdout, probe_questions(splits.get("retain_other", [])), probe_questions(forget)


def measure(model, processor, world, splits: dict, batch_size: int = 64, model_context=None) -> dict:
    """One model's own numbers on the forget set (JSON-able; what the oracle's cache file holds).

    ``model_context(model)`` wraps every forward pass (a steering method's hooks).
    """
    from asru.models.layers import num_language_layers

    encoder = Encoder(processor, world.root)
    forget, holdout, probe_train, probe_test = _questions(splits)
    values = fact_values(world)
    wrong = [wrong_answers(s, values) for s in forget]
    probes, answers = [], []
    for sample, others in zip(forget, wrong):
        probes += [Probe.of(sample)] * (1 + len(others))
        answers += [sample.answer, *others]
    probes += [Probe.of(s) for s in holdout]
    answers += [s.answer for s in holdout]
    context = model_context or nullcontext
    started = time.perf_counter()
    with context(model):
        likelihoods = iter(answer_likelihoods(model, encoder, probes, answers, batch_size))
        scored = time.perf_counter()
        try:
            layers = range(num_language_layers(model))
        except AsruError:  # an architecture without a known layer path: no probe, everything else
            layers = range(0)
        probe = probe_recovery(model, encoder, probe_train, probe_test, layers, batch_size)
    ratios, first, forget_scores = [], [], {name: [] for name in SCORES}
    for others in wrong:
        true, rest = next(likelihoods), [next(likelihoods) for _ in others]
        for name, value in membership_scores(true).items():
            forget_scores[name].append(value)
        if rest:
            ratios.append(truth_ratio(true, rest))
            first.append(ranked_first(true, rest))
    holdout_scores = {name: [] for name in SCORES}
    for _ in holdout:
        for name, value in membership_scores(next(likelihoods)).items():
            holdout_scores[name].append(value)
    candidates = [1 + len(others) for others in wrong if others]
    return {
        "format": FORMAT,
        "items": [s.id for s in forget],
        "truth_ratios": ratios,
        "ranked_first": first,
        "rank_chance": sum(1 / c for c in candidates) / len(candidates) if candidates else None,
        "forget_scores": forget_scores,
        "holdout_scores": holdout_scores,
        "probe": probe,
        # where the time went (answers scored: truth ratios, ranking and membership share one pass; the probes)
        "seconds": {"likelihoods": round(scored - started, 2), "probe": round(time.perf_counter() - scored, 2), "answers_scored": len(answers)},
    }


def _oracle_key(oracle_dir: Path) -> str:
    # the cache's oracles by their recipe's hash (their folder name): the key holds where the model is not built
    return oracle_dir.name if is_cached_model(oracle_dir) else model_fingerprint(oracle_dir)[:16]


def _measures_key(oracle_dir: Path, world, splits: dict) -> str:
    """The cache file of an oracle's measures: the oracle (:func:`_oracle_key`), the world's content, and the questions asked."""
    forget, holdout, probe_train, _ = _questions(splits)
    asked = json.dumps([[s.id for s in forget], [s.id for s in holdout], sorted({p.sample.id for p in probe_train}), WRONG_ANSWERS, MIN_K], sort_keys=True)
    return f"{_oracle_key(oracle_dir)}-{world.manifest['content_hash'][:16]}-{hashlib.sha256(asked.encode()).hexdigest()[:16]}"


def recorded_measures(oracle_dir: Path, world) -> list[Path]:
    """The measures files of a cache oracle on this world (any questions), whether or not its model is here."""
    if not is_cached_model(oracle_dir):
        return []
    return sorted((cache_root() / MEASURES_DIR).glob(f"{oracle_dir.name}-{world.manifest['content_hash'][:16]}-*.json"))


def oracle_measures(oracle_dir: Path, world, splits: dict, batch_size: int = 64, measured: dict | None = None) -> dict:
    """The oracle's own numbers on this forget set: from the cache, else measured (the oracle loaded;
    ``measured``: already measured on it, as when the oracle itself is evaluated) and cached. An
    unwritable cache only means measuring again next time.

    The file holds the build it measured (``oracle_build``, the weights' fingerprint): where the
    oracle's model is here and is another build (the recipe fine-tuned on another machine), the
    model here is measured and replaces it; where it is not here, the recorded build stands for it.
    """
    path = cache_root() / MEASURES_DIR / f"{_measures_key(oracle_dir, world, splits)}.json"
    here = (oracle_dir / "config.json").is_file()
    build = model_fingerprint(oracle_dir)[:16] if here else None
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(cached, dict) and cached.get("format") == FORMAT and (not here or cached.get("oracle_build") == build):
            return cached
    except (OSError, ValueError):
        pass
    measures = measured
    if measures is None:
        from asru.models.loading import load_vlm

        if not here:
            raise DataError(
                f"{path}: the oracle's measures on these questions are not recorded, and its model {oracle_dir} is not on this machine "
                "(`asru oracle` with the run's setting and seed builds it)"
            )
        model, processor = load_vlm(oracle_dir, device="auto")
        measures = measure(model, processor, world, splits, batch_size)
    measures = {**measures, "oracle_build": build}
    try:
        atomic_write_json(path, measures)
    except AsruError:
        pass
    return measures


def _max_gap(own: list, oracle: list | None) -> tuple[float | None, int | None]:
    """The largest (own − oracle) over layers, and its position."""
    pairs = [(a - b, index) for index, (a, b) in enumerate(zip(own, oracle or [])) if a is not None and b is not None]
    return max(pairs) if pairs else (None, None)


def compare(own: dict, oracle: dict | None) -> dict[str, dict]:
    """The results.json sections: the model's numbers next to the oracle's, and the comparisons (null without an oracle)."""
    if oracle is not None and oracle.get("items") != own["items"]:
        oracle = None  # asked other questions (cannot happen through oracle_measures' key; a hand-made cache file)
    ratios, oracle_ratios = own["truth_ratios"], (oracle or {}).get("truth_ratios", [])
    statistic, p_value = forget_quality(ratios, oracle_ratios) if oracle else (None, None)
    membership: dict = {"n_forget": len(own["items"]), "n_holdout": len(next(iter(own["holdout_scores"].values()), [])), "k": MIN_K}
    mean = lambda values: sum(values) / len(values) if values else None  # noqa: E731
    for name in SCORES:
        model_auc = auc(own["forget_scores"][name], own["holdout_scores"][name])
        oracle_auc = auc(oracle["forget_scores"][name], oracle["holdout_scores"][name]) if oracle else None
        membership[name] = {
            "auc": model_auc, "auc_oracle": oracle_auc, "privleak": privleak(model_auc, oracle_auc),
            # which way an AUC leans: the mean score (higher = less familiar) of the forget and the never-seen answers
            "forget_mean": mean(own["forget_scores"][name]), "holdout_mean": mean(own["holdout_scores"][name]),
            "forget_mean_oracle": mean(oracle["forget_scores"][name]) if oracle else None,
            "holdout_mean_oracle": mean(oracle["holdout_scores"][name]) if oracle else None,
        }
    membership["privleak"] = membership[PRIVLEAK_SCORE]["privleak"]
    share = lambda flags: sum(flags) / len(flags) if flags else None  # noqa: E731
    probe, oracle_probe = own["probe"], (oracle or {}).get("probe", {})
    gap, layer = _max_gap(probe["recovery"], oracle_probe.get("recovery"))
    return {
        "forget_quality": {
            "n": len(ratios), "wrong_answers": WRONG_ANSWERS,
            "truth_ratio": truth_ratio_score(ratios), "truth_ratio_oracle": truth_ratio_score(oracle_ratios) if oracle else None,
            "ks_statistic": statistic, "forget_quality": p_value,
            "truth_ratios": ratios, "truth_ratios_oracle": oracle_ratios if oracle else None,
        },
        "membership": membership,
        "answer_ranking": {
            "n": len(own["ranked_first"]), "rank1": share(own["ranked_first"]), "rank1_oracle": share(oracle["ranked_first"]) if oracle else None,
            "chance": own["rank_chance"],
        },
        "linear_probe": {
            "layers": probe["layers"], "recovery": probe["recovery"], "recovery_oracle": oracle_probe.get("recovery"),
            "chance": probe["chance"], "n_train": probe["n_train"], "n_test": probe["n_test"],
            "max_recovery": max((r for r in probe["recovery"] if r is not None), default=None),
            "gap": gap, "gap_layer": probe["layers"][layer] if layer is not None else None,
        },
    }


def against_oracle(
    model, processor, world, splits: dict, oracle: tuple[Path | None, str | None], model_context=None, batch_size: int = 64,
    evaluated_path: str | Path | None = None,
) -> dict:
    """Every section of :func:`compare` plus ``oracle`` ({"model", "reason"}) and ``timing`` (seconds).

    ``oracle``: what :func:`resolve_oracle` found (looked up before the slow part); ``evaluated_path``:
    the folder ``model`` was loaded from when it is evaluated as saved (no hooks), so that the oracle
    evaluated as itself is measured once.
    """
    oracle_dir, reason = oracle
    started = time.perf_counter()
    own = measure(model, processor, world, splits, batch_size, model_context)
    own_seconds = time.perf_counter() - started
    reference = None
    if oracle_dir is not None:
        itself = evaluated_path is not None and model_context is None and Path(evaluated_path).resolve() == oracle_dir.resolve()
        reference = oracle_measures(oracle_dir, world, splits, batch_size, measured=own if itself else None)
    return {
        "oracle": {"model": str(oracle_dir) if oracle_dir else None, "reason": reason},
        **compare(own, reference),
        "timing": {
            "knowledge_measures_seconds": round(own_seconds, 2), "knowledge_likelihoods_seconds": own["seconds"]["likelihoods"], "knowledge_probe_seconds": own["seconds"]["probe"],
            "oracle_measures_seconds": round(time.perf_counter() - started - own_seconds, 2),  # ~0 once cached
        },
    }
