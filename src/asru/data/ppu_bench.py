"""PPU-Bench (Guang et al. 2026) as a world folder: ``asru data import ppu-bench SRC --out DIR``.

PPU-Bench is fine-tuning-free: 500 real public figures whose facts the model already knows, 50
numbered facts per person (ids 1-50; 25-36 are the sensitive ones), and as targets the model's
own answers (``generated_answer``). The release is a Hugging Face dataset; each config is read
with ``datasets.load_dataset`` (hub id, or a local snapshot / one folder per config). Records
carry ``sample_id, subject_id, subject, image, question, generated_answer``.

How configs map onto the sample schema (assumptions where the release format is not public
are marked *assumed*; a record that does not fit is a ``DataError`` naming config, row, field):

=====================================  ======================================================
``unlearning_target`` (required)       ``qa`` samples, ``split: train``: the unlearning targets
                                       (answer = ``generated_answer``). The fact id is
                                       ``fact_id`` if the column exists, else ``sample_id`` (an
                                       int, or the trailing digits of a string) -- *assumed*.
                                       No ``image`` (or null) = a text question.
``ppu_eval_generation``                ``qa`` samples, ``split: test`` (asked, never trained on)
``ppu_eval_cloze``                     ``cloze`` samples, ``split: test``
``ppu_eval_classification``            ``mcq`` samples, ``split: test``; ``options`` (a list, or
                                       a letter -> text mapping) and the answer as a letter or
                                       the option's text -- *assumed*
``paraphrase_{setting}``               extra wordings: ``paraphrases`` of the matching
                                       (subject, fact, modality) target, used by ``test_*``
                                       splits and the paraphrase attack
``cross_image_{setting}``              other images of the person: ``image_variants`` of the
                                       matching image questions (the cross-image attack)
``random_prefix_{setting}``,           the release's attacked prompts, kept in
``jailbreak_style_prompt_{setting}``   ``attacks/<name>.jsonl`` ({target sample id, question})
``train_pair_{setting}``               per subject ``delete_ids`` (and ``keep_ids``) -- fact ids
                                       -- written as deletion requests
                                       ``requests/<setting>.yaml`` (*assumed* columns
                                       ``subject_id, delete_ids[, keep_ids]``)
=====================================  ======================================================

Settings: ``complete30`` -> ``--setting complete``, ``selective`` -> ``selective``, ``persona``
-> ``personalized``; run e.g. ``asru unlearn --world DIR --setting personalized --requests
DIR/requests/persona.yaml``. Every fact of a forget subject that its request does not delete
is in ``retain_same_subject`` (a superset of ``keep_ids``). Answers are the model's own, so a
subject's fact *value* (for the judge's distractors) is the answer to its text question.

Two additions the release lacks, both so that ASRU has the refusal behaviour it steers: per
subject ``private_questions`` refusal-trained private questions ("What is X's home address?",
answered with a refusal; split ``refusal``). With a real instruct model the knowledge-absence
direction keeps only those the model really refuses. There are no utility questions (PPU-Bench
measures utility on MMBench, outside this tool).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from asru.data.release import Release, WorldWriter, field
from asru.errors import DataError
from asru.io import atomic_write_text
from asru.world.generate import IMAGE_WHO, IMAGE_WHOSE, mcq_prompt
from asru.world.phrases import REFUSAL_TEMPLATES
from asru.world.vocab import PRIVATE_QUESTIONS

FORMAT_NAME = "ppu-bench"
FACT_IDS = range(1, 51)
SENSITIVE_FACT_IDS = range(25, 37)
SETTING_OF = {"complete": "complete", "selective": "selective", "persona": "personalized", "personalized": "personalized"}
KEY_FIELDS = ("sample_id", "subject_id", "subject", "question")
ATTACKS = ("random_prefix", "jailbreak_style_prompt")
LETTERS = "ABCDEFGHIJ"


def _fact_id(row: dict, where: str) -> int:
    """The fact number of a record: ``fact_id`` when present, else ``sample_id`` (or its trailing digits)."""
    name = "fact_id" if row.get("fact_id") is not None else "sample_id"
    value = row.get(name)
    if isinstance(value, str) and (match := re.search(r"(\d+)$", value.strip())):
        value = int(match.group(1))
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: field {name!r}: expected a fact id (1-50), got {value!r}")
    if value not in FACT_IDS:
        raise DataError(f"{where}: field {name!r}: fact id {value} outside 1-50")
    return value


def _subject_id(row: dict, where: str) -> str:
    value = row.get("subject_id")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        raise DataError(f"{where}: field 'subject_id' missing or not an id")
    return str(value).strip()


def _gold(row: dict, where: str) -> str:
    """The target answer: the model's own ``generated_answer`` (fine-tuning-free), else ``answer``."""
    if row.get("generated_answer") is not None or row.get("answer") is None:
        return field(row, "generated_answer", where)
    return field(row, "answer", where)


