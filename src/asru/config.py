"""Typed configs loadable from YAML; unknown keys are rejected and errors name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from asru.errors import ConfigError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base for every config: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def describe_validation_error(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(root)"
    return f"{source}: field '{field}': {first['msg']}"


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML ({getattr(error, 'problem', error)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config fields, got {type(data).__name__}")
    return data


def build_config(cls: type[ConfigT], path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ConfigT:
    """``cls`` from an optional YAML file, with CLI ``overrides`` (None values ignored) on top."""
    data = read_yaml(path) if path else {}
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, str(path) if path else "options")) from None


def dump_config(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
