"""A policy file's text with settings applied, keeping what its writer wrote around them.

``sandbox optimize`` writes the policies it found as complete files: the starting policy's own
text, edited in place by ruamel.yaml's round-trip mode (comments, order and quoting survive),
with a comment on top that says how the file was made.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from sim.config.files import apply_set, parse_yaml


def policy_with(text: str, settings: Sequence[tuple[str, Any]], *, file: str, header: str = "") -> str:
    """``text`` with each ``(path, value)`` set (paths inside the policy, without ``policy.``),
    and ``header`` as comment lines on top.  The text is checked by the bounded parser first."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    parse_yaml(text, file=file)
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    data = rt.load(text) or CommentedMap()
    for path, value in settings:
        if hasattr(value, "item"):  # a NumPy number
            value = value.item()
        apply_set(data, path, value, option=f"policy.{path}={value}")
    out = io.StringIO()
    rt.dump(data, out)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + out.getvalue()
