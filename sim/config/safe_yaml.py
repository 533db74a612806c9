"""Reading YAML that may be hostile: bounded size, depth and alias expansion, no duplicate keys.

A scenario or policy is a few kilobytes written by a person; anything far from that is refused
with one line before it can cost memory or time: a file over 1 MB, text that is not UTF-8,
nesting deeper than 64, aliases that expand past 100,000 values (a "billion laughs" bomb is a
few hundred bytes), a key given twice in one mapping (YAML would silently keep the last), a path
that is not a regular file (a FIFO would block, ``/proc/self/mem`` fails to read).

The text is composed once into a node tree (which keeps line numbers and does not expand
aliases), checked, and only then constructed into plain data with PyYAML's safe constructor.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from sim.errors import SandboxError

MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_VALUES = 100_000


def read_text(path: str | Path, *, what: str = "file") -> str:
    """The UTF-8 text of a regular file of at most :data:`MAX_FILE_BYTES`, or a one-line error."""
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SandboxError("file not found; check the path", file=name) from None
    except IsADirectoryError:
        raise SandboxError(f"is a folder; give a YAML {what}", file=name) from None
    except OSError as exc:
        raise SandboxError(
            f"cannot be opened ({exc.strerror or 'error'}); check the path and permissions", file=name
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "is a folder" if stat.S_ISDIR(mode) else "is not a regular file"
        raise SandboxError(f"{kind}; give a YAML {what}", file=name)
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise SandboxError(f"cannot be read ({exc.strerror or 'error'}); give a YAML {what}", file=name) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SandboxError(
            f"is larger than {MAX_FILE_BYTES // 1_000_000} MB; a {what} is a few kilobytes of YAML", file=name
        )
    return decode(raw, file=name)


def decode(raw: bytes, *, file: str | None) -> str:
    """UTF-8 text (a byte-order mark allowed), or a one-line error naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SandboxError(
            f"is not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8", file=file
        ) from None


def parse(text: str, *, file: str | None) -> tuple[Any, yaml.Node | None]:
    """Plain data and its node tree from YAML text, after the checks in this module's docstring."""
    if len(text) > MAX_FILE_BYTES:
        raise SandboxError(
            f"is larger than {MAX_FILE_BYTES // 1_000_000} MB; a scenario or policy is a few kilobytes", file=file
        )
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise SandboxError(
            f"malformed YAML: {problem}; check indentation, colons and quotes",
            file=file,
            line=mark.line + 1 if mark else None,
        ) from None
    except RecursionError:
        raise SandboxError(
            f"nested more than {MAX_DEPTH} levels deep; a scenario or policy is a few levels", file=file
        ) from None
    if root is None:
        return {}, None
    check_tree(root, file=file)
    loader = yaml.SafeLoader("")
    try:
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "a value YAML cannot read"
        raise SandboxError(f"malformed YAML: {problem}", file=file, line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return data, root


def check_tree(root: yaml.Node, *, file: str | None) -> None:
    """Refuse deep nesting, alias bombs and duplicate keys, walking the node tree once.

    Aliases make the tree a graph: a node reached twice is counted twice (that is what
    constructing it would cost) but walked once, so the check itself stays linear in the text.
    """
    size: dict[int, int] = {}  # node id -> values it expands to, once finished
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise SandboxError(
                f"nested more than {MAX_DEPTH} levels deep; a scenario or policy is a few levels",
                file=file,
                line=node.start_mark.line + 1,
            )
        if id(node) in size:
            continue
        children = _children(node)
        if done:
            total = 1 + sum(size[id(child)] for child in children)
            if total > MAX_VALUES:
                raise SandboxError(
                    f"expands to more than {MAX_VALUES:,} values (aliases repeat what they name); "
                    "write the values out or use fewer aliases",
                    file=file,
                    line=node.start_mark.line + 1,
                )
            size[id(node)] = total
            continue
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, file)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _no_duplicate_keys(node: yaml.MappingNode, file: str | None) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in seen:
            raise SandboxError(
                f"a key is given twice in one mapping (first on line {seen[key.value]}); keep one", file=file, line=line
            )
        seen[key.value] = line
