import pytest
import torch.nn as nn

from asru.errors import ModelError
from asru.models import language_layers, load_vlm


def test_missing_config(tmp_path):
    with pytest.raises(ModelError, match="config.json missing"):
        load_vlm(tmp_path)


def test_refuses_pickle_weights(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "qwen3_vl"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="safetensors"):
        load_vlm(tmp_path)


def test_unknown_architecture_is_a_clear_error():
    class Config:
        model_type = "mystery_vlm"

    model = nn.Module()
    model.config = Config()
    with pytest.raises(ModelError, match="mystery_vlm"):
        language_layers(model)
