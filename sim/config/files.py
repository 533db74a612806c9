"""Reading YAML files into validated models, with errors that point at the line.

Shared by :mod:`sim.scenario` and :mod:`sim.policy`: YAML is parsed once into plain data
and once into a node tree (for line numbers); ``--set`` overrides are applied to the plain
data; pydantic validates it; the first problem becomes a one-line
:class:`~sim.errors.SandboxError` naming the file, the line, the dotted place and the fix.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from sim.config import safe_yaml
from sim.errors import SandboxError, place_of


def read_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file into plain data and its node tree (for line numbers), within safe bounds."""
    return parse_yaml(safe_yaml.read_text(path), file=str(path))


def parse_yaml(text: str, *, file: str) -> tuple[dict, yaml.Node | None]:
    """Parse YAML text (a file's, or a policy typed into the dashboard) into a top-level mapping."""
    data, root = safe_yaml.parse(text, file=file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SandboxError("expected a mapping of fields at the top of the file", file=file, line=1)
    return data, root


def line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """The line (1-based) of the deepest node along ``loc`` that exists in the file."""
    node, line = root, None
    for key in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(key):
                    nxt, line = v, k.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def validate(
    model: type[BaseModel], data: dict, *, file: str, root: yaml.Node | None, origin: dict[tuple, str] | None = None
) -> BaseModel:
    """Validate plain data against a model; raise the first problem as a one-line error.

    ``origin`` maps locations set from the command line (``--set``) to the option's text,
    so that a bad override is reported as such rather than against the file.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a typo both adds an unknown field and leaves a required one missing: name the typo
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and "[" in k and "]" in k))
        message = _describe(model, err, loc)
        for set_loc, option in (origin or {}).items():
            if loc[: len(set_loc)] == set_loc or set_loc[: len(loc)] == loc:
                raise SandboxError(message, place=f"--set {option}") from None
        raise SandboxError(message, file=file, line=line_of(root, loc), place=place_of(loc)) from None


def _describe(model: type[BaseModel], err: Any, loc: tuple) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        known = fields_at(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        name = f"'{loc[-1]}'" if _NAME.fullmatch(str(loc[-1])) else "(a name that is not a field name)"
        return f"unknown field {name}; {hint}expected one of: {', '.join(known)}"
    if kind == "missing":
        return "missing required field"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    if kind not in ("value_error",) and not isinstance(got, (dict, list)):
        msg += f", got {shown(got)}"
    return msg[0].lower() + msg[1:]


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def shown(value: Any) -> str:
    """A value as an error may show it: short scalars as written, anything else by its kind and size.

    Errors never echo a long text or a structure whole: a file that is not what it claims to be
    (a password file given as a stage chart) must not have its content printed back.
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 and value.isprintable() else f"a text of {len(value):,} characters"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a value of type {type(value).__name__}"


def _wants_number(annotation: Any) -> bool:
    """Does a field's annotation take a number (int or float), directly or in a list or mapping?"""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_wants_number(a) for a in args if a is not type(None))
    if origin is typing.Annotated:
        return _wants_number(args[0])
    if origin in (list, tuple, dict):
        return bool(args) and _wants_number(args[-1])
    return annotation in (int, float)


def _holds_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return any(isinstance(v, bool) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, bool) for v in value)
    return False


class FileModel(BaseModel):
    """The base of every file schema: unknown fields refused, numbers finite and never true/false.

    YAML reads ``yes``, ``true`` and ``on`` as booleans, and pydantic would take a boolean as
    the number 1: ``days: true`` must be an error, not a one-day run.  ``.nan`` and ``.inf``
    are refused wherever a number is expected.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _holds_bool(value) and _wants_number(field.annotation):
            raise ValueError("expected a number, not true or false")
        return value


def fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names allowed at a location of a model (for 'did you mean' hints)."""
    annotation: Any = model
    for key in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(key))
            if field is None:
                return []
            annotation = field.annotation
        else:
            args = typing.get_args(annotation)
            annotation = args[-1] if args else None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Union[..., None] so the model inside can be inspected."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            return models[0]
        lists = [a for a in typing.get_args(annotation) if typing.get_origin(a) in (list, dict)]
        if lists:
            return lists[0]
    return annotation


def apply_set(data: dict, path: str, value: Any, *, option: str) -> tuple:
    """Apply one ``--set a.b.c=value`` to plain data; return its location tuple.

    Lists of named items (channels, rules) may be addressed by name or by index:
    ``channels.forum.conversion_rate=0.02`` or ``channels.0.conversion_rate=0.02``.
    """
    keys = [k for k in path.split(".") if k]
    if not keys:
        raise SandboxError("empty path; write KEY=VALUE such as days=90", place=f"--set {option}")
    node: Any = data
    loc: list = []
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            index = _list_index(node, key, option)
            loc.append(index)
            if last:
                node[index] = value
            else:
                node = node[index]
            continue
        if not isinstance(node, dict):
            raise SandboxError(
                f"'{'.'.join(keys[:i])}' holds a value, not fields; no such path", place=f"--set {option}"
            )
        loc.append(key)
        if last:
            node[key] = value
        else:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
    return tuple(loc)


def value_at(data: Any, path: str) -> Any:
    """The value an ``--set`` path names in plain data (lists by name or index, as
    :func:`apply_set` reads them), or None where the path leads nowhere."""
    node = data
    for key in (k for k in path.split(".") if k):
        if isinstance(node, list):
            try:
                node = node[_list_index(node, key, path)]
            except SandboxError:
                return None
        elif isinstance(node, dict):
            node = node.get(key)
        else:
            return None
    return node


def _list_index(items: list, key: str, option: str) -> int:
    if key.isdigit() and int(key) < len(items):
        return int(key)
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == key:
            return index
    names = [str(item.get("name")) for item in items if isinstance(item, dict) and "name" in item]
    raise SandboxError(
        f"no item '{key}' in this list; use an index 0-{len(items) - 1}"
        + (f" or a name: {', '.join(names)}" if names else ""),
        place=f"--set {option}",
    )


def set_options(sets: Any = None, **keywords: Any) -> list[str]:
    """``--set`` options from Python values: ``sets`` (a mapping of paths to values, or a list of
    ``KEY=VALUE`` texts) and keywords in Python's spelling, a double underscore for each dot
    (``policy__groups__cap=150`` is ``--set policy.groups.cap=150``).

    Values are written as JSON, which YAML reads back as the same value (a string stays a
    string, ``None`` is null, a list a list).
    """
    options = []
    if isinstance(sets, dict):
        pairs = list(sets.items())
    else:
        options += [str(option) for option in sets or ()]
        pairs = []
    pairs += [(key.replace("__", "."), value) for key, value in keywords.items()]
    for path, value in pairs:
        if hasattr(value, "item"):  # a NumPy number
            value = value.item()
        try:
            text = json.dumps(value)
        except TypeError:
            raise SandboxError(
                f"a {type(value).__name__} cannot be a setting; give a number, text, true/false, a list or a mapping",
                place=str(path),
            ) from None
        options.append(f"{path}={text}")
    return options


def parse_set(option: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE``; the value is read as YAML (so 0.1 is a number, true a boolean)."""
    if "=" not in option:
        raise SandboxError("expected KEY=VALUE, e.g. days=90 or policy.groups.cap=150", place=f"--set {option}")
    key, raw = option.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value
