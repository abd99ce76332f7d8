"""Tiny VLMs built from configs: the stand-ins for Qwen3-VL-8B that a CPU trains in minutes.

Same classes, processors and chat templates as the real models, only small. Three families:
Qwen3-VL (the default), LLaVA (CLIP + MLP projector + Llama) and Idefics3 / SmolVLM (SigLIP-style
tower + pixel-shuffle connector + Llama). DESIGN §4's shape (text h256 x 4 layers, vision h128 x 2
layers) with 8 px patches, so a 64 px image gives 16 image tokens in every family: with 4 tokens the
face-to-person binding did not reach 90 % in 10 minutes.
"""

from __future__ import annotations

from typing import Iterable

import torch
from pydantic import BaseModel, ConfigDict, model_validator
from transformers import (
    CLIPVisionConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from asru.config import Architecture
from asru.models.processors import ImageOnlyQwen3VLProcessor
from asru.models.tokenizer import (
    IDEFICS3_CHAT_TEMPLATE,
    IDEFICS3_SPECIAL_TOKENS,
    LLAVA_CHAT_TEMPLATE,
    PAD_TOKEN,
    QWEN_CHAT_TEMPLATE,
    train_tokenizer,
)


class TinyModelConfig(BaseModel):
    """Shape of a tiny VLM. Defaults: the 5.5 M-parameter Qwen3-VL of DESIGN §4."""

    model_config = ConfigDict(extra="forbid")

    architecture: Architecture = "qwen3_vl"
    vocab_size: int = 2048
    hidden_size: int = 256
    intermediate_size: int = 1024
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    vision_hidden_size: int = 128
    vision_layers: int = 2
    vision_heads: int = 4
    image_size: int = 64
    patch_size: int = 8  # 64 px -> 8x8 patches -> 2x2 merge -> 16 image tokens (4 tokens bound faces too slowly); LLaVA: 16 px patches
    seed: int = 0

    @model_validator(mode="after")
    def _check_shapes(self):
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        if self.image_size % (2 * self.patch_size):
            raise ValueError("image_size must be a multiple of 2 * patch_size (2x2 patch merge)")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (time, height, width); must sum to head_dim/2."""
    half = head_dim // 2
    height = width = half * 5 // 16
    return [half - height - width, height, width]


def _build_qwen3_vl(config: TinyModelConfig, tokenizer):
    ids = tokenizer.convert_tokens_to_ids
    grid = config.image_size // config.patch_size
    model_config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            intermediate_size=config.intermediate_size,
            num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads,
            num_key_value_heads=config.num_kv_heads,
            head_dim=config.head_dim,
            max_position_embeddings=1024,
            rope_parameters=dict(
                rope_type="default", rope_theta=1e4, mrope_section=_mrope_section(config.head_dim), mrope_interleaved=True
            ),
            pad_token_id=ids(PAD_TOKEN),
        ),
        vision_config=dict(
            depth=config.vision_layers,
            hidden_size=config.vision_hidden_size,
            intermediate_size=4 * config.vision_hidden_size,
            num_heads=config.vision_heads,
            patch_size=config.patch_size,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=config.hidden_size,
            num_position_embeddings=grid * grid,  # a perfect square
            deepstack_visual_indexes=[config.vision_layers - 1],
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen3VLForConditionalGeneration(model_config)
    # shortest_edge/longest_edge are *total pixels* here: keep 64 px images at 64 px.
    pixels = config.image_size * config.image_size
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=config.patch_size, merge_size=2, temporal_patch_size=2, size={"shortest_edge": pixels, "longest_edge": pixels}
    )
    processor = ImageOnlyQwen3VLProcessor(image_processor, tokenizer, chat_template=QWEN_CHAT_TEMPLATE)
    return model, processor


def _llama_text_config(config: TinyModelConfig, tokenizer) -> LlamaConfig:
    """The Llama text model of the LLaVA and Idefics3 families."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _vision_tower(config: TinyModelConfig, patch_size: int) -> dict:
    """The ViT fields LLaVA's CLIP tower and Idefics3's SigLIP-style tower share."""
    return dict(
        hidden_size=config.vision_hidden_size,
        intermediate_size=4 * config.vision_hidden_size,
        num_hidden_layers=config.vision_layers,
        num_attention_heads=config.vision_heads,
        image_size=config.image_size,
        patch_size=patch_size,
    )


def _build_llava(config: TinyModelConfig, tokenizer):
    """LLaVA: a CLIP vision tower, a 2-layer MLP projector and a Llama text model.

    LLaVA merges no patches, so its patches are twice as wide (16 px for the default 8): the same
    16 image tokens for a 64 px photo as the other families, CLIP's class token dropped as LLaVA-1.5
    does. With 8 px patches (65 tokens) a step took 1.5x Qwen3-VL's and learned less (README, "Models").
    """
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    patch_size = 2 * config.patch_size
    vision = CLIPVisionConfig(**_vision_tower(config, patch_size), projection_dim=config.hidden_size)
    text = _llama_text_config(config, tokenizer)
    model_config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=image_token_id,
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlavaForConditionalGeneration(model_config)
    image_processor = LlavaImageProcessorPil(
        size={"height": config.image_size, "width": config.image_size},
        crop_size={"height": config.image_size, "width": config.image_size},
        do_pad=False,
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_CHAT_TEMPLATE,
        num_additional_image_tokens=1,  # CLIP's class token (dropped by the "default" strategy)
    )
    return model, processor


def _build_idefics3(config: TinyModelConfig, tokenizer):
    """Idefics3 / SmolVLM: a SigLIP-style vision tower, a pixel-shuffle connector (2x2 patches -> one
    token, like Qwen's merge: 16 image tokens for a 64 px photo) and a Llama text model."""
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = _vision_tower(config, config.patch_size)
    model_config = Idefics3Config(
        vision_config=vision,
        text_config=_llama_text_config(config, tokenizer).to_dict(),
        image_token_id=image_token_id,
        scale_factor=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Idefics3ForConditionalGeneration(model_config)
    edge = {"longest_edge": config.image_size}
    # one global image a photo, no tiles (SmolVLM tiles a larger image into max_image_size squares)
    image_processor = Idefics3ImageProcessorPil(size=edge, max_image_size=edge, do_image_splitting=False, do_pad=False)
    image_seq_len = (config.image_size // config.patch_size) ** 2 // 4
    processor = Idefics3Processor(image_processor, tokenizer, image_seq_len=image_seq_len, chat_template=IDEFICS3_CHAT_TEMPLATE)
    return model, processor


# architecture -> (builder, chat template, the family's own special tokens)
BUILDERS = {
    "qwen3_vl": (_build_qwen3_vl, QWEN_CHAT_TEMPLATE, ()),
    "llava": (_build_llava, LLAVA_CHAT_TEMPLATE, ()),
    "idefics3": (_build_idefics3, IDEFICS3_CHAT_TEMPLATE, tuple(IDEFICS3_SPECIAL_TOKENS)),
}


def build_tiny(texts: Iterable[str], config: TinyModelConfig | None = None):
    """Build ``(model, processor)``: an offline tokenizer trained on ``texts`` and a random-init VLM."""
    config = config or TinyModelConfig()
    builder, chat_template, special_tokens = BUILDERS[config.architecture]
    tokenizer = train_tokenizer(texts, vocab_size=config.vocab_size, chat_template=chat_template, extra_special_tokens=special_tokens)
    torch.manual_seed(config.seed)
    model, processor = builder(config, tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, processor