def _options(row: dict, where: str) -> list[str]:
    options = row.get("options")
    if isinstance(options, dict):
        options = [options[k] for k in sorted(options) if options[k] is not None]
    if not isinstance(options, list) or len(options) < 2 or not all(isinstance(o, str) and o.strip() for o in options):
        raise DataError(f"{where}: field 'options': expected 2-10 option texts, got {options!r}")
    if len(options) > len(LETTERS):
        raise DataError(f"{where}: field 'options': at most {len(LETTERS)} options")
    return [o.strip() for o in options]


def _letter(answer: str, options: list[str], where: str) -> str:
    letters = LETTERS[: len(options)]
    text = answer.strip().strip("().:").strip()
    if len(text) == 1 and text.upper() in letters:
        return text.upper()
    for letter, option in zip(letters, options):
        if option.lower() == answer.strip().lower():
            return letter
    raise DataError(f"{where}: field 'generated_answer': {answer!r} is neither an option letter nor an option's text")


class _Importer:
    def __init__(self, release: Release, out_dir: Path, private_questions: int):
        self.release = release
        self.writer = WorldWriter(release, out_dir)
        self.private_questions = private_questions
        self.rows: dict[str, int] = {}
        self.unmatched: dict[str, int] = {}
        self.by_key: dict[tuple, list[dict]] = {}  # (subject, fact, modality, form) -> samples

    def _rows(self, config: str, fields=KEY_FIELDS, required: bool = False):
        rows = list(self.release.rows(config, fields, required))
        if rows or required:
            self.rows[config] = len(rows)
        return rows

    def _question(self, config: str, where: str, row: dict, form: str, split: str, id_suffix: str = "") -> dict:
        """Add one question record; the subject must be in ``unlearning_target`` unless this is it."""
        sid, fid = _subject_id(row, where), _fact_id(row, where)
        name = field(row, "subject", where)
        if config != "unlearning_target" and sid not in self.writer.subjects:
            raise DataError(f"{where}: field 'subject_id': {sid!r} is not in unlearning_target")
        self.writer.subject(sid, name)
        image = self.writer.image(row.get("image"), config, where)
        modality = "image" if image else "text"
        question = field(row, "question", where)
        answer = _gold(row, where)
        options: list[str] = []
        if form == "mcq":
            options = _options(row, where)
            answer = _letter(answer, options, where)
            question = mcq_prompt(question, options)
        fact = row.get("fact") or row.get("attribute") or f"fact_{fid:02d}"
        value = options[LETTERS.index(answer)] if form == "mcq" else answer
        self.writer.fact(sid, fid, str(fact), value, fid in SENSITIVE_FACT_IDS)
        record = self.writer.sample(
            f"{sid}-f{fid}-{modality}-{form}{id_suffix}", where, subject_id=sid, subject_name=name, kind="fact", fact=str(fact),
            fact_id=fid, sensitive=fid in SENSITIVE_FACT_IDS, modality=modality, form=form, question=question, answer=answer,
            options=options, image=image, split=split,
        )
        self.by_key.setdefault((sid, fid, modality, form), []).append(record)
        return record

    def questions(self) -> None:
        for where, row in self._rows("unlearning_target", KEY_FIELDS, required=True):
            self._question("unlearning_target", where, row, "qa", "train")
        for config, form, suffix in (("ppu_eval_generation", "qa", "-gen"), ("ppu_eval_cloze", "cloze", ""), ("ppu_eval_classification", "mcq", "")):
            for where, row in self._rows(config):
                self._question(config, where, row, form, "test", suffix)

    def _targets(self, row: dict, where: str, modality: str | None) -> list[dict]:
        sid, fid = _subject_id(row, where), _fact_id(row, where)
        keys = [k for k in self.by_key if k[:2] == (sid, fid) and (modality is None or k[2] == modality)]
        return [r for k in keys for r in self.by_key[k] if r["split"] == "train"] or [r for k in keys for r in self.by_key[k]]

    def variants(self) -> None:
        """Paraphrases and cross-image variants attached to the questions they reword / re-ask."""
        for config in self.release.configs_matching("paraphrase_"):
            for where, row in self._rows(config):
                image = row.get("image") is not None
                targets = [r for r in self._targets(row, where, "image" if image else "text") if r["form"] == "qa"]
                for record in targets:
                    record["paraphrases"].append(field(row, "question", where))
                self.unmatched[config] = self.unmatched.get(config, 0) + (not targets)
        for config in self.release.configs_matching("cross_image_"):
            for where, row in self._rows(config, ("sample_id", "subject_id", "image")):
                image = self.writer.image(row.get("image"), config, where)
                if image is None:
                    raise DataError(f"{where}: field 'image' missing or null")
                targets = self._targets(row, where, "image")
                for record in targets:
                    record["image_variants"].append(image)
                self.unmatched[config] = self.unmatched.get(config, 0) + (not targets)

    def attacks(self) -> dict[str, list[dict]]:
        """The release's attacked prompts per attack name: {target sample id, question}."""
        out: dict[str, list[dict]] = {}
        for attack in ATTACKS:
            for config in self.release.configs_matching(f"{attack}_"):
                for where, row in self._rows(config, ("sample_id", "subject_id", "question")):
                    modality = "image" if row.get("image") is not None else "text"
                    targets = [r for r in self._targets(row, where, modality) if r["form"] == "qa"]
                    if targets:
                        out.setdefault(attack, []).append({"target": targets[0]["id"], "question": field(row, "question", where), "config": config})
                    self.unmatched[config] = self.unmatched.get(config, 0) + (not targets)
        return out

    def requests(self) -> dict[str, dict]:
        """Deletion requests per setting from ``train_pair_<setting>``'s delete_ids / keep_ids."""
        settings = {}
        for config in self.release.configs_matching("train_pair_"):
            name = config.removeprefix("train_pair_")
            per_subject: dict[str, dict[str, set[int]]] = {}
            for where, row in self._rows(config, ("subject_id", "delete_ids")):
                sid = _subject_id(row, where)
                if sid not in self.writer.subjects:
                    raise DataError(f"{where}: field 'subject_id': {sid!r} is not in unlearning_target")
                entry = per_subject.setdefault(sid, {"delete": set(), "keep": set()})
                for key, column in (("delete", "delete_ids"), ("keep", "keep_ids")):
                    ids = row.get(column) or []
                    if not isinstance(ids, list):
                        raise DataError(f"{where}: field {column!r}: expected a list of fact ids")
                    for value in ids:
                        fid = _fact_id({"sample_id": value}, where)
                        if fid not in self.writer.subjects[sid]["facts"]:
                            raise DataError(f"{where}: field {column!r}: fact id {value!r} has no question for subject {sid!r}")
                        entry[key].add(fid)
            requests = [{"subject": sid, "facts": sorted(e["delete"])} for sid, e in per_subject.items() if e["delete"]]
            if not requests:
                raise DataError(f"{self.release.where(config)}: field 'delete_ids': no subject has facts to delete")
            path = f"requests/{name}.yaml"
            atomic_write_text(self.writer.out_dir / path, yaml.safe_dump(requests, sort_keys=False))
            setting = next((v for k, v in SETTING_OF.items() if name.startswith(k)), "personalized")
            settings[name] = {
                "setting": setting, "requests": path, "subjects": len(requests),
                "keep_ids": {sid: sorted(e["keep"]) for sid, e in per_subject.items() if e["keep"]},
            }
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
                    answer=REFUSAL_TEMPLATES[(index + j) % len(REFUSAL_TEMPLATES)].format(name=name), image=image,
                )


def import_ppu_bench(source: str | Path, out_dir: str | Path, cache_dir: str | Path | None = None, private_questions: int = 2):
    """Convert a PPU-Bench release (local folder or hub id) into a world folder; returns the loaded World."""
    if private_questions < 0:
        raise DataError("private_questions must be >= 0")
    out_dir = Path(out_dir)
    importer = _Importer(Release(source, cache_dir), out_dir, private_questions)
    importer.questions()
    importer.variants()
    attacks = importer.attacks()
    settings = importer.requests()
    importer.add_private_questions()
    world = importer.writer.write(
        {"source_format": FORMAT_NAME, "configs": importer.rows, "unmatched": {k: v for k, v in importer.unmatched.items() if v}, "settings": settings,
         "attacks": {name: f"attacks/{name}.jsonl" for name in attacks}}
    )
    for name, records in attacks.items():
        atomic_write_text(out_dir / "attacks" / f"{name}.jsonl", "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records))
    return world
