"""The per-machine cache of built worlds and target models (``ASRU_CACHE``, default ~/.cache/asru).

Entries are keyed by a content hash of everything that determines them, built in a
``.partial`` folder (which keeps its checkpoints, so an interrupted build resumes) and renamed
into place when complete. A build holds a lock file next to its entry, so that two processes
asking for the same entry at once (two benches side by side) build it once: the second waits.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from asru.errors import WorkerOutcome, call_in_worker, sigterm_unwinds


@contextmanager
def building(folder: Path, done: str, console=None):
    """Hold ``folder``'s build lock; yields True when the entry still has to be built (its ``done`` file absent)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder.with_name(folder.name + ".lock")))
    try:
        lock.acquire(blocking=False)
    except Timeout:
        if console:
            console.print(f"waiting for another process building {folder}")
        lock.acquire()
    try:
        yield not (folder / done).is_file()
    finally:
        lock.release()


def cache_root() -> Path:
    return Path(os.environ.get("ASRU_CACHE") or Path.home() / ".cache" / "asru")


def cached_world(seed: int, subjects: int, console=None, **fields) -> Path:
    """Build (once) and return the embedded world for ``seed``, ``subjects`` and other WorldConfig ``fields``."""
    from asru.world import WorldConfig, build_world
    from asru.world.generate import GENERATOR_VERSION

    config = WorldConfig(seed=seed, subjects=subjects, **fields)
    # the generator's version is part of the key: a new asru that words or draws the world differently builds anew
    key = hashlib.sha256(f"{GENERATOR_VERSION}:{config.model_dump_json()}".encode()).hexdigest()[:16]
    folder = cache_root() / "worlds" / key
    if not (folder / "world.json").is_file():
        with building(folder, "world.json", console) as needed:
            if needed:
                if console:
                    console.print(f"building world ({subjects} people, seed {seed}) in {folder}")
                partial = folder.with_name(folder.name + ".partial")
                build_world(config, partial)
                partial.rename(folder)
    return folder


def target_folder(world_hash: str, recipe) -> Path:
    """Where the cache keeps the model ``recipe`` (a FinetuneConfig) trains on the world with this content hash."""
    from asru.train.finetune import target_cache_key

    return cache_root() / "targets" / target_cache_key(world_hash, recipe)


def is_cached_model(folder: Path) -> bool:
    """Whether ``folder`` is one of the cache's content-addressed models (a target or an oracle): its name is its recipe's hash."""
    return Path(folder).resolve().parent == (cache_root() / "targets").resolve()


def cached_target(world_dir: Path, recipe=None, console=None, kept_in: Path | None = None) -> Path:
    """Fine-tune (once) and return the target model for ``world_dir`` and ``recipe``.

    ``kept_in``: a folder of kept targets by cache name (``asru bench``'s ``OUT/target_models``): where it holds
    this recipe's, that copy is restored instead of fine-tuning. Why: the same recipe fine-tuned on another
    machine is another *build* (CPUs round differently: the 40-person target rebuilt on 2026-12-06 is build
    c50f53c9b7b3b75b, where every committed run had used 3a25e19f43429c71), and the tables compare rows on one
    build only, so a rebuilt target would leave every recorded run unusable.
    """
    import shutil

    from asru.train.finetune import FinetuneConfig, finetune
    from asru.world import load_world

    recipe = recipe or FinetuneConfig()
    world = load_world(world_dir)
    folder = target_folder(world.manifest["content_hash"], recipe)
    if not (folder / "finetune.json").is_file():
        with building(folder, "finetune.json", console) as needed:
            if needed:
                partial = folder.with_name(folder.name + ".partial")
                kept = kept_in / folder.name if kept_in is not None else None
                if kept is not None and (kept / "finetune.json").is_file():
                    if console:
                        console.print(f"restoring the target model from {kept} (the build the tables ran on) into {folder}")
                    shutil.rmtree(partial, ignore_errors=True)  # an interrupted fine-tune's checkpoint: the kept build replaces it
                    shutil.copytree(kept, partial)
                else:
                    if console:
                        console.print(f"fine-tuning the target model into {folder} (once per machine)")
                    finetune(world_dir, partial, recipe, console=console)
                partial.rename(folder)
    return folder


