"""The package's layers, and a check that every import runs downward: ``python -m sim.app.layers``.

Each module belongs to one layer; a module may import from its own layer and the layers below,
never from one above.  This keeps the floor plan one a newcomer can read from the bottom up:
the domain's words, then the policy language, then the files, then the engine, then batches of
runs, then what a person touches.  ``sim/__init__.py`` and ``sim/__main__.py`` are the public
face over all layers and may import any of them; no module may import them back.

The check reads imports as the code states them (``ast``, including imports inside functions),
so it runs nothing of the package.  ``tests/test_layers.py`` runs it on every test run.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("sim.errors", "sim.domain", "sim.version")),
    ("rules", ("sim.rules",)),
    ("config", ("sim.config",)),
    ("activity", ("sim.activity",)),
    ("state", ("sim.engine.state",)),
    ("engine", ("sim.engine",)),
    ("runs", ("sim.runs",)),
    ("app", ("sim.app",)),
    ("facade", ("sim",)),
)
"""Bottom to top; a module's layer is the first whose prefix it matches (``sim`` itself last)."""


@dataclass(frozen=True)
class UpwardImport:
    """One import that runs against the layers."""

    module: str
    line: int
    imported: str
    module_layer: str
    imported_layer: str

    def __str__(self) -> str:
        return (
            f"{self.module}:{self.line}: {self.module_layer} imports {self.imported} "
            f"({self.imported_layer}, a layer above)"
        )


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the layer a dotted module name belongs to."""
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes if p != "sim"):
            return index
    return len(LAYERS) - 1


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every module a file imports from within ``sim``, with its line."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "sim"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "sim":
                continue
            # "from sim.engine import metrics" names sim.engine.metrics; a symbol's name after its
            # module changes no layer, since layers are matched by prefix
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def upward_imports(root: Path | None = None) -> list[UpwardImport]:
    """Every import in the package that reaches a layer above the importing module's."""
    root = root or Path(__file__).resolve().parents[1]
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        mine = layer_of(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, imported in _imports(tree, module, path.name == "__init__.py"):
            theirs = layer_of(imported)
            if theirs > mine:
                problems.append(UpwardImport(module, line, imported, LAYERS[mine][0], LAYERS[theirs][0]))
    return problems


def main() -> int:
    problems = upward_imports()
    for problem in problems:
        print(problem)
    names = " < ".join(name for name, _ in LAYERS)
    print(f"{len(problems)} upward imports ({names})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
