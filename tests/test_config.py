import pytest

from asru.config import build_config
from asru.errors import ConfigError
from asru.train.finetune import FinetuneConfig
from asru.train.unlearn import UnlearnConfig


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method: npo\nsteps: 7\nmethod_args: {beta: 0.2}\n")
    config = build_config(UnlearnConfig, path, {"steps": 9, "seed": None})
    assert (config.method, config.steps, config.method_args, config.seed) == ("npo", 9, {"beta": 0.2}, 0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("stepz: 3\n", "field 'stepz'"),
        ("steps: -1\n", "field 'steps'"),
        ("steps: [1\n", "invalid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        ("model: {hidden_size: 30, num_heads: 4}\n", "divisible"),
    ],
)
def test_bad_configs_name_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    cls = FinetuneConfig if text.startswith("model") else UnlearnConfig
    with pytest.raises(ConfigError, match=message) as info:
        build_config(cls, path)
    assert "bad.yaml" in str(info.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        build_config(UnlearnConfig, tmp_path / "nope.yaml")


def test_method_args_are_validated_by_the_method():
    from asru.methods.base import get_method

    with pytest.raises(ConfigError, match="method_args of 'npo'.*betta"):
        get_method("npo").parse_params({"betta": 1})


def test_a_key_with_a_newline_is_named_on_one_line(tmp_path):
    """Found by the fuzz test: a YAML key holding a newline must not break the one-line error."""
    path = tmp_path / "c.yaml"
    path.write_text("? '\n\n'\n")
    with pytest.raises(ConfigError) as error:
        build_config(UnlearnConfig, path)
    assert "\n" not in str(error.value) and "field '\\n'" in str(error.value)
