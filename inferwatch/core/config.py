"""The strict-config kit: frozen pydantic models, durations, and errors as `FILE: path: problem`.

Every problem is reported as `FILE: path.to.field: what is wrong`; a value that came from a
command-line flag is reported under the flag's name instead of the file's. Each part owns its
schema (inferwatch.exporter.config, inferwatch.notifier.config, ...) and builds it from this kit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from inferwatch.core.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(Exception):
    """Every problem found in one configuration, each as `source: path: message`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The file's top-level mapping, or ConfigError naming the file and line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror or err}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ConfigError([f"{path}: line {line}: not UTF-8 text"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError([f"{path}: {where}invalid YAML: {getattr(err, 'problem', err)}"]) \
            from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping"])
    return data


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating levels as needed."""
    *parents, leaf = dotted.split(".")
    for key in parents:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[leaf] = value


def validate_model(model: type[Model], data: dict[str, Any], path: str | Path | None = None,
                   overrides: dict[str, tuple[str, Any]] | None = None) -> Model:
    """Validate `data` (read from `path`, which errors name) with the flags' overrides."""
    for dotted, (_flag, value) in (overrides or {}).items():
        set_path(data, dotted, value)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        flags = {dotted: flag for dotted, (flag, _v) in (overrides or {}).items()}
        raise ConfigError(describe(err, str(path or "<flags>"), flags)) from None


def describe(err: ValidationError, source: str, flags: dict[str, str]) -> list[str]:
    """One `source: path: message` line per validation error."""
    lines = []
    for e in err.errors():
        dotted = ".".join(str(p) for p in e["loc"])
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown field"
        origin = _flag_for(dotted, flags)
        lines.append(f"{origin}: {message}" if origin else f"{source}: {dotted or '.'}: {message}")
    return lines


def _flag_for(dotted: str, flags: dict[str, str]) -> str:
    """The flag that set this path: itself, or a list flag (`--engine #2: url`)."""
    if dotted in flags:
        return flags[dotted]
    for path, flag in flags.items():
        if dotted.startswith(path + "."):
            index, _, rest = dotted[len(path) + 1:].partition(".")
            if index.isdigit():
                return f"{flag} #{int(index) + 1}" + (f": {rest}" if rest else "")
            return f"{flag}: {index}"
    return ""
