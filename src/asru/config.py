"""Typed configs loadable from YAML; unknown keys are rejected and errors name the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from asru.errors import AsruError, ConfigError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class StrictConfig(BaseModel):
    """Base for every config: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def _printable(text: str) -> str:
    """``text`` with control characters escaped (a YAML key may hold a newline; errors stay one line)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def describe_validation_error(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    field = _printable(".".join(str(part) for part in first["loc"])) or "(root)"
    return f"{source}: field '{field}': {_printable(first['msg'])}"


def load_yaml_file(path: str | Path, error: type[AsruError] = ConfigError, what: str = "config file") -> Any:
    """Parse a YAML (or JSON) file safely; any problem is one line naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = " ".join(str(getattr(problem, "problem", None) or problem).split())
        raise error(f"{path}{where}: invalid YAML ({reason})") from None
    except UnicodeDecodeError as problem:
        raise error(f"{path}: not UTF-8 text (byte {problem.start})") from None
    except RecursionError:
        raise error(f"{path}: nested too deeply") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A config file: a YAML mapping of field names to values (empty file: no fields)."""
    path = Path(path)
    data = load_yaml_file(path)
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
