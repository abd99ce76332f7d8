"""Turn samples into model inputs for any VLM processor: prompts via the chat template, loss masks.

Each sample is encoded once (``Encoder.encode``: chat template, image expansion, tokenisation)
and batches are assembled from the cached pieces (``collate``), so an epoch costs no image
processing. Sequence keys are left-padded; vision tensors (``pixel_values``, ``image_grid_thw``)
are concatenated along dim 0, which is right both for Qwen-VL's flattened patches and for
LLaVA's stacked images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from asru.data.schema import Sample
from asru.errors import DataError

IGNORE_INDEX = -100
SEQUENCE_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")


@dataclass
class Encoded:
    """One sample ready to batch: token ids, label mask and its vision tensors."""

    input_ids: list[int]
    labels: list[int]
    prompt_length: int
    sequence_extras: dict[str, list[int]] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


class Encoder:
    """Encodes questions (with an optional image) and answers for one processor."""

    def __init__(self, processor, root: str | Path | None = None, max_image_pixels: int = 4096 * 4096):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.root = Path(root) if root is not None else None
        self.max_image_pixels = max_image_pixels
        self._images: dict[str, Image.Image] = {}
        self._image_inputs: dict[str, tuple[dict[str, torch.Tensor], list[int]]] = {}  # path -> (vision tensors, the placeholder's expansion)
        self._shortcut: dict[str, bool] = {}  # "text" / "image" -> the shortcut matched the processor

    def load_image(self, relative_path: str) -> Image.Image:
        """The image as RGB; unreadable, truncated or oversized files are a DataError naming the file."""
        if relative_path not in self._images:
            path = (self.root / relative_path) if self.root else Path(relative_path)
            try:
                with Image.open(path) as image:
                    if image.width * image.height > self.max_image_pixels:
                        raise DataError(f"{path}: image of {image.width}x{image.height} px exceeds the limit of {self.max_image_pixels} px")
                    self._images[relative_path] = to_rgb(image)
            except FileNotFoundError:
                raise DataError(f"{path}: image file not found") from None
            except Image.DecompressionBombError as error:
                raise DataError(f"{path}: refused as a possible decompression bomb ({error})") from None
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:  # PIL raises all of these on bad files
                raise DataError(f"{path}: unreadable image ({' '.join(str(error).split())})") from None
        return self._images[relative_path]

    def prompt_text(self, question: str, has_image: bool, context: list[dict] | None = None) -> str:
        """The chat-formatted prompt, ending with the assistant's turn; ``context`` = earlier turns."""
        content = ([{"type": "image"}] if has_image else []) + [{"type": "text", "text": question}]
        messages = list(context or []) + [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def _processed(self, text: str, image: str | None) -> dict:
        """``processor(text=[text], images=[image])``: token lists for the sequence keys, tensors for the rest.

        A transformers processor call costs 2-7 ms per prompt on a CPU, mostly argument merging and
        validation: more than the tiny model's share of a training step once the target's prompts
        change every epoch (hand-written for that reason). The shortcut does what Qwen-VL, LLaVA and
        Idefics3 processors do -- replace the image placeholder by the image's tokens, tokenize, mark
        the image tokens -- and reuses each image's processed tensors and token run (read from the
        processor's output for that image); it is compared with the processor on the first prompt of
        each kind (text, image) and used only if identical.
        """
        kind = "image" if image is not None else "text"
        if kind not in self._shortcut:
            slow = self._processor_output(text, image)  # (also caches the image's tensors)
            fast = self._shortcut_processed(text, image)
            self._shortcut[kind] = fast is not None and _same_inputs(fast, slow)
            return slow
        fast = self._shortcut_processed(text, image) if self._shortcut[kind] else None
        return fast if fast is not None else self._processor_output(text, image)

    def _processor_output(self, text: str, image: str | None) -> dict:
        kwargs = {"images": [self.load_image(image)]} if image is not None else {}
        enc = self.processor(text=[text], return_tensors="pt", **kwargs)
        out = {key: value[0].tolist() if key in SEQUENCE_KEYS else value for key, value in enc.items()}
        if image is not None and image not in self._image_inputs:
            expansion = self._expansion(text, out["input_ids"])
            if expansion is not None:
                self._image_inputs[image] = ({key: value for key, value in out.items() if key not in SEQUENCE_KEYS}, expansion)
        return out

    def _encode_text(self, text: str) -> list[int]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)  # the Rust tokenizer, without the Python wrapper's checks
        return backend.encode(text).ids if backend is not None else self.tokenizer(text)["input_ids"]

    def _expansion(self, text: str, ids: list[int]) -> list[int] | None:
        """The token ids the processor put in place of the prompt's one image placeholder.

        Qwen-VL and LLaVA repeat the placeholder once per image token; Idefics3 / SmolVLM also wrap
        the run in ``<fake_token_around_image><global-img>...``: read from the processor's output,
        the ids between the tokens of the text before and after the placeholder.
        """
        image_token = getattr(self.processor, "image_token", None)
        if not image_token or text.count(image_token) != 1:
            return None
        before, after = (self._encode_text(part) for part in text.split(image_token))
        end = len(ids) - len(after)
        if end < len(before) or ids[: len(before)] != before or ids[end:] != after:
            return None
        return ids[len(before) : end]

    def _shortcut_processed(self, text: str, image: str | None) -> dict | None:
        image_token = getattr(self.processor, "image_token", None)
        if image is not None:
            if image not in self._image_inputs or text.count(image_token) != 1:
                return None
            tensors, expansion = self._image_inputs[image]
            before, after = text.split(image_token)
            ids = self._encode_text(before) + expansion + self._encode_text(after)
        else:
            ids = self._encode_text(text)
        image_id = self.tokenizer.convert_tokens_to_ids(image_token) if image_token else None
        marks = [int(token == image_id) for token in ids]
        out = {"input_ids": ids, "attention_mask": [1] * len(ids), **{key: marks for key in self._extra_keys}}
        if image is not None:
            out.update(tensors)
        return out

    @property
    def _extra_keys(self) -> tuple[str, ...]:
        """The sequence keys besides ids and mask that this processor returns (e.g. Qwen's mm_token_type_ids)."""
        if not hasattr(self, "_extras"):
            probe = self.processor(text=["x"], return_tensors="pt")
            self._extras = tuple(key for key in SEQUENCE_KEYS if key in probe and key not in ("input_ids", "attention_mask"))
        return self._extras

    def encode(self, question: str, image: str | None = None, answer: str | None = None, context: list[dict] | None = None) -> Encoded:
        """Encode a prompt (and the answer + end-of-turn token when given, as labels)."""
        text = self.prompt_text(question, image is not None, context)
        enc = self._processed(text, image)
        prompt_ids = enc["input_ids"]
        answer_ids = []
        if answer is not None:
            answer_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]
        extras = {key: enc[key] + [0] * len(answer_ids) for key in SEQUENCE_KEYS if key in enc and key not in ("input_ids", "attention_mask")}
        tensors = {key: value for key, value in enc.items() if key not in SEQUENCE_KEYS}
        return Encoded(
            input_ids=prompt_ids + answer_ids,
            labels=[IGNORE_INDEX] * len(prompt_ids) + answer_ids,
            prompt_length=len(prompt_ids),
            sequence_extras=extras,
            tensors=tensors,
        )

    def encode_sample(self, sample: Sample, with_answer: bool = True) -> Encoded:
        return self.encode(sample.question, sample.image, sample.answer if with_answer else None)

    def collate(self, items: list[Encoded]) -> dict[str, torch.Tensor]:
        return collate(items, self.tokenizer.pad_token_id)


