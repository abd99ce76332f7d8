"""PPU-Bench (Guang et al. 2026) as a world folder: ``asru data import ppu-bench SRC --splits DIR --out DIR``.

PPU-Bench is fine-tuning-free: 500 real public figures the model already knows, up to 50
numbered facts each, and as training targets *each model's own* answers. The dataset
(``closerG/ppu-bench`` on the hub, ``closerG/ppu-bench-test`` a small review copy) is read one
config at a time with ``datasets.load_dataset`` (hub id, local snapshot, or one folder per
config); the forget sets are not in it but in the benchmark's code repository
(``guangjh/ppu-bench``, ``data/split/``), given with ``--splits``.

Checked against the benchmark's public code (``guangjh/ppu-bench`` at commit 8fa1225):

=============================================  ==============================================
``train_pair_{qwen3|gemma3}`` (required,       image ``qa`` samples, ``split: train``: ``sample_id``
chosen with ``--family``)                      (or ``id``), ``subject_id``, ``subject``,
                                               ``question``, ``generated_answer`` (the gold),
                                               the image as ``image`` ({bytes, path}) or
                                               ``image_path`` -- ``baselines/ppu_data.py``
``train_pair_{family}_qa``                     text ``qa`` samples, ``split: train``; a missing
                                               ``subject_id`` is found through the image pairs'
                                               ``sample_id`` or ``subject`` --
                                               ``baselines/MANU/ppu_prune_data.py``
``ppu_eval_generation`` / ``_cloze`` /         held-out ``qa`` / ``cloze`` / ``mcq`` samples
``_classification``                            (``split: test``): ``task_type``, ``modality``
                                               (``text`` | ``text_image``, or ``qa`` | ``vqa``),
                                               ``question``, ``answer_text``; classification
                                               ``option_a``..``option_d`` and ``answer_label``
                                               -- ``eval/eval_vllm.py``, ``eval/metric.py``
``cross_image_complete_r{5,15,30}``,           the same questions with other photos in
``cross_image_{selective,persona}``            ``image_002``, ``image_003``, ``image_004``:
                                               ``image_variants`` of the matching image
                                               questions; ``_r5/_r15/_r30`` belong to Complete
                                               5/15/30 -- ``eval/testset_data.py``
``paraphrase_{complete30,selective,persona}``  ``paraphrases`` of the matching ``qa`` questions
``random_prefix_*``,                           attacked prompts, kept in ``attacks/<name>.jsonl``
``jailbreak_style_prompt_*``                   ({target sample id, question, config})
``complete_split.json``                        ``forget5/10/15/30``: subject ids (strings, e.g.
                                               ``"009"``) -> ``requests/complete{N}.yaml``
                                               (``facts: all``)
``selective_split.json``                       a list of ``{subject_id, id}`` ->
                                               ``requests/selective.yaml``; these facts are the
                                               ``sensitive`` ones
``persona_split.json``                         ``{delete_ids, keep_ids}`` -> deletion requests
                                               ``requests/persona.yaml``; ``keep_ids`` kept in
                                               the manifest
=============================================  ==============================================

Sample ids are ``<Name>_<n>`` (``Stephen_King_25``); ``n`` (1-50) becomes the fact id, and a
world sample's id is ``<sample_id>-<modality>-<form>`` (``-test`` for held-out generation
questions). Every id a split file names must be a ``sample_id`` of a train pair or an
evaluation record, with the same ``subject_id``; a mismatch is a one-line ``DataError`` naming
the file, the key/entry and the id.

Still assumed (not visible in the code): that ``n`` numbers the same attribute for every person
(the split files agree: every Selective fact is one of 25-36), so facts are named ``fact_NN``;
that eval rows without a ``subject`` column belong to people named in the train pairs; that
cross-image and attack rows name the question they re-ask by ``sample_id`` + ``modality`` (+
``task_type``). ``unlearning_target`` (per person ``qas`` of ground truths, which
``data/generation`` turns into train pairs) is not read: the targets are the model's own answers.

Where asru differs from the benchmark's protocol: Personalized keeps every fact of a person that
the request does not delete (``retain_same_subject``, a superset of ``keep_ids``), and the
Selective and Personalized splits name every person, so those settings have no ``retain_other``.

One addition, so that ASRU has the refusal behaviour it steers: per person ``private_questions``
refusal-trained private questions ("What is X's home address?", split ``refusal``). There are no
utility questions (PPU-Bench measures utility on MMBench, outside this tool).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from asru.data.release import Release, WorldWriter, field
from asru.errors import DataError
from asru.io import atomic_write_text
from asru.world.generate import IMAGE_WHO, IMAGE_WHOSE, mcq_prompt
from asru.world.phrases import private_refusal
from asru.world.vocab import PRIVATE_QUESTIONS

FORMAT_NAME = "ppu-bench"
DEFAULT_FAMILY = "qwen3"
FACT_IDS = range(1, 51)
SAMPLE_ID = ("sample_id", "id")  # the release names the id column either way
SAMPLE_ID_FORM = re.compile(r"^(?P<name>.+)_(?P<number>\d+)$")
SPLIT_FILES = {"complete": "complete_split.json", "selective": "selective_split.json", "persona": "persona_split.json"}
COMPLETE_RATIOS = (5, 10, 15, 30)
EVAL_CONFIGS = {"ppu_eval_generation": "generation", "ppu_eval_cloze": "cloze", "ppu_eval_classification": "classification"}
FORM_OF_TASK = {"generation": "qa", "qa": "qa", "cloze": "cloze", "classification": "mcq", "class": "mcq"}
MODALITY_OF = {"text": "text", "qa": "text", "text_image": "image", "vqa": "image"}
CROSS_IMAGE_CONFIGS = {"complete5": "cross_image_complete_r5", "complete15": "cross_image_complete_r15", "complete30": "cross_image_complete_r30",
                       "selective": "cross_image_selective", "persona": "cross_image_persona"}
ADVERSARIAL_SETTINGS = ("complete30", "selective", "persona")  # the suffixes of the attack and paraphrase configs
ATTACKS = ("random_prefix", "jailbreak_style_prompt")
CROSS_IMAGE_COLUMN = re.compile(r"^image_\d{3}$")
SENSITIVE_SOURCE = "sensitive_info"
OPTION_COLUMNS = ("option_a", "option_b", "option_c", "option_d")
LETTERS = "ABCD"


class SplitEntry(BaseModel):
    """One sample of a split file: ``{"subject_id": "120", "id": "Stephen_King_25"}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    subject_id: str = Field(min_length=1)
    id: str | None = Field(None, min_length=1)
    sample_id: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_id(self) -> SplitEntry:
        if (self.id is None) == (self.sample_id is None):
            raise ValueError("needs an 'id' (or 'sample_id'), exactly one")
        return self

    @property
    def key(self) -> str:
        return self.id or self.sample_id or ""


