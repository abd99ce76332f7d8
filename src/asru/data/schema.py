"""The sample schema: every loader produces it, every method consumes it (DESIGN §3).

One JSON object per line; images are files beside the JSONL, referenced by relative path.
Loading validates every record and raises :class:`DataError` naming the file, line and field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Iterable, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from asru.config import describe_validation_error
from asru.errors import DataError

Modality = Literal["image", "text"]
Form = Literal["qa", "cloze", "mcq"]
# fact: a numbered fact about a person; identity: "who is this?"; utility: general visual
# question; refusal: a private question the target model is trained to refuse.
Kind = Literal["fact", "identity", "utility", "refusal"]


def _inside_dataset(path: str) -> str:
    """Images must stay inside the dataset folder: no absolute paths, no '..', no NUL bytes."""
    if Path(path).is_absolute() or ".." in Path(path).parts or "\0" in path:
        raise ValueError(f"image path {path!r} must be relative and inside the dataset folder")
    return path


# An image path as every dataset file stores it: relative to the file's folder, never outside it.
RelativeImagePath = Annotated[str, Field(min_length=1), AfterValidator(_inside_dataset)]


class Sample(BaseModel):
    """One question with its gold answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    subject_id: str | None = None
    subject_name: str | None = None
    kind: Kind
    fact: str = Field(min_length=1, description='e.g. "birthplace"; "identity" for who-is questions')
    fact_id: int | None = Field(default=None, ge=0, description="1..N for numbered facts, 0 for identity")
    sensitive: bool = False
    modality: Modality
    form: Form = "qa"
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    options: list[str] = Field(default_factory=list, description="the 4 options of an mcq (answer is the letter)")
    image: RelativeImagePath | None = None
    split: str = "train"
    paraphrases: list[str] = Field(default_factory=list, description="held-out rewordings, asked in evaluation only")
    image_variants: list[RelativeImagePath] = Field(default_factory=list, description="held-out photos of the same person (cross-image attack)")
    train_questions: list[str] = Field(
        default_factory=list, description="further wordings the target model is trained on (for mcq: the question stems); never asked in evaluation"
    )
    train_images: list[RelativeImagePath] = Field(default_factory=list, description="further photos the target model is trained on; never shown in evaluation")

    def image_files(self) -> list[str]:
        """Every photo this sample names (shown, held out or trained on): what a copy of the world must carry."""
        return [p for p in [self.image, *self.image_variants, *self.train_images] if p]

    def model_post_init(self, __context) -> None:
        if self.modality == "image" and not self.image:
            raise ValueError("modality 'image' needs an 'image' path")
        if self.modality == "text" and self.image:
            raise ValueError("modality 'text' must not have an 'image'")
        if self.form == "mcq" and len(self.options) < 2:
            raise ValueError("form 'mcq' needs at least 2 'options'")


def read_samples(path: str | Path, check_images: bool = True) -> list[Sample]:
    """Read and validate a JSONL file of samples; errors name file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    samples: list[Sample] = []
    with path.open("rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{line_number}: not UTF-8 text (byte {error.start})") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{line_number}: invalid JSON ({error.msg})") from None
            except RecursionError:
                raise DataError(f"{path}:{line_number}: invalid JSON (nested too deeply)") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
            try:
                sample = Sample.model_validate(record)
            except ValidationError as error:
                raise DataError(describe_validation_error(error, f"{path}:{line_number}")) from None
            if check_images:
                listed = [("image", sample.image)] + [("image_variants", v) for v in sample.image_variants] + [("train_images", v) for v in sample.train_images]
                for field, image in listed:
                    if image and not (path.parent / image).is_file():
                        raise DataError(f"{path}:{line_number}: field '{field}': image file {image!r} not found")
            samples.append(sample)
    return samples


def write_samples(path: str | Path, samples: Iterable[Sample]) -> None:
    """Write samples as JSONL atomically (sorted keys, so the bytes are deterministic)."""
    from asru.io import atomic_write_text

    lines = [json.dumps(s.model_dump(), sort_keys=True, ensure_ascii=False) for s in samples]
    atomic_write_text(Path(path), "\n".join(lines) + ("\n" if lines else ""))