def oracle_recipe(recipe, excluded):
    """The retrained oracle's recipe: ``recipe`` (the target's FinetuneConfig) with the ``excluded``
    facts ({subject id: fact ids}, a forget set) never trained, on top of any the target already left out."""
    from asru.train.finetune import ExcludedFacts

    facts: dict[str, set[int]] = {}
    for entry in [*recipe.exclude, *(ExcludedFacts(subject_id=s, fact_ids=sorted(ids)) for s, ids in excluded.items())]:
        facts.setdefault(entry.subject_id, set()).update(entry.fact_ids)
    # one canonical order, so the same forget set always has the same cache key
    return recipe.model_copy(update={"exclude": [ExcludedFacts(subject_id=s, fact_ids=sorted(ids)) for s, ids in sorted(facts.items())]})


def cached_oracle(world_dir: Path, recipe, excluded, console=None, build: bool = True) -> Path | None:
    """The retrained oracle of a forget set: the target's ``recipe`` without the ``excluded`` facts,
    fine-tuned once per machine and cached by content hash like the target (:func:`cached_target`), so
    every method of a setting and seed shares it. ``build=False``: its folder if built, else None."""
    from asru.world import load_world

    oracle = oracle_recipe(recipe, excluded)
    world_hash = load_world(world_dir).manifest["content_hash"]
    folder = target_folder(world_hash, oracle)
    if (folder / "finetune.json").is_file():
        return folder
    covering = covering_oracle(world_hash, recipe, excluded)
    if covering is not None:
        return covering
    if not build:
        return None
    if console:
        people = len(excluded)
        console.print(f"fine-tuning the oracle: the target's recipe without the forget set ({sum(map(len, excluded.values()))} facts of {people} {'person' if people == 1 else 'people'})")
    return cached_target(world_dir, oracle, console)


def covering_oracle(world_hash: str, recipe, excluded) -> Path | None:
    """A built oracle of this world and recipe that never saw the ``excluded`` facts, nor a few more.

    One oracle trained without several forget sets at once (``asru demo``'s: its Complete and its
    Selective request) stands for each of them: what matters is that it never saw the facts
    measured. Of those built, the one that left out the fewest other facts; None if none.
    """
    from asru.train.finetune import FinetuneConfig

    wanted = {(entry.subject_id, fact) for entry in oracle_recipe(recipe, excluded).exclude for fact in entry.fact_ids}
    base = recipe.model_dump(mode="json", exclude={"exclude", "report_to"})
    best: tuple[int, Path] | None = None
    for summary in sorted((cache_root() / "targets").glob("*/finetune.json")):
        try:
            record = json.loads(summary.read_text(encoding="utf-8"))
            candidate = FinetuneConfig.model_validate(record["recipe"])
        except (OSError, ValueError, KeyError, TypeError):  # a damaged entry is skipped, not trusted
            continue
        if record.get("world_hash") != world_hash or candidate.model_dump(mode="json", exclude={"exclude", "report_to"}) != base:
            continue
        left_out = {(entry.subject_id, fact) for entry in candidate.exclude for fact in entry.fact_ids}
        if wanted <= left_out and (best is None or len(left_out) < best[0]):
            best = (len(left_out), summary.parent)
    return best[1] if best else None


