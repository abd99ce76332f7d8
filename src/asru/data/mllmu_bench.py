"""MLLMU-Bench (Liu et al. 2024) as a world folder: ``asru data import mllmu-bench SRC --out DIR``.

MLLMU-Bench has 500 fictitious profiles (a portrait each) and 153 real celebrities. Its Hugging
Face release (``MLLMMU/MLLMU-Bench``) has one parquet config per part, read here with
``datasets.load_dataset`` (hub id, or a local snapshot / one folder per config).

Checked against the benchmark's public code (``franciscoliu/MLLMU-Bench`` at commit 0e3098e):

=============================  ==============================================================
``Full_Set`` (required)        the 500 profiles: ``ID``, ``image`` ({``bytes``}) and the
                               evaluation tasks ``Classification_Task``
                               ({``Image_Textual_Questions``, ``Pure_Text_Questions``}: lists of
                               {``Question``, ``Options`` {A..D}, ``Correct_Answer``}),
                               ``Mask_Task`` and ``Generation_Task`` (lists of {``Question``,
                               ``Ground_Truth``, ``Type``: ``Image_Textual`` | ``Pure_Text``})
                               -- ``eval.py`` (evaluate_classification, _fill_in_the_blank,
                               _generation)
``ft_Data``                    the fine-tuning QA pairs: ``image`` ({``bytes``}) and
                               ``metadata``, a JSON string: a list of {``Question``,
                               ``Answer``} -- ``finetune.py``, ``data_process/data_preprocess.py``
``Test_Set``                   a folder of one or more parquet files: the same tasks reworded,
                               with ``images`` (a list of {``bytes``}: other portraits), matched
                               by ``ID`` -- ``eval.py`` (``mode == "test"``)
``Retain_Set``                 the 153 celebrities, same columns as ``Full_Set`` -- ``eval.py``
                               (``--celebrity_data``)
``forget_<N>``, ``retain_<M>``  the profiles to forget by ``ID`` (same columns as ``Full_Set``)
                               and the rest, ``M = 100 - N`` -- ``eval.py`` reads
                               ``forget_{r}`` / ``retain_{100 - r}``; every ``forget_<N>``
                               config found is read
=============================  ==============================================================

Mapping: ft_Data pairs are image ``qa`` samples with ``split: train`` (what unlearning trains on,
as in the authors' code); Generation -> ``qa``, Mask (fill-in-the-blank) -> ``cloze``,
Classification -> ``mcq`` samples with ``split: test`` (evaluated, never trained on). Test_Set
rewordings become the ``paraphrases`` of the task item at the same position (``test_*`` splits,
the paraphrase attack) and its ``images`` the ``image_variants`` of the profile's image
questions (the cross-image attack). Celebrities are subjects ``celebrity_<ID>`` with ``split:
celebrity``: always retained, never trained on. Every question is its own numbered fact of the
profile (MLLMU-Bench has no shared fact list and no sensitive facts), so the benchmark is the
Complete setting: ``asru unlearn --world DIR --setting complete --requests
DIR/requests/forget_5.yaml``. A ``retain_<100-N>`` config, when present, must not name a
profile of ``forget_<N>``.

Still assumed (not visible in the code): how an ft_Data row finds its profile -- the code never
joins them. By an ``ID`` column when there is one, else by the ``ID`` its metadata entries carry
(``baselines/GA.py`` writes the profile's ID into each entry of its JSON profiles), else by
portrait bytes identical to the profile's ``image``; a row none of these match is an error. A
``name``/``Name`` column names a profile; otherwise its ID does (the profiles carry names only
inside the question texts). The hub's forget ratios are 5, 10 and 15 by the dataset card, not
by the code.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from asru.data.release import Release, WorldWriter, field
from asru.errors import DataError
from asru.io import atomic_write_text
from asru.world.generate import mcq_prompt

FORMAT_NAME = "mllmu-bench"
PROFILE_FIELDS = ("ID", "image", "Classification_Task", "Mask_Task", "Generation_Task")
FORGET_CONFIG = re.compile(r"^forget_(\d+)$")
TYPES = {"Image_Textual": "image", "Pure_Text": "text"}


def _list(value, where: str, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"{where}: field {name!r}: expected a list, got {type(value).__name__}")
    return value


def _item(item, where: str, name: str) -> dict:
    if not isinstance(item, dict):
        raise DataError(f"{where}: field {name!r}: expected an object, got {type(item).__name__}")
    return item


class _Importer:
    def __init__(self, release: Release, out_dir: Path):
        self.release = release
        self.writer = WorldWriter(release, out_dir)
        self.rows: dict[str, int] = {}
        self.next_fact: dict[str, int] = {}
        self.task_records: dict[tuple[str, str], list[dict]] = {}  # (subject, task key) -> records in item order
        self.image_of: dict[str, str] = {}  # subject -> its portrait path
        self.by_image: dict[str, str] = {}  # sha256 of portrait bytes -> subject

    def _rows(self, config: str, fields, required: bool = False):
        rows = list(self.release.rows(config, fields, required))
        if rows or required:
            self.rows[config] = len(rows)
        return rows

    def _add(self, sid: str, where: str, key: str, question: str, answer: str, modality: str, form: str, split: str, options=None, value=None) -> dict:
        fid = self.next_fact[sid] = self.next_fact.get(sid, 0) + 1
        subject = self.writer.subjects[sid]
        fact = f"{key}_{fid}"
        self.writer.fact(sid, fid, fact, value or answer, False)
        record = self.writer.sample(
            f"{sid}-{key}{fid}-{modality}-{form}", where, subject_id=sid, subject_name=subject["name"], kind="fact", fact=fact,
            fact_id=fid, modality=modality, form=form, question=question, answer=answer, options=options or [],
            image=self.image_of[sid] if modality == "image" else None, split=split,
        )
        self.task_records.setdefault((sid, key), []).append(record)
        return record

    def _tasks(self, row: dict, where: str) -> list[tuple[str, str, str, str, str, list[str], str]]:
        """(task key, question, answer, modality, form, options, value) for every task item of a profile row."""
        items = []
        for task, key, form in (("Generation_Task", "gen", "qa"), ("Mask_Task", "mask", "cloze")):
            for i, raw in enumerate(_list(row.get(task), where, task)):
                item = _item(raw, where, f"{task}.{i}")
                kind = field(item, "Type", f"{where}: {task}.{i}")
                if kind not in TYPES:
                    raise DataError(f"{where}: field '{task}.{i}.Type': {kind!r} is not one of {sorted(TYPES)}")
                answer = field(item, "Ground_Truth", f"{where}: {task}.{i}")
                items.append((key, field(item, "Question", f"{where}: {task}.{i}"), answer, TYPES[kind], form, [], answer))
        classification = _item(row.get("Classification_Task") or {}, where, "Classification_Task")
        for group, modality in (("Image_Textual_Questions", "image"), ("Pure_Text_Questions", "text")):
            for i, raw in enumerate(_list(classification.get(group), where, f"Classification_Task.{group}")):
                at = f"{where}: Classification_Task.{group}.{i}"
                item = _item(raw, where, f"Classification_Task.{group}.{i}")
                options_map = field(item, "Options", at, dict)
                letters = sorted(k for k, v in options_map.items() if v is not None)
                options = [str(options_map[k]) for k in letters]
                correct = field(item, "Correct_Answer", at).upper()
                if correct not in letters:
                    raise DataError(f"{at}: field 'Correct_Answer': {correct!r} is not one of the options {letters}")
                if letters != list("ABCDEFGHIJ"[: len(letters)]):
                    raise DataError(f"{at}: field 'Options': letters {letters} are not A, B, C, ...")
                question = field(item, "Question", at)
                items.append((f"cls{modality[0]}", question, correct, modality, "mcq", options, options_map[correct]))
        return items

    def profiles(self, config: str, split: str, prefix: str = "", required: bool = False) -> None:
        for where, row in self._rows(config, PROFILE_FIELDS, required):
            sid = prefix + str(field(row, "ID", where, (str, int)))
            if sid in self.writer.subjects:
                raise DataError(f"{where}: field 'ID': {sid!r} appears twice")
            name = row.get("name") or row.get("Name") or sid
            self.writer.subject(sid, str(name))
            portrait = row.get("image")
            data = portrait.get("bytes") if isinstance(portrait, dict) else None
            image = self.writer.image(portrait, config, where)
            if image is None:
                raise DataError(f"{where}: field 'image' missing or null")
            self.image_of[sid] = image
            self.writer.subjects[sid]["images"].append(image)
            if data:
                self.by_image[hashlib.sha256(data).hexdigest()] = sid
            for key, question, answer, modality, form, options, value in self._tasks(row, where):
                if form == "mcq":
                    question = mcq_prompt(question, options)
                self._add(sid, where, key, question, answer, modality, form, split, options, value)

    def _profile_of_pairs(self, row: dict, pairs: list, where: str) -> str:
        """The profile an ft_Data row belongs to: its ``ID`` column, else its entries' ``ID``, else its portrait's bytes."""
        if row.get("ID") is not None:
            sid, name = str(row["ID"]), "ID"
        elif ids := {str(p["ID"]) for p in pairs if isinstance(p, dict) and p.get("ID") is not None}:
            if len(ids) > 1:
                raise DataError(f"{where}: field 'metadata': its entries name several profiles {sorted(ids)}")
            sid, name = ids.pop(), "metadata.ID"
        else:
            portrait = row.get("image")
            data = portrait.get("bytes") if isinstance(portrait, dict) else None
            sid = self.by_image.get(hashlib.sha256(data).hexdigest()) if data else None
            if sid is None:
                raise DataError(f"{where}: field 'image': matches no Full_Set portrait (and no 'ID' in the row or its metadata)")
            name = "image"
        if sid not in self.writer.subjects:
            raise DataError(f"{where}: field {name!r}: {sid!r} is not in Full_Set")
        return sid

    def fine_tuning_pairs(self) -> None:
        for where, row in self._rows("ft_Data", ("image", "metadata")):
            metadata = row.get("metadata")
            try:
                pairs = json.loads(metadata) if isinstance(metadata, str) else metadata
            except json.JSONDecodeError as error:
                raise DataError(f"{where}: field 'metadata': invalid JSON ({error.msg})") from None
            pairs = _list(pairs, where, "metadata")
            sid = self._profile_of_pairs(row, pairs, where)
            for i, raw in enumerate(pairs):
                pair = _item(raw, where, f"metadata.{i}")
                at = f"{where}: metadata.{i}"
                self._add(sid, where, "ft", field(pair, "Question", at), field(pair, "Answer", at), "image", "qa", "train")

    def test_set(self) -> None:
        fields = ("ID", "Classification_Task", "Mask_Task", "Generation_Task")
        for where, row in self._rows("Test_Set", fields):
            sid = str(field(row, "ID", where, (str, int)))
            if sid not in self.writer.subjects:
                raise DataError(f"{where}: field 'ID': {sid!r} is not in Full_Set")
            variants = [self.writer.image(v, "Test_Set", where, "images") for v in _list(row.get("images"), where, "images")]
            for key in {k for (s, k) in self.task_records if s == sid}:
                for record in self.task_records[(sid, key)]:
                    if record["modality"] == "image":
                        record["image_variants"].extend(v for v in variants if v)
            reworded: dict[str, list] = {}
            for key, question, _, _, form, options, _ in self._tasks(row, where):
                reworded.setdefault(key, []).append(mcq_prompt(question, options) if form == "mcq" else question)
            for key, questions in reworded.items():
                records = self.task_records.get((sid, key), [])
                if len(records) == len(questions):
                    for record, question in zip(records, questions):
                        record["paraphrases"].append(question)

    def _ids(self, config: str) -> list[tuple[str, str]]:
        """(where, profile ID) of every row of a forget/retain config; each must be a Full_Set profile."""
        ids = []
        for where, row in self._rows(config, ("ID",)):
            sid = str(field(row, "ID", where, (str, int)))
            if sid not in self.writer.subjects:
                raise DataError(f"{where}: field 'ID': {sid!r} is not in Full_Set")
            ids.append((where, sid))
        return ids

    def requests(self) -> dict[str, dict]:
        """A Complete request per ``forget_<N>`` config; its ``retain_<100-N>`` must not overlap it."""
        settings = {}
        configs = [c for c in self.release.configs_matching("forget_") if FORGET_CONFIG.match(c)]
        for config in sorted(configs, key=lambda c: int(FORGET_CONFIG.match(c)[1])):
            forget = list(dict.fromkeys(sid for _, sid in self._ids(config)))
            if not forget:
                continue
            retain_config = f"retain_{100 - int(FORGET_CONFIG.match(config)[1])}"
            for where, sid in self._ids(retain_config):
                if sid in forget:
                    raise DataError(f"{where}: field 'ID': {sid!r} is also in {config}")
            path = f"requests/{config}.yaml"
            atomic_write_text(self.writer.out_dir / path, yaml.safe_dump([{"subject": s, "facts": "all"} for s in forget], sort_keys=False))
            settings[config] = {"setting": "complete", "requests": path, "subjects": len(forget)}
            if retain_config in self.rows:
                settings[config]["retain"] = retain_config
        return settings


def import_mllmu_bench(source: str | Path, out_dir: str | Path, cache_dir: str | Path | None = None):
    """Convert an MLLMU-Bench release (local folder or hub id) into a world folder; returns the loaded World."""
    importer = _Importer(Release(source, cache_dir), Path(out_dir))
    importer.profiles("Full_Set", "test", required=True)
    importer.fine_tuning_pairs()
    importer.profiles("Retain_Set", "celebrity", prefix="celebrity_")
    importer.test_set()
    settings = importer.requests()
    return importer.writer.write({"source_format": FORMAT_NAME, "configs": importer.rows, "settings": settings})