class CompleteSplit(BaseModel):
    """``complete_split.json``: the people to forget entirely, per forget ratio (strings: ``"009"``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    forget5: list[str]
    forget10: list[str]
    forget15: list[str]
    forget30: list[str]


class PersonaSplit(BaseModel):
    """``persona_split.json``: per person the facts to delete and those the benchmark checks are kept."""

    model_config = ConfigDict(extra="forbid", strict=True)

    delete_ids: list[SplitEntry]
    keep_ids: list[SplitEntry]


@dataclass(frozen=True)
class Splits:
    """The three split files of the benchmark's code repository, validated."""

    complete: CompleteSplit
    selective: list[SplitEntry]
    persona: PersonaSplit
    paths: dict[str, Path]


def _describe(loc: tuple) -> str:
    """A pydantic error location as 'key 'forget5', entry 3, field 'id': '."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"entry {part}")
        else:
            parts.append(f"{'field' if parts else 'key'} {part!r}")
    return ", ".join(parts) + ": " if parts else ""


def _read_split(path: Path, schema: Any, shape: str) -> Any:
    """One split file parsed and validated; every problem is one line naming the file and key."""
    if not path.is_file():
        raise DataError(f"{path}: split file not found (give --splits DIR: ppu-bench's data/split folder with {', '.join(SPLIT_FILES.values())})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON ({error.msg}, line {error.lineno})") from None
    try:
        return TypeAdapter(schema).validate_python(data)
    except ValidationError as error:
        first = error.errors()[0]
        hint = f" (expected {shape})" if not first["loc"] else ""
        raise DataError(f"{path}: {_describe(first['loc'])}{first['msg']}{hint}") from None


def split_folder(source: str | Path, splits: str | Path | None) -> Path:
    """``--splits`` if given, else ``data/split`` or ``split`` inside a local source folder."""
    if splits is not None:
        folder = Path(splits)
        if not folder.is_dir():
            raise DataError(f"{folder}: split folder not found (give ppu-bench's data/split folder)")
        return folder
    for candidate in (Path(source) / "data" / "split", Path(source) / "split"):
        if candidate.is_dir():
            return candidate
    raise DataError(f"{source}: no split files beside the dataset (give --splits DIR: ppu-bench's data/split folder with {', '.join(SPLIT_FILES.values())})")


def read_splits(folder: Path) -> Splits:
    """The complete, selective and persona split files of ``folder``, under their public names."""
    paths = {name: folder / filename for name, filename in SPLIT_FILES.items()}
    complete = _read_split(paths["complete"], CompleteSplit, "an object with forget5, forget10, forget15, forget30: lists of subject ids")
    selective = _read_split(paths["selective"], list[SplitEntry], "a list of {subject_id, id}")
    persona = _read_split(paths["persona"], PersonaSplit, "an object with delete_ids and keep_ids: lists of {subject_id, id}")
    deleted = {entry.key for entry in persona.delete_ids}
    for index, entry in enumerate(persona.keep_ids):
        if entry.key in deleted:
            raise DataError(f"{paths['persona']}: key 'keep_ids', entry {index}: id {entry.key!r} is also in delete_ids")
    return Splits(complete, selective, persona, paths)


def _sample_id(row: dict, where: str) -> tuple[str, int]:
    """The release's id of a record (``<Name>_<n>``) and its fact number ``n``."""
    name = "sample_id" if row.get("sample_id") is not None else "id"
    value = row.get(name)
    if value is None:
        raise DataError(f"{where}: field 'sample_id' (or 'id') missing or null")
    text = str(value).strip()
    match = SAMPLE_ID_FORM.match(text)
    if match is None:
        raise DataError(f"{where}: field {name!r}: {value!r} is not of the form '<Name>_<n>'")
    number = int(match["number"])
    if number not in FACT_IDS:
        raise DataError(f"{where}: field {name!r}: fact number {number} of {text!r} is outside 1-50")
    return text, number


