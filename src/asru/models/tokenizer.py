"""An offline tokenizer: no hub, trained in under a second on the world's own text.

A byte-level BPE (``tokenizers``) wrapped in ``PreTrainedTokenizerFast`` with the special tokens
that Qwen processors look up by string, and a Qwen-style chat template, so the tiny model is
driven exactly like a real instruct VLM (``apply_chat_template`` then the processor).
"""

from __future__ import annotations

from typing import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"
SPECIAL_TOKENS = [
    PAD_TOKEN,
    "<|im_start|>",
    EOS_TOKEN,
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<image>",  # LLaVA-style image placeholder
]

# Qwen-style chat template without a default system prompt (keeps tiny-model sequences short).
# `image_placeholder` is filled per architecture: Qwen wraps <|image_pad|> in vision tokens.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
LLAVA_CHAT_TEMPLATE = QWEN_CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>\n")
# Idefics3 / SmolVLM: the processor wraps each <image> in <fake_token_around_image><global-img>...; no newline after it.
IDEFICS3_CHAT_TEMPLATE = QWEN_CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", "<image>")
# The tokens Idefics3Processor looks up by string (it would add missing ones after the model's
# embedding was sized): special tokens of the Idefics3 tokenizer only, so the others keep their ids.
IDEFICS3_SPECIAL_TOKENS = ["<fake_token_around_image>", "<global-img>", "<end_of_utterance>"]


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 2048, chat_template: str = QWEN_CHAT_TEMPLATE, extra_special_tokens: Sequence[str] = ()
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on ``texts``; deterministic for the same texts in the same order.

    ``extra_special_tokens`` come after :data:`SPECIAL_TOKENS` (a family's own placeholders).
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[*SPECIAL_TOKENS, *extra_special_tokens],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        chat_template=chat_template,
        padding_side="left",
    )
