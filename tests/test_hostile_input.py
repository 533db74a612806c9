"""Hostile and careless input: every case is one line on stderr, exit 2, nothing written, in bounded time.

The cases are those found by trying the sandbox as an attacker and as a careless user would
(alias bombs, files that are not text, paths out of a policy's folder, huge expressions, limits,
values of the wrong type), plus hypothesis-generated expressions and YAML documents, which must
either load or fail with a :class:`SandboxError`, never anything else.  A sample is in the smoke
tier.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from conftest import policy, scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.app.cli import main
from sim.config.files import parse_yaml
from sim.config.scenario import validate_file
from sim.errors import SandboxError
from sim.rules import GROUP, MEMBER, parse

TIME_BOUND = 30  # seconds for any one hostile input, on this slow machine

BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)
POLICY = 'name: p\nrules:\n  - name: r\n    when: "{when}"\n    do: coupon\n'
SCENARIO = "days: {days}\npopulation:\n  initial_members: 20\n  archetype_mix: {{lurker: {mix}}}\npolicy: {pol}\n"


def _file(tmp: Path, name: str, content: str | bytes) -> str:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def _cases(tmp: Path) -> dict[str, list[str]]:
    """Each case: the command line that must be refused with one line."""
    ok_policy = _file(tmp, "ok.yaml", "name: ok\n")
    os.mkfifo(tmp / "fifo.yaml")
    (tmp / "pol").mkdir()
    os.symlink("/etc/passwd", tmp / "pol" / "link.yaml")
    return {
        "alias bomb": ["validate", _file(tmp, "bomb.yaml", BOMB)],
        "duplicate keys": ["validate", _file(tmp, "dup.yaml", "days: 10\ndays: 20\n")],
        "latin-1": ["validate", _file(tmp, "latin.yaml", "name: caf\xe9\n".encode("latin-1"))],
        "utf-16": ["validate", _file(tmp, "utf16.yaml", "name: x\n".encode("utf-16"))],
        "random bytes": ["validate", _file(tmp, "random.yaml", bytes(range(256)) * 4)],
        "deep nesting": ["validate", _file(tmp, "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")],
        "over 1 MB": ["validate", _file(tmp, "big.yaml", "# " + "x" * 1_100_000 + "\n")],
        "a FIFO": ["validate", str(tmp / "fifo.yaml")],
        "/proc/self/mem": ["validate", "/proc/self/mem"],
        "a folder": ["validate", str(tmp)],
        "chart outside": ["validate", _file(tmp, "pol/abs.yaml", "stages: /etc/passwd\n")],
        "chart above": ["validate", _file(tmp, "pol/up.yaml", "stages: ../ok.yaml\n")],
        "chart symlink out": ["validate", _file(tmp, "pol/sym.yaml", "stages: link.yaml\n")],
        "10,000 terms": ["validate", _file(tmp, "terms.yaml", POLICY.format(when=" and ".join(["trust > 0"] * 2500)))],
        "10,000 nots": ["validate", _file(tmp, "nots.yaml", POLICY.format(when="not " * 10_000 + "trust > 0"))],
        "400 digits": ["validate", _file(tmp, "digits.yaml", POLICY.format(when="trust > 1" + "0" * 400))],
        "infinite literal": ["validate", _file(tmp, "inf.yaml", POLICY.format(when="trust > 1e999"))],
        "days: true": ["validate", _file(tmp, "s1.yaml", SCENARIO.format(days="true", mix=1, pol=ok_policy))],
        "a NaN share": ["validate", _file(tmp, "s2.yaml", SCENARIO.format(days=10, mix=".nan", pol=ok_policy))],
        "a 400-digit day": [
            "validate",
            _file(tmp, "s3.yaml", SCENARIO.format(days="1" + "0" * 400, mix=1, pol=ok_policy)),
        ],
        "param true": ["run", scenario("existing-group"), "--set", "params.act_bias=true"],
        "empty --out": ["run", scenario("existing-group"), "--days", "2", "--out", ""],
        "100,000 replicates": ["run", scenario("existing-group"), "--replicates", "100000"],
        "a million LHS points": [
            "sweep",
            scenario("existing-group"),
            "--sample",
            "lhs",
            "--n",
            "1000000",
            "--range",
            "days=10:20",
            "--out",
            str(tmp / "sw1"),
        ],
        "a 20,000-point grid": [
            "sweep",
            scenario("existing-group"),
            "--grid",
            "days=" + ",".join(str(d) for d in range(10, 10_010)),
            "--grid",
            "params.act_bias=-3,-4",
            "--out",
            str(tmp / "sw2"),
        ],
        "a pool bigger than memory": [
            "run",
            scenario("existing-group"),
            "--set",
            "channels.moments.pool_size=100000000",
        ],
        "a malformed scheduler": [
            "sweep",
            scenario("existing-group"),
            "--grid",
            "days=3",
            "--backend",
            "dask",
            "--scheduler",
            "tcp://[::1:99999",
            "--out",
            str(tmp / "sw3"),
            "--no-progress",
        ],
    }


CASES = [
    "alias bomb",
    "duplicate keys",
    "latin-1",
    "utf-16",
    "random bytes",
    "deep nesting",
    "over 1 MB",
    "a FIFO",
    "/proc/self/mem",
    "a folder",
    "chart outside",
    "chart above",
    "chart symlink out",
    "10,000 terms",
    "10,000 nots",
    "400 digits",
    "infinite literal",
    "days: true",
    "a NaN share",
    "a 400-digit day",
    "param true",
    "empty --out",
    "100,000 replicates",
    "a million LHS points",
    "a 20,000-point grid",
    "a pool bigger than memory",
    "a malformed scheduler",
]
SMOKE = {"alias bomb", "a FIFO", "chart outside", "10,000 nots", "days: true", "empty --out"}


@pytest.fixture
def bounded():
    """Fail a case that takes longer than TIME_BOUND (a hang would otherwise stall the suite)."""

    def expire(signum, frame):
        raise TimeoutError(f"over {TIME_BOUND} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIME_BOUND)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.smoke) if c in SMOKE else c for c in CASES])
def test_hostile_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys, monkeypatch, bounded):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    argv = _cases(inputs)[case]
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in inputs.rglob("*"))
    started = time.perf_counter()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, f"{case}: exit {code}: {err[:300]}"
    assert err.startswith("error: ") and err.count("\n") == 1, f"{case}: {err[:300]}"
    assert "Traceback" not in err and "root:" not in err
    assert time.perf_counter() - started < TIME_BOUND
    assert sorted(p.name for p in inputs.rglob("*")) == before, f"{case} wrote into the inputs' folder"
    assert not any(work.iterdir()), f"{case} wrote into the working folder"


@pytest.mark.parametrize("value", ["abc", "-3", "0", "1e9"])
def test_a_bad_row_threads_setting_is_one_line(value, capsys, monkeypatch):
    monkeypatch.setenv("SANDBOX_ROW_THREADS", value)
    assert main(["validate", policy("baseline")]) == 2
    err = capsys.readouterr().err
    assert "SANDBOX_ROW_THREADS" in err and err.count("\n") == 1


def test_a_reader_that_goes_away_is_no_traceback(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        f"{sys.executable} -m sim mechanisms | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# --- generated input ------------------------------------------------------------------------

TOKENS = st.sampled_from(
    [
        "trust",
        "size",
        "days_inactive",
        "archetype",
        "stage",
        "is_core",
        "'lurker'",
        "0.3",
        "1e308",
        "-",
        "+",
        "*",
        "/",
        "(",
        ")",
        "and",
        "or",
        "not",
        "<",
        ">=",
        "==",
        "!=",
        " ",
        "1" * 40,
        "__import__",
        ".",
        "[",
        "]",
        "lambda",
        ":",
        ",",
        "'",
        '"',
        "\\",
        "nan",
        "inf",
        "\x00",
        "é",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=40).map(" ".join))
def test_any_expression_parses_or_is_a_sandbox_error(text):
    for vocab in (MEMBER, GROUP):
        try:
            parse(text, vocab)
        except SandboxError as exc:
            assert "\n" not in str(exc)


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "days",
        "population",
        "channels",
        "rules",
        "community_rules",
        "content",
        "groups",
        "stages",
        "policy",
        "params",
        "name",
        "replicates",
        "admission",
        "rewards",
    ]
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(KEYS, YAML_VALUES, max_size=6) | st.text(max_size=200))
def test_any_yaml_document_loads_or_is_a_sandbox_error(tmp_path, document):
    text = document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True)
    try:
        parse_yaml(text, file="generated.yaml")
    except SandboxError:
        return
    path = tmp_path / "generated.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        validate_file(path)
    except SandboxError as exc:
        assert "\n" not in str(exc)