def _modality(row: dict, where: str) -> str:
    value = field(row, "modality", where)
    if value.lower() not in MODALITY_OF:
        raise DataError(f"{where}: field 'modality': {value!r} is not one of {sorted(MODALITY_OF)}")
    return MODALITY_OF[value.lower()]


def _form(row: dict, where: str) -> str | None:
    """The form a ``task_type`` asks in, or None when the config has no such column."""
    value = row.get("task_type")
    if value is None:
        return None
    text = str(value).strip().lower()
    if text not in FORM_OF_TASK:
        raise DataError(f"{where}: field 'task_type': {value!r} is not one of {sorted(set(FORM_OF_TASK) - {'qa', 'class'})}")
    return FORM_OF_TASK[text]


def _text(row: dict, name: str, where: str) -> str:
    """A text cell; numbers (a year as an option) are read as their text."""
    value = field(row, name, where, (str, int, float))
    return value if isinstance(value, str) else str(value)


class _Importer:
    def __init__(self, release: Release, out_dir: Path, family: str, splits: Splits, private_questions: int):
        self.release = release
        self.writer = WorldWriter(release, out_dir)
        self.family = family
        self.splits = splits
        self.private_questions = private_questions
        self.sensitive = {entry.key for entry in splits.selective}
        self.rows: dict[str, int] = {}
        self.unmatched: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.owner: dict[str, str] = {}  # release sample id -> subject id
        self.origin: dict[str, str] = {}  # release sample id -> the config it was first seen in
        self.by_name: dict[str, str] = {}  # subject name -> subject id
        self.by_key: dict[tuple[str, str, str], list[dict]] = {}  # (release id, modality, form) -> samples
        self.source_disagrees = 0  # eval rows marked sensitive_info whose id is not in selective_split.json

    @property
    def record_configs(self) -> str:
        """The configs whose records define the sample ids (train pairs and evaluation tables), as read."""
        return ", ".join(c for c in self.rows if c.startswith(("train_pair_", "ppu_eval_")))

    def _rows(self, config: str, fields, required: bool = False) -> list[tuple[str, dict]]:
        rows = list(self.release.rows(config, fields, required))
        if rows or required:
            self.rows[config] = len(rows)
        return rows

    def _subject(self, row: dict, where: str, release_id: str, config: str, named: bool = False) -> tuple[str, str]:
        """(subject id, name) of a record; a missing ``subject_id`` is found by sample id, then by name.

        ``named``: the record must carry its ``subject`` (train pairs do); evaluation rows may not.
        """
        value = row.get("subject_id")
        name = field(row, "subject", where) if named else row.get("subject")
        name = name.strip() if isinstance(name, str) and name.strip() else None
        if value is None or (isinstance(value, str) and not value.strip()):
            subject_id = self.owner.get(release_id) or (self.by_name.get(name) if name else None)
            if subject_id is None:
                raise DataError(f"{where}: field 'subject_id' missing, and sample {release_id!r} is in no train_pair_{self.family} record")
        elif isinstance(value, bool) or not isinstance(value, (str, int)):
            raise DataError(f"{where}: field 'subject_id': expected an id, got {type(value).__name__}")
        else:
            subject_id = str(value).strip()
        known = self.owner.get(release_id)
        if known is not None and known != subject_id:
            raise DataError(f"{where}: field 'subject_id': {subject_id!r}, but sample {release_id!r} belongs to subject {known!r} in {self.origin[release_id]}")
        if name is None:
            if subject_id not in self.writer.subjects:
                raise DataError(f"{where}: field 'subject' missing or null, and subject {subject_id!r} is in no train_pair_{self.family} record")
            name = self.writer.subjects[subject_id]["name"]
        self.owner.setdefault(release_id, subject_id)
        self.origin.setdefault(release_id, config)
        self.by_name.setdefault(name, subject_id)
        self.writer.subject(subject_id, name)
        return subject_id, name

    def _image(self, row: dict, config: str, where: str) -> str:
        """The record's photo: the ``image`` cell ({bytes, path} or bytes), else ``image_bytes``, else ``image_path``."""
        for name in ("image", "image_bytes", "image_path"):
            path = self.writer.image(row.get(name), config, where, name)
            if path:
                return path
        raise DataError(f"{where}: field 'image' (or 'image_path') missing or null")

    def _add(self, where: str, release_id: str, number: int, subject: tuple[str, str], modality: str, form: str, split: str,
             question: str, answer: str, options: list[str] | None = None, image: str | None = None, suffix: str = "") -> dict:
        subject_id, name = subject
        sensitive = release_id in self.sensitive
        fact = f"fact_{number:02d}"
        options = options or []
        self.writer.fact(subject_id, number, fact, options[LETTERS.index(answer)] if form == "mcq" else answer, sensitive)
        record = self.writer.sample(
            f"{release_id}-{modality}-{form}{suffix}", where, subject_id=subject_id, subject_name=name, kind="fact", fact=fact,
            fact_id=number, sensitive=sensitive, modality=modality, form=form, question=question, answer=answer, options=options,
            image=image, split=split,
        )
        self.by_key.setdefault((release_id, modality, form), []).append(record)
        return record

    def train_pairs(self) -> None:
        """The family's image pairs (required) and text pairs: what unlearning trains on."""
        image_config, text_config = f"train_pair_{self.family}", f"train_pair_{self.family}_qa"
        if not self.release.has(image_config):
            families = sorted(c.removeprefix("train_pair_") for c in self.release.configs_matching("train_pair_") if not c.endswith("_qa"))
            raise DataError(f"{self.release.source}: config {image_config!r} missing (--family {self.family}; families found: {', '.join(families) or 'none'})")
        image_rows = self._rows(image_config, (SAMPLE_ID, "subject_id", "subject", "question", "generated_answer", ("image", "image_path")), required=True)
        identified = []
        for where, row in image_rows:  # first, so that text pairs without subject_id find their person
            release_id, number = _sample_id(row, where)
            identified.append((where, row, release_id, number, self._subject(row, where, release_id, image_config, named=True)))
        # text pairs before image pairs: a fact's value (the judge's distractors) is the answer to its text question
        for where, row in self._rows(text_config, (SAMPLE_ID, "subject", "question", "generated_answer")):
            release_id, number = _sample_id(row, where)
            subject = self._subject(row, where, release_id, text_config, named=True)
            self._add(where, release_id, number, subject, "text", "qa", "train", field(row, "question", where), _text(row, "generated_answer", where))
        for where, row, release_id, number, subject in identified:
            image = self._image(row, image_config, where)
            self._add(where, release_id, number, subject, "image", "qa", "train", field(row, "question", where), _text(row, "generated_answer", where), image=image)

    def eval_tables(self) -> None:
        """Held-out generation, cloze and classification questions (evaluated, never trained on)."""
        for config, task in EVAL_CONFIGS.items():
            form = FORM_OF_TASK[task]
            answers = (*OPTION_COLUMNS, "answer_label") if form == "mcq" else ("answer_text",)
            for where, row in self._rows(config, (SAMPLE_ID, "subject_id", "task_type", "modality", "question", *answers)):
                if _form(row, where) != form:  # a table holding other tasks' rows too: only this one's
                    self.skipped[config] = self.skipped.get(config, 0) + 1
                    continue
                release_id, number = _sample_id(row, where)
                subject = self._subject(row, where, release_id, config)
                modality = _modality(row, where)
                image = self._image(row, config, where) if modality == "image" else None
                question = field(row, "question", where)
                options: list[str] = []
                if form == "mcq":
                    options = [_text(row, column, where) for column in OPTION_COLUMNS]
                    answer = field(row, "answer_label", where).upper()
                    if answer not in LETTERS:
                        raise DataError(f"{where}: field 'answer_label': {answer!r} is not one of A, B, C, D")
                    question = mcq_prompt(question, options)
                else:
                    answer = _text(row, "answer_text", where)
                self._add(where, release_id, number, subject, modality, form, "test", question, answer, options, image, "-test" if form == "qa" else "")
                self.source_disagrees += row.get("source_from") == SENSITIVE_SOURCE and release_id not in self.sensitive

    def _targets(self, row: dict, where: str, modality: str, forms: tuple[str, ...]) -> list[dict]:
        """The samples a cross-image or attack row re-asks: same id and modality, its task's form; trained ones first."""
        release_id, _ = _sample_id(row, where)
        form = _form(row, where)
        found = [r for f in ((form,) if form else forms) for r in self.by_key.get((release_id, modality, f), [])]
        return sorted(found, key=lambda r: r["split"] != "train")

    def cross_images(self) -> dict[str, str]:
        """Other photos of the person (``image_002``...) as ``image_variants``; returns setting -> config read."""
        read = {}
        for setting, config in CROSS_IMAGE_CONFIGS.items():
            rows = self._rows(config, (SAMPLE_ID, "modality"))
            if not rows:
                continue
            columns = sorted(c for c in rows[0][1] if CROSS_IMAGE_COLUMN.match(c))
            if not columns:
                raise DataError(f"{self.release.where(config)}: field 'image_002' missing (the other photos: image_002, image_003, image_004; columns: {', '.join(rows[0][1])})")
            for where, row in rows:
                if _modality(row, where) != "image":
                    continue
                targets = self._targets(row, where, "image", ("qa", "cloze", "mcq"))
                variants = [p for c in columns if (p := self.writer.image(row.get(c), config, where, c))]
                for record in targets:
                    record["image_variants"].extend(variants)
                self.unmatched[config] = self.unmatched.get(config, 0) + (not targets)
            read[setting] = config
        return read

    def adversarial(self) -> tuple[dict[str, list[dict]], dict[str, list[str]]]:
        """Paraphrases attached to their questions; attacked prompts per attack; the configs read per setting."""
        prompts: dict[str, list[dict]] = {}
        read: dict[str, list[str]] = {}
        for kind in (*ATTACKS, "paraphrase"):
            for setting in ADVERSARIAL_SETTINGS:
                config = f"{kind}_{setting}"
                rows = self._rows(config, (SAMPLE_ID, "modality", "question"))
                for where, row in rows:
                    question = field(row, "question", where)
                    targets = self._targets(row, where, _modality(row, where), ("qa",))
                    if targets and kind == "paraphrase":
                        for record in targets:
                            record["paraphrases"].append(question)
                    elif targets:
                        prompts.setdefault(kind, []).append({"target": targets[0]["id"], "question": question, "config": config})
                    self.unmatched[config] = self.unmatched.get(config, 0) + (not targets)
                if rows:
                    read.setdefault(setting, []).append(config)
        return prompts, read

    def _facts_by_subject(self, path: Path, key: str, entries: list[SplitEntry]) -> dict[str, list[int]]:
        """subject id -> fact numbers of a split file's entries, each checked against the records."""
        facts: dict[str, set[int]] = {}
        for index, entry in enumerate(entries):
            at = f"{path}: {key}entry {index}"
            owner = self.owner.get(entry.key)
            if owner is None:
                raise DataError(f"{at}: id {entry.key!r}: no record has this sample_id (read: {self.record_configs})")
            if owner != entry.subject_id:
                raise DataError(f"{at}: id {entry.key!r}: subject_id {entry.subject_id!r}, but the records give {owner!r} ({self.origin[entry.key]})")
            facts.setdefault(owner, set()).add(_sample_id({"sample_id": entry.key}, at)[1])
        return {subject: sorted(numbers) for subject, numbers in facts.items()}

    def _write_requests(self, name: str, requests: list[dict]) -> str:
        path = f"requests/{name}.yaml"
        atomic_write_text(self.writer.out_dir / path, yaml.safe_dump(requests, sort_keys=False, allow_unicode=True))
        return path

    def requests(self, cross_images: dict[str, str], adversarial: dict[str, list[str]]) -> dict[str, dict]:
        """The deletion requests of every setting, from the split files; returns the manifest's ``settings``."""
        splits, settings = self.splits, {}
        for ratio in COMPLETE_RATIOS:
            key = f"forget{ratio}"
            subjects = list(dict.fromkeys(getattr(splits.complete, key)))
            for index, subject in enumerate(getattr(splits.complete, key)):
                if subject not in self.writer.subjects:
                    raise DataError(f"{splits.paths['complete']}: key {key!r}, entry {index}: subject id {subject!r} is in no record (read: {self.record_configs})")
            name = f"complete{ratio}"
            path = self._write_requests(name, [{"subject": s, "facts": "all"} for s in subjects])
            settings[name] = {"setting": "complete", "requests": path, "subjects": len(subjects), "split": f"{SPLIT_FILES['complete']}:{key}"}
        selective = self._facts_by_subject(splits.paths["selective"], "", splits.selective)
        path = self._write_requests("selective", [{"subject": s, "facts": f} for s, f in selective.items()])
        settings["selective"] = {"setting": "selective", "requests": path, "subjects": len(selective), "split": SPLIT_FILES["selective"]}
        deleted = self._facts_by_subject(splits.paths["persona"], "key 'delete_ids', ", splits.persona.delete_ids)
        kept = self._facts_by_subject(splits.paths["persona"], "key 'keep_ids', ", splits.persona.keep_ids)
        path = self._write_requests("persona", [{"subject": s, "facts": f} for s, f in deleted.items()])
        settings["persona"] = {"setting": "personalized", "requests": path, "subjects": len(deleted), "split": f"{SPLIT_FILES['persona']}:delete_ids", "keep_ids": kept}
        for name, setting in settings.items():
            if name in cross_images:
                setting["cross_image"] = cross_images[name]
            if adversarial.get(name):
                setting["adversarial"] = adversarial[name]
        return settings

    def add_private_questions(self) -> None:
        """Refusal-trained private questions per subject (text, then image when the subject has one)."""
        for index, (sid, subject) in enumerate(self.writer.subjects.items()):
            name = subject["name"]
            for j in range(self.private_questions):
                image = subject["images"][0] if j % 2 == 1 and subject["images"] else None
                modality = "image" if image else "text"
                slots = {"who": IMAGE_WHO, "whose": IMAGE_WHOSE} if image else {"who": name, "whose": f"{name}'s"}
                wordings = [q.format(**slots) for q in PRIVATE_QUESTIONS[(index + j) % len(PRIVATE_QUESTIONS)]]
                self.writer.sample(
                    f"{sid}-private{j}-{modality}-qa", "private questions", subject_id=sid, subject_name=name, kind="refusal",
                    fact="private", sensitive=True, modality=modality, question=wordings[0], paraphrases=wordings[1:],
                    answer=private_refusal(index + j, slots["whose"], index), image=image,
                )


