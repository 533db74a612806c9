"""The package's layers import only downward, and the check that says so can fail."""

from __future__ import annotations

import shutil

import pytest

from sim.app.layers import LAYERS, layer_of, upward_imports

pytestmark = pytest.mark.smoke


def test_no_module_imports_from_a_layer_above(root):
    problems = upward_imports(root / "sim")
    assert not problems, "\n".join(map(str, problems))


def test_the_check_catches_an_upward_import_even_inside_a_function(root, tmp_path):
    copy = tmp_path / "sim"
    shutil.copytree(root / "sim", copy, ignore=shutil.ignore_patterns("__pycache__", "library"))
    target = copy / "rules" / "expr.py"
    target.write_text(target.read_text() + "\n\ndef _late():\n    from sim.engine.model import CommunityModel\n")
    (copy / "domain.py").write_text((copy / "domain.py").read_text() + "\nimport sim\n")
    problems = {(p.module, p.imported_layer) for p in upward_imports(copy)}
    assert problems == {("sim.rules.expr", "engine"), ("sim.domain", "facade")}


def test_every_module_has_a_layer_and_the_layers_are_in_order():
    names = [name for name, _ in LAYERS]
    assert names == ["base", "rules", "config", "activity", "state", "engine", "runs", "app", "facade"]
    assert layer_of("sim.errors") < layer_of("sim.rules.expr") < layer_of("sim.config.policy")
    assert layer_of("sim.engine.state.population") < layer_of("sim.engine.model") < layer_of("sim.runs.sweep")
    assert layer_of("sim.runs.sweep") < layer_of("sim.app.cli") < layer_of("sim")
