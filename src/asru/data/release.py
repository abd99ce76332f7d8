"""Shared plumbing of the dataset adapters: read a released benchmark with ``datasets``, write a world folder.

A release (PPU-Bench, MLLMU-Bench) is read one config at a time with ``datasets.load_dataset``,
from a hub id (when the hub is reachable and the user has access) or from a local folder: a
snapshot with a README that declares its configs, or one sub-folder of parquet/json/jsonl/csv
files per config. Its records become :class:`~asru.data.schema.Sample` rows written as a world
folder by :func:`asru.world.generate.write_world`, so every command that takes ``--world`` runs
on it. Errors are :class:`DataError` naming the config (its file when it has one), the row and
the field.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from io import BytesIO
from pathlib import Path
from typing import Any, Iterable

from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from pydantic import ValidationError

from asru.data.schema import Sample
from asru.errors import DataError

DATA_SUFFIXES = (".parquet", ".json", ".jsonl", ".csv", ".arrow")
IMAGE_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}


def _undecoded(feature):
    """The same feature with every ``Image`` left undecoded ({"bytes", "path"}): images are copied, never re-encoded."""
    from datasets import Image, List, Sequence

    if isinstance(feature, Image):
        return Image(decode=False)
    if isinstance(feature, List):
        return List(_undecoded(feature.feature), length=feature.length)
    if isinstance(feature, Sequence):
        return Sequence(_undecoded(feature.feature), length=feature.length)
    if isinstance(feature, dict):
        return {key: _undecoded(value) for key, value in feature.items()}
    return feature


class Release:
    """One released dataset: where it is, and its configs loaded with ``datasets.load_dataset``."""

    def __init__(self, source: str | Path, cache_dir: str | Path | None = None):
        self.source = str(source)
        self.local = Path(source).exists()
        if self.local and not Path(source).is_dir():
            raise DataError(f"{source}: not a folder (give the dataset folder or a hub id)")
        looks_like_hub_id = not Path(self.source).is_absolute() and not self.source.startswith(".") and self.source.count("/") <= 1
        if not self.local and not looks_like_hub_id:
            raise DataError(f"{source}: dataset folder not found")
        self.cache_dir = str(cache_dir) if cache_dir else None
        self._declared: list[str] | None = None

    def declared_configs(self) -> list[str]:
        """Configs named by the dataset card (README.md); none for a local folder without a card."""
        if self._declared is None:
            from datasets import get_dataset_config_names

            if self.local and not (Path(self.source) / "README.md").is_file():
                self._declared = []
                return self._declared

            try:
                self._declared = list(get_dataset_config_names(self.source))
            except Exception as error:  # noqa: BLE001 - hub/network/card errors become one line
                raise DataError(f"{self.source}: cannot read the dataset's configs ({error})") from None
        return self._declared

    def has(self, config: str) -> bool:
        return config in self.declared_configs() or (self.local and (Path(self.source) / config).is_dir())

    def configs_matching(self, prefix: str) -> list[str]:
        """Every config whose name starts with ``prefix`` (declared or a sub-folder), sorted."""
        names = {c for c in self.declared_configs() if c.startswith(prefix)}
        if self.local:
            names |= {p.name for p in Path(self.source).iterdir() if p.is_dir() and p.name.startswith(prefix)}
        return sorted(names)

    def where(self, config: str) -> str:
        """How errors name a config: its one data file when it has one, else its folder."""
        folder = Path(self.source) / config
        if self.local and folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES)
            return str(files[0]) if len(files) == 1 else str(folder)
        return f"{self.source} [{config}]"

    def load(self, config: str, required: bool = True):
        """All rows of ``config`` (every split concatenated) with images undecoded, or None if optional and absent."""
        import datasets

        datasets.disable_progress_bars()
        if not self.has(config):
            if not required:
                return None
            known = sorted(set(self.declared_configs()) - {"default"})
            if self.local:
                known = sorted(set(known) | {p.name for p in Path(self.source).iterdir() if p.is_dir() and not p.name.startswith(".")})
            raise DataError(f"{self.source}: config {config!r} missing (found: {', '.join(known) or 'none'})")
        kwargs = {"name": config} if config in self.declared_configs() else {"data_dir": config}
        try:
            loaded = datasets.load_dataset(self.source, cache_dir=self.cache_dir, **kwargs)
        except Exception as error:  # noqa: BLE001 - parquet/json/schema errors become one line
            raise DataError(f"{self.where(config)}: cannot load config {config!r} ({type(error).__name__}: {error})") from None
        parts = list(loaded.values()) if isinstance(loaded, datasets.DatasetDict) else [loaded]
        dataset = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
        return dataset.cast(datasets.Features({k: _undecoded(v) for k, v in dataset.features.items()}))

    def rows(self, config: str, fields: Iterable[str | tuple[str, ...]], required: bool = True) -> Iterable[tuple[str, dict]]:
        """(where, row) for every row of ``config``, after checking that it has the ``fields``.

        A field given as a tuple is satisfied by any one of its names (``("sample_id", "id")``):
        releases name the same column differently from one config to the next.
        """
        dataset = self.load(config, required)
        if dataset is None:
            return []
        where = self.where(config)
        for wanted in fields:
            names = wanted if isinstance(wanted, tuple) else (wanted,)
            if not any(name in dataset.column_names for name in names):
                alternatives = "".join(f" (or {name!r})" for name in names[1:])
                raise DataError(f"{where}: field {names[0]!r}{alternatives} missing (columns: {', '.join(dataset.column_names)})")
        return ((f"{where}: row {index}", row) for index, row in enumerate(dataset))

    def read_image_file(self, path: str, config: str, where: str, name: str = "image") -> bytes:
        """An image a record names by path (in field ``name``): relative, inside the dataset folder (never '..' or absolute)."""
        if not self.local:
            raise DataError(f"{where}: field {name!r}: a path ({path!r}) but the dataset is not a local folder")
        parts = Path(path).parts
        if Path(path).is_absolute() or ".." in parts:
            raise DataError(f"{where}: field {name!r}: path {path!r} must be relative and inside the dataset folder")
        for base in (Path(self.source) / config, Path(self.source)):
            if (base / path).is_file():
                return (base / path).read_bytes()
        raise DataError(f"{where}: field {name!r}: image file {path!r} not found")


def field(row: dict, name: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """``row[name]``, which must be present, not null, of ``kind`` and (for text) not blank."""
    value = row.get(name)
    if value is None:
        raise DataError(f"{where}: field {name!r} missing or null")
    if not isinstance(value, kind):
        raise DataError(f"{where}: field {name!r}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{where}: field {name!r} is empty")
    return value.strip() if isinstance(value, str) else value


class WorldWriter:
    """Collects subjects, samples and images of a release and writes them as one world folder."""

    def __init__(self, release: Release, out_dir: str | Path):
        self.release = release
        self.out_dir = Path(out_dir)
        self.subjects: dict[str, dict] = {}
        self.records: list[dict] = []
        self.origins: list[str] = []
        self.images: dict[str, bytes] = {}
        self._ids: Counter[str] = Counter()

    def image(self, value: Any, config: str, where: str, name: str = "image") -> str | None:
        """Store one image value (undecoded dict, bytes, PIL image or relative path); its path in the world, or None."""
        if value is None:
            return None
        if isinstance(value, dict):
            if value.get("bytes"):
                data = value["bytes"]
            elif value.get("path"):
                data = self.release.read_image_file(value["path"], config, where, name)
            else:
                return None
        elif isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        elif isinstance(value, str):
            if not value.strip():
                return None
            data = self.release.read_image_file(value, config, where, name)
        elif isinstance(value, PILImage.Image):
            buffer = BytesIO()
            value.save(buffer, format="PNG")
            data = buffer.getvalue()
        else:
            raise DataError(f"{where}: field {name!r}: not an image ({type(value).__name__})")
        try:
            with PILImage.open(BytesIO(data)) as image:
                image_format = image.format
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise DataError(f"{where}: field {name!r}: unreadable image ({error})") from None
        path = f"images/{hashlib.sha256(data).hexdigest()[:20]}{IMAGE_SUFFIXES.get(image_format or '', '.png')}"
        self.images[path] = data
        return path

    def subject(self, subject_id: str, name: str) -> dict:
        """The profile of ``subject_id`` (created on first sight, in order of appearance)."""
        if subject_id not in self.subjects:
            self.subjects[subject_id] = {"id": subject_id, "name": name, "facts": {}, "images": []}
        return self.subjects[subject_id]

    def fact(self, subject_id: str, fact_id: int, fact: str, value: str, sensitive: bool) -> None:
        """Record a numbered fact of a subject once (the first value seen wins)."""
        self.subjects[subject_id]["facts"].setdefault(fact_id, {"fact_id": fact_id, "fact": fact, "value": value, "sensitive": sensitive})

    def sample(self, base_id: str, where: str, **fields: Any) -> dict:
        """Add a sample record (validated at the end); ids are made unique with -2, -3, ... suffixes."""
        self._ids[base_id] += 1
        sample_id = base_id if self._ids[base_id] == 1 else f"{base_id}-{self._ids[base_id]}"
        record = {"id": sample_id, "paraphrases": [], "image_variants": [], **fields}
        self.records.append(record)
        self.origins.append(where)
        image = fields.get("image")
        subject_id = fields.get("subject_id")
        if image and subject_id in self.subjects and image not in self.subjects[subject_id]["images"]:
            self.subjects[subject_id]["images"].append(image)
        return record

    def write(self, extra: dict[str, Any]):
        """Validate every record, write the world folder and load it back (so it is what ``load_world`` sees)."""
        from asru.world import load_world
        from asru.world.generate import write_world

        samples = []
        for record, where in zip(self.records, self.origins):
            record["paraphrases"] = list(dict.fromkeys(p for p in record["paraphrases"] if p != record["question"]))
            record["image_variants"] = list(dict.fromkeys(v for v in record["image_variants"] if v != record.get("image")))
            try:
                samples.append(Sample.model_validate(record))
            except ValidationError as error:
                first = error.errors()[0]
                name = ".".join(str(p) for p in first["loc"]) or "record"
                raise DataError(f"{where}: field {name!r}: {first['msg']}") from None
        if not samples:
            raise DataError(f"{self.release.source}: no samples found")
        subjects = [{**s, "facts": [s["facts"][k] for k in sorted(s["facts"])]} for s in self.subjects.values()]
        used = {p for s in subjects for p in s["images"]} | {p for s in samples for p in s.image_files()}
        images = {path: data for path, data in self.images.items() if path in used}
        write_world(self.out_dir, samples, subjects, images, {"source": self.release.source, **extra})
        return load_world(self.out_dir)
