"""Typed configs loadable from YAML; unknown keys are rejected and errors name the file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from asru.errors import AsruError, ConfigError, DataError

ConfigT = TypeVar("ConfigT", bound=BaseModel)

# the tiny VLM families asru builds (asru.models.tiny); here, not there, so configs name them without importing transformers
Architecture = Literal["qwen3_vl", "llava", "idefics3"]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)


class StrictConfig(BaseModel):
    """Base for every config: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


def merge(base: dict, extra: dict) -> dict:
    """``extra`` on top of ``base``; nested mappings (method_args, rl) are merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _printable(text: str) -> str:
    """``text`` with control characters escaped (a YAML key may hold a newline; errors stay one line)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def describe_validation_error(error: ValidationError, source: str, data: Any = None, entry: str | None = None) -> str:
    """One line for the first problem: ``source: [entry N (id): ]field 'a.b': message``.

    With ``entry`` (e.g. "subject") and a list document ``data``, the leading list index is named
    as that entry, with the entry's ``id`` when it has one, so a user finds it in a long file.
    """
    first = error.errors()[0]
    loc = list(first["loc"])
    where = ""
    if entry and loc and isinstance(loc[0], int):
        index = loc.pop(0)
        record = data[index] if isinstance(data, list) and 0 <= index < len(data) else None
        record_id = record.get("id") if isinstance(record, dict) else None
        where = f"{entry} {index}" + (f" ({_printable(record_id)})" if isinstance(record_id, str) and record_id else "") + ": "
    field = _printable(".".join(str(part) for part in loc)) or "(root)"
    message = first["msg"]
    expected = {"model_type": "a mapping", "model_attributes_type": "a mapping", "dict_type": "a mapping", "list_type": "a list"}.get(first["type"])
    if expected:  # "Input should be a valid dictionary or instance of SubjectRecord" says less than this
        message = f"expected {expected}, got {_json_type(first.get('input'))}"
    return f"{source}: {where}field '{field}': {_printable(message)}"


def _json_type(value: Any) -> str:
    """The JSON / YAML name of a parsed value's type, for error messages."""
    names = {type(None): "null", bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "mapping"}
    return names.get(type(value), type(value).__name__)


def load_json_file(path: str | Path, error: type[AsruError] = DataError, what: str = "file") -> Any:
    """Parse a JSON file; a missing, non-UTF-8, malformed or too deeply nested file is one line naming it."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {what} not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as problem:
        raise error(f"{path}:{problem.lineno}: invalid JSON ({problem.msg})") from None
    except UnicodeDecodeError as problem:
        raise error(f"{path}: not UTF-8 text (byte {problem.start})") from None
    except RecursionError:
        raise error(f"{path}: invalid JSON (nested too deeply)") from None
    except OSError as problem:
        raise error(f"{path}: cannot read ({problem.strerror or problem})") from None


def validate_document(schema: Any, data: Any, path: str | Path, error: type[AsruError] = DataError, entry: str | None = None) -> Any:
    """``data`` (a parsed file) validated by ``schema`` (a pydantic model or a type such as ``list[Model]``).

    Every file a loader reads goes through a typed schema before it is used, so a malformed value
    is one line naming the file, the entry and the field instead of a crash deep inside the code.
    """
    adapter = schema if isinstance(schema, TypeAdapter) else TypeAdapter(schema)
    try:
        return adapter.validate_python(data)
    except ValidationError as problem:
        raise error(describe_validation_error(problem, str(path), data, entry)) from None
    except RecursionError:
        raise error(f"{path}: nested too deeply") from None


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
