"""What the target model knew, probe by probe: the denominators of the knowledge-conditioned metrics.

A method can only forget what the target (the model the run started from) knew, in the form it is
asked: a target that fails a cloze, an MCQ or a jailbreak-wrapped question gives every method free
"forgetting" on it, and caps every retain rate below 1. So each probe (one sample asked with one
wording, one image, one earlier conversation) gets one bit, *did the target answer it correctly*,
scored as :func:`asru.eval.target.score` scores it, and :func:`asru.eval.metrics.aggregate` reports
every rate also over the probes whose bit is set (``leakage_known``, ``n_known``, ...).

The bits are computed once per (model, world) and cached in ``cache_root()/knowledge/`` (env
``ASRU_CACHE``), one JSON file per model content hash and world content hash, with the target's
answer beside each bit (the "before" of a report's example answers)::

    {"format": 1, "model": "<sha256 of the model folder's files>", "world": "<world content hash>",
     "known": {"<sample id>:<hash of wording, image, context>": true, ...},
     "answers": {"<same key>": "Lisbon.", ...}}

Keyed by content, not by path, so a moved, copied or read-only model folder finds its bits and a
retrained model or a rebuilt world does not find stale ones. Probes the file lacks (or lacks the answer of: a file
written before the answers were kept) are answered by
the target (loaded on first need, or the evaluated model's own answers when it is the target) and
merged in under a file lock, so runs in parallel processes add to it without losing each other's
bits. The cache is only a saving: an unreadable or unwritable file means the bits are recomputed,
never that a number changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Iterator, Sequence

from asru.cache import cache_root
from asru.data.collate import Encoder
from asru.errors import AsruError
from asru.eval.attacks import Probe
from asru.eval.evaluate import answer_probes
from asru.eval.target import score
from asru.io import atomic_write_json

FORMAT = 1  # bump when the scoring, the generation or the key changes: old files are then ignored
KNOWLEDGE_DIR = "knowledge"

_FINGERPRINTS: dict[tuple, str] = {}  # model folder stat -> content hash, so one process hashes a folder once


def probe_key(probe: Probe) -> str:
    """The probe's identity: its sample and exactly how it is asked (wording, image, earlier turns, prefill).

    Two probes of one sample that differ in any of those (an attack's rewrite, a held-out photo) get
    different keys, so each attacked probe has its own bit.
    """
    # a prefill is part of how it is asked (listed only when set, so the other probes keep their keys)
    asked = json.dumps([probe.question, probe.image, list(probe.context)] + ([probe.prefill] if probe.prefill else []), ensure_ascii=False, sort_keys=True)
    return f"{probe.sample.id}:{hashlib.sha256(asked.encode()).hexdigest()[:16]}"


def model_fingerprint(model_path: str | Path) -> str:
    """sha256 over a model folder's files (weights, configs, tokenizer), or of the name for a hub id.

    Content, not path: a moved or copied folder keeps its fingerprint, retrained weights change it.
    Hidden files (half-written temporaries) are skipped; the result is memoised per process while
    the files' sizes and modification times stay the same.
    """
    path = Path(model_path)
    if not path.is_dir():
        return hashlib.sha256(f"hub:{model_path}".encode()).hexdigest()
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    stat = (str(path.resolve()), tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if stat not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for file in files:
            digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _FINGERPRINTS[stat] = digest.hexdigest()
    return _FINGERPRINTS[stat]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the ``.lock`` file of ``path``'s folder (held for milliseconds; no lock where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: two writers may drop each other's new bits, which are recomputed later
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TargetKnowledge:
    """The target's bit and answer for every probe asked so far, read from and added to the cache file.

    ``model`` / ``processor``: the target already in memory (``asru eval`` of the target itself);
    otherwise it is loaded from ``model_path`` the first time a probe's bit is missing.
    """

    def __init__(self, model_path: str | Path, world, model=None, processor=None, batch_size: int = 64):
        self.model_path = model_path
        self.world = world
        self.model = model
        self.processor = processor
        self.batch_size = batch_size
        self.model_hash = model_fingerprint(model_path)
        self.world_hash = world.manifest["content_hash"]
        self.path = cache_root() / KNOWLEDGE_DIR / f"{self.model_hash[:16]}-{self.world_hash[:16]}.json"
        self.known, self.said = self._read()
        self.asked = 0  # probes the target answered for this object (0 when the cache had them all)

    def _read(self) -> tuple[dict[str, bool], dict[str, str]]:
        """The cached bits and answers, or none when the file is missing, unreadable or for another model / world / format."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}, {}
        if not isinstance(data, dict) or (data.get("format"), data.get("model"), data.get("world")) != (FORMAT, self.model_hash, self.world_hash):
            return {}, {}
        known, said = data.get("known"), data.get("answers")
        if not isinstance(known, dict):
            return {}, {}
        said = said if isinstance(said, dict) else {}
        return (
            {key: value for key, value in known.items() if isinstance(key, str) and isinstance(value, bool)},
            {key: value for key, value in said.items() if isinstance(key, str) and isinstance(value, str)},
        )

    def _save(self) -> None:
        """Merge the bits and answers into the file (another process may have added some since it was read)."""
        try:
            with _locked(self.path):
                known, said = self._read()
                self.known, self.said = {**known, **self.known}, {**said, **self.said}
                atomic_write_json(self.path, {"format": FORMAT, "model": self.model_hash, "world": self.world_hash, "known": self.known, "answers": self.said})
        except (AsruError, OSError):
            pass  # a read-only cache: the bits stay in memory for this evaluation

    def _target(self):
        if self.model is None:
            from asru.models.loading import load_vlm

            self.model, self.processor = load_vlm(self.model_path, device="auto")
        return self.model

    def lookup(self, probes: Sequence[Probe], answers: Sequence[str] | None = None) -> list[bool]:
        """Whether the target answered each probe correctly; bits (or answers) not cached yet are computed and saved.

        ``answers``: the target's own answers to ``probes`` (the evaluated model is the target, no
        hooks on). They set every bit, cached or not, so the target's own conditioned leakage is 1.
        """
        keys = [probe_key(p) for p in probes]
        if answers is not None:
            pairs = list(zip(keys, probes, answers))
        else:
            missing: dict[str, int] = {}  # each missing key once (a list may ask one probe twice)
            for index, key in enumerate(keys):
                if key not in self.known or key not in self.said:
                    missing.setdefault(key, index)
            asked = [probes[i] for i in missing.values()]
            answered = answer_probes(self._target(), Encoder(self.processor, self.world.root), asked, self.batch_size) if asked else []
            self.asked += len(asked)
            pairs = list(zip(missing, asked, answered))
        fresh = {key: (bool(score(probe.sample, answer)), answer) for key, probe, answer in pairs}
        if any((self.known.get(key), self.said.get(key)) != value for key, value in fresh.items()):
            for key, (bit, answer) in fresh.items():
                self.known[key], self.said[key] = bit, answer
            self._save()
        return [self.known[key] for key in keys]

    def answers(self, probes: Sequence[Probe]) -> list[str]:
        """The target's answers to ``probes``, already looked up (:meth:`lookup`): what a report shows as "before"."""
        return [self.said[probe_key(p)] for p in probes]