def _same_inputs(a: dict, b: dict) -> bool:
    """Two processor outputs hold the same keys, token lists and tensors."""
    if a.keys() != b.keys():
        return False
    return all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)


class LazyEncodings(Sequence):
    """``[encoder.encode_sample(s) for s in samples]``, each encoded on first use and then kept.

    A run draws only part of a big retain pool (60 steps x 8 rows of the embedded world's ~1,400
    retain questions): encoding all of it up front took ~5 s of a 30-s run. The same object comes
    back for the same index, so per-item caches can key on it.
    """

    def __init__(self, encoder: Encoder, samples: list[Sample]):
        self.encoder, self.samples = encoder, samples
        self._encoded: dict[int, Encoded] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = range(len(self))[index]  # negative indices; an IndexError past the end
        if index not in self._encoded:
            self._encoded[index] = self.encoder.encode_sample(self.samples[index])
        return self._encoded[index]


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB, as a viewer would show it.

    16-bit and 32-bit greyscale is scaled down rather than clipped (``convert`` would turn most of
    a 16-bit image white), transparency is composited onto white, EXIF rotation is applied.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values / 257.0
        elif image.mode == "F" and values.max(initial=0) <= 1.0:
            values = values * 255.0
        image = Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def collate(items: list[Encoded], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Left-pad a list of encoded samples into one batch."""
    width = max(len(item.input_ids) for item in items)
    batch: dict[str, list] = {"input_ids": [], "attention_mask": [], "labels": []}
    extra_keys = sorted({key for item in items for key in item.sequence_extras})
    for key in extra_keys:
        batch[key] = []
    for item in items:
        pad = width - len(item.input_ids)
        batch["input_ids"].append([pad_token_id] * pad + item.input_ids)
        batch["attention_mask"].append([0] * pad + [1] * len(item.input_ids))
        batch["labels"].append([IGNORE_INDEX] * pad + item.labels)
        for key in extra_keys:
            batch[key].append([0] * pad + item.sequence_extras.get(key, [0] * len(item.input_ids)))
    out = {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}
    tensor_keys = sorted({key for item in items for key in item.tensors})
    for key in tensor_keys:
        out[key] = torch.cat([item.tensors[key] for item in items if key in item.tensors], dim=0)
    return out
