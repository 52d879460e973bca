"""YAML configs loaded into typed dataclasses, validated with errors that name the file and key.

The dataclass holds the defaults; a YAML file holds only what differs. Nested dataclasses map
to nested YAML blocks; a field typed `dict` is a free pass-through block.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from handdet.core.errors import ConfigError

T = TypeVar("T")


def load_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping; a missing file, a parse error or a non-mapping is a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value at the top level")
    return data


def from_dict(cls: type[T], data: dict, source: str = "config", prefix: str = "") -> T:
    """Build dataclass `cls` from `data`, checking keys and types.

    Raises:
        ConfigError: for an unknown key or a value of the wrong type, naming `source` and the key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or 'config'}' must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, source, f"{prefix}{name}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{source}: {e}") from None


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value or {}, source, f"{key}.")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, source, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if tp is Any:
        return value
    if origin in (list, tuple) or tp in (list, tuple):
        origin = origin or tp
        if not isinstance(value, (list, tuple)):
            raise _type_error(source, key, tp, value)
        inner = args[0] if args else Any
        return type(value)(_coerce(inner, v, source, key) for v in value) if origin is list else tuple(
            _coerce(args[0] if args else Any, v, source, key) for v in value
        )
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _type_error(source, key, tp, value)
        return dict(value)
    if tp is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _type_error(source, key, tp, value)
        return float(value)
    if tp in (int, str, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise _type_error(source, key, tp, value)
    if isinstance(tp, type) and issubclass(tp, Path):
        return Path(value)
    return value


def _type_error(source: str, key: str, tp: Any, value: Any) -> ConfigError:
    name = getattr(tp, "__name__", str(tp))
    return ConfigError(f"{source}: key '{key}' expects {name}, got {type(value).__name__} {value!r}")


def parse_overrides(items: list[str] | None) -> dict:
    """Turn ['epochs=3', 'aug.scale=0.5'] into a nested dict, values parsed as YAML scalars."""
    out: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected key=value")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw != "" else ""
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def deep_update(base: dict, extra: dict) -> dict:
    """Return `base` updated recursively with `extra` (mappings merge, other values replace)."""
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_update(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain YAML-safe dict (Paths as strings)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj
