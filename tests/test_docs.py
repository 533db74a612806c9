"""The docs' reference tables are generated from the code and kept current; the README's commands are the ones CI runs."""

from __future__ import annotations

from conftest import ROOT

from sim.app.docs import generated_section, reference


def test_reference_doc_matches_the_code():
    text = (ROOT / "docs" / "reference.md").read_text()
    assert generated_section(text) == reference(), "run: python -m sim.app.docs --write"


def test_readme_names_both_set_up_commands():
    readme = (ROOT / "README.md").read_text()
    assert 'apt-get install -y chromium && pip install -e ".[test]" && python -m pytest -q -n auto' in readme
    assert "pip install . && sandbox compare existing-group --policy baseline --policy weekly-ritual" in readme
    assert "python -m pytest -q -m smoke" in readme


def _block_after(readme: str, marker: str) -> str:
    start = readme.index("```yaml", readme.index(marker)) + len("```yaml")
    return readme[start : readme.index("```", start)]


def test_readme_examples_are_valid_files(tmp_path):
    from sim.config.scenario import load_setup, validate_file

    readme = (ROOT / "README.md").read_text()
    (tmp_path / "policies").mkdir()
    (tmp_path / "scenarios").mkdir()
    policy = tmp_path / "policies" / "weekly-ritual.yaml"
    policy.write_text(_block_after(readme, "A policy file:"))
    scenario = tmp_path / "scenarios" / "example.yaml"
    scenario.write_text(_block_after(readme, "A scenario file:"))
    assert validate_file(policy) == "policy"
    assert validate_file(scenario) == "scenario"
    assert load_setup(scenario).policy.rules[1].actions == [("add_points", 5.0), ("red_envelope", 2.0)]