def build_in_parallel(world_dir: Path, recipes: list, console=None, workers: int | None = None) -> list[Path]:
    """Fine-tune (once, cached) the models of ``recipes`` on ``world_dir`` side by side, one process each.

    The target and an oracle are independent fine-tunes: on 2 cores, two one-thread processes
    finish both in well under twice one's time. ``workers``: at most this many at a time (default:
    all at once), each with ``cores // workers`` torch threads. A rich bar follows the steps of
    each, read from the progress files the fine-tunes write.
    """
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    from asru.train.finetune import target_steps
    from asru.world import load_world

    world = load_world(world_dir)
    folders = [target_folder(world.manifest["content_hash"], recipe) for recipe in recipes]
    todo = [(recipe, folder) for recipe, folder in zip(recipes, folders) if not (folder / "finetune.json").is_file()]
    if len(todo) <= 1:
        return [cached_target(world_dir, recipe, console) for recipe in recipes]
    processes = min(workers or len(todo), len(todo))
    threads = max(1, (os.cpu_count() or 1) // processes)
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    from asru.ui import progress_bar

    pool = ProcessPoolExecutor(processes, mp_context=context)
    totals = [target_steps(world, recipe) for recipe, _ in todo]
    queue, running, done = list(range(len(todo))), {}, set()
    try:
        with sigterm_unwinds(), progress_bar(console, "fine-tuning") as bar:  # a SIGTERM here stops the workers too (stop_pool)
            tasks = [bar.add_task(f"fine-tune {folder.name}", total=total, loss=float("nan")) for (_, folder), total in zip(todo, totals)]
            while queue or running:
                top_up(queue, running, processes, lambda index: pool.submit(_fine_tune_in_worker, world_dir, todo[index][0], threads))
                for job, index in list(running.items()):
                    if job.done():
                        job.result().raise_if_interrupted()  # an error or a signal in one worker stops them all, now
                        done.add(running.pop(job))
                for index, (task, total, (_, folder)) in enumerate(zip(tasks, totals, todo)):
                    # a finished fine-tune has removed its progress file: its bar is full, at its final loss
                    step, loss = (total, _final_loss(folder)) if index in done else fine_tune_progress(folder.with_name(folder.name + ".partial"))
                    bar.update(task, completed=step, loss=loss)
                if running:
                    time.sleep(1.0)
    except BaseException as error:
        stop_pool(pool, error)
        raise
    pool.shutdown(wait=True)
    return folders


def top_up(queue: list, running: dict, workers: int, submit, ready=None) -> None:
    """Submit from the front of ``queue`` until ``workers`` jobs are in flight (``running``: future -> item).

    ``ready``: the first item it accepts is taken instead of the front (one waiting for another job stays queued).

    Why not submit everything at once: ProcessPoolExecutor moves submitted jobs into its call queue
    ahead of the workers, where ``cancel_futures`` cannot reach them, so after a stop a worker went
    on to the next queued fine-tune anyway (2026-12-04: a third oracle started after SIGTERM, and the
    parent waited for it).
    """
    while queue and len(running) < workers:
        index = next((i for i, item in enumerate(queue) if ready is None or ready(item)), None)
        if index is None:
            return
        item = queue.pop(index)
        running[submit(item)] = item


STOP_GRACE_SECONDS = 15.0  # a signalled worker finishes its step and checkpoints in well under this


def stop_pool(pool, error: BaseException) -> None:
    """Stop a pool of fine-tuning or run workers after ``error`` in the parent, without starting anything new.

    Nothing is queued (:func:`top_up`). Workers signalled with the parent (Ctrl-C, or a SIGTERM to the
    process group) finish the step in progress, checkpoint and return by themselves; a second signal
    would stop them at once and lose the steps since their last checkpoint, so they get a grace
    period first. Whatever still runs after it (the parent alone was signalled, or another worker
    failed) gets SIGTERM, which finishes the step in progress and checkpoints it (or, between steps,
    unwinds); what still runs a second grace period later is killed, and every worker is reaped before
    this returns: no worker outlives its pool.
    """
    import time

    processes = list((getattr(pool, "_processes", None) or {}).values())  # our own workers only (shutdown forgets them)
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS  # the terminated ones checkpoint their step, or unwind (asru.errors.sigterm_unwinds)
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=True)


def fine_tune_progress(partial: Path) -> tuple[int, float]:
    """(step, loss) a fine-tune in ``partial`` has reached (its progress file; 0 and nan before the first)."""
    from asru.train.finetune import PROGRESS_FILE

    try:
        record = json.loads((partial / PROGRESS_FILE).read_text(encoding="utf-8"))
        return int(record["step"]), float(record["loss"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, float("nan")


def _final_loss(folder: Path) -> float:
    try:
        return float(json.loads((folder / "finetune.json").read_text(encoding="utf-8"))["final_loss"])
    except (OSError, ValueError, KeyError, TypeError):
        return float("nan")


def _fine_tune_in_worker(world_dir: Path, recipe, threads: int) -> WorkerOutcome:
    """One fine-tune in a pool worker; a stop comes back as data (asru.errors.WorkerOutcome)."""
    import torch

    torch.set_num_threads(threads)
    return call_in_worker(cached_target, world_dir, recipe)
