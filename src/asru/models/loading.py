"""Load and save any Hugging Face VLM + processor with ``from_pretrained`` / ``save_pretrained``.

Weights only as safetensors (``use_safetensors=True``); remote code only when the caller asks.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from asru.config import load_json_file, validate_document
from asru.errors import AsruError, ModelError
from asru.io import write_folder_atomically
from asru.models.processors import IMAGE_ONLY_PROCESSORS


class ModelConfigFile(BaseModel):
    """The part of a model folder's config.json that asru reads before transformers does."""

    model_config = ConfigDict(extra="allow")

    model_type: str = Field(min_length=1, description="the transformers architecture key (not a transformers model config without it)")


def _read_model_type(path: Path) -> str:
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{path}: not a model folder (config.json missing)")
    config = load_json_file(config_file, ModelError, "model config")
    return validate_document(ModelConfigFile, config, config_file, ModelError).model_type


def _clear_load_errors(load):
    """Whatever transformers, tokenizers or safetensors raise on a broken model folder (a missing
    tokenizer or processor file, corrupt weights, an unknown architecture) becomes one ModelError line."""

    @functools.wraps(load)
    def wrapper(name_or_path, *args, **kwargs):
        try:
            return load(name_or_path, *args, **kwargs)
        except AsruError:
            raise
        except Exception as error:  # noqa: BLE001 -- the types vary by library; --debug shows the cause
            reason = " ".join(str(error).split())
            reason = reason if len(reason) <= 240 else reason[:240] + "..."
            raise ModelError(f"{name_or_path}: cannot load the model or its processor ({type(error).__name__}: {reason})") from error

    return wrapper


def load_processor(name_or_path: str | Path, model_type: str, trust_remote_code: bool = False):
    """The processor for ``model_type``; Qwen-VL processors are rebuilt image-only (no torchvision)."""
    if model_type in IMAGE_ONLY_PROCESSORS:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        image_processor = AutoImageProcessor.from_pretrained(name_or_path, backend="pil")
        return IMAGE_ONLY_PROCESSORS[model_type](image_processor, tokenizer, chat_template=tokenizer.chat_template)
    return AutoProcessor.from_pretrained(name_or_path, trust_remote_code=trust_remote_code, backend="pil")


DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype | str:
    """``"auto"`` (the checkpoint's dtype) or a torch dtype from its name; other names are a ModelError."""
    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r} (known: {', '.join(DTYPES)})")
    return getattr(torch, dtype)


@_clear_load_errors
def load_vlm(
    name_or_path: str | Path,
    dtype: torch.dtype | str = "auto",
    trust_remote_code: bool = False,
    device_map: str | None = None,
    attn_implementation: str | None = None,
    device: str | None = None,
):
    """Load ``(model, processor)`` from a local folder or a hub id (when the hub is reachable).

    ``attn_implementation``: ``"sdpa"`` (transformers' default), ``"flash_attention_2"`` when
    flash-attn is installed, or ``"eager"``. ``device="auto"`` puts the model on this process's
    accelerate device (the GPU of its rank, else CPU); ``device_map`` instead spreads one model
    over several GPUs for inference.
    """
    path = Path(name_or_path)
    if path.exists():
        model_type = _read_model_type(path)
        if not any(path.glob("*.safetensors")):
            raise ModelError(f"{path}: no *.safetensors weights (asru loads weights only as safetensors)")
    else:
        try:
            model_type = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code).model_type
        except OSError as error:
            raise ModelError(f"{name_or_path}: not a local folder and not loadable from the hub ({error})") from None
    extra = {"attn_implementation": attn_implementation} if attn_implementation else {}
    model = AutoModelForImageTextToText.from_pretrained(
        name_or_path,
        dtype=resolve_dtype(dtype),
        use_safetensors=True,
        trust_remote_code=trust_remote_code,
        device_map=device_map,
        **extra,
    )
    if device == "auto":
        from asru.train.distributed import process_state

        model.to(process_state().device)
    elif device is not None:
        model.to(device)
    processor = load_processor(name_or_path, model_type, trust_remote_code)
    return model, processor


def save_vlm(model, processor, out_dir: str | Path) -> Path:
    """Save model (safetensors) and processor so that ``load_vlm`` and plain transformers read them."""
    out_dir = Path(out_dir)

    def write(folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)
        processor.save_pretrained(folder)

    # written beside ``out_dir`` and moved in: a full disk leaves an earlier model there intact
    write_folder_atomically(out_dir, write)
    return out_dir