def import_ppu_bench(
    source: str | Path,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    *,
    splits: str | Path | None = None,
    family: str = DEFAULT_FAMILY,
    private_questions: int = 2,
):
    """Convert a PPU-Bench release (local folder or hub id) and its split files into a world folder; returns the World."""
    if private_questions < 0:
        raise DataError("private_questions must be >= 0")
    if not re.fullmatch(r"[A-Za-z0-9]+", family or ""):
        raise DataError(f"--family {family!r}: expected a model family such as qwen3 or gemma3 (train_pair_<family>)")
    release = Release(source, cache_dir)
    folder = split_folder(source, splits)
    importer = _Importer(release, Path(out_dir), family, read_splits(folder), private_questions)
    importer.train_pairs()
    importer.eval_tables()
    cross_images = importer.cross_images()
    prompts, adversarial = importer.adversarial()
    settings = importer.requests(cross_images, adversarial)
    importer.add_private_questions()
    world = importer.writer.write({
        "source_format": FORMAT_NAME, "family": family, "splits": str(folder), "configs": importer.rows,
        "unmatched": {k: v for k, v in importer.unmatched.items() if v}, "skipped": importer.skipped,
        "source_from_not_in_selective_split": importer.source_disagrees, "settings": settings,
        "attacks": {name: f"attacks/{name}.jsonl" for name in prompts},
    })
    for name, records in prompts.items():
        atomic_write_text(Path(out_dir) / "attacks" / f"{name}.jsonl", "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records))
    return world
