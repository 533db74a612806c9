"""NumPy back end: the intermediate form compiled to a function of column arrays.

``compile_mask(node, vocab)`` returns ``f(env) -> bool array`` where ``env`` maps each name to
an array over all members (or all groups, or all prospects) at once, so a rule costs a few
vectorised operations per day however many members there are.  Numbers are compared and
combined in float64, as durable-rules does, so both back ends agree to the last bit even
for float32 member state (a float32 0.3 is a little above the double 0.3).  Categorical names arrive as
integer codes (their index in the field's ``values``); a string literal is turned into its code
once, at compile time.  Division by zero yields 0, not inf, so rules never see NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from sim.errors import InternalError, SandboxError
from sim.rules.expr import negate
from sim.rules.vocabulary import Vocabulary

Env = Mapping[str, np.ndarray]

_CMP = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


class Mask:
    """A compiled condition, ``mask(env) -> bool array``.

    It pickles as its source (the intermediate form and the vocabulary) and is compiled again
    where it is unpickled, so a loaded setup can travel to a worker process or a cluster node
    whole, with no file to read there.
    """

    def __init__(self, node: tuple, vocab: Vocabulary):
        self.node, self.vocab = node, vocab
        self._values = compile_values(node, vocab)

    def __call__(self, env: Env) -> np.ndarray:
        out = self._values(env)
        return np.asarray(out, dtype=bool) if np.ndim(out) else np.full(_length(env), bool(out))

    def __reduce__(self):
        return (Mask, (self.node, self.vocab))


def compile_mask(node: tuple, vocab: Vocabulary) -> Callable[[Env], np.ndarray]:
    """Compile a condition to ``f(env) -> bool array`` (a :class:`Mask`)."""
    return Mask(node, vocab)


def _length(env: Env) -> int:
    """Rows in an environment: its ``length`` if it says (lazy envs), else its first array's."""
    length = getattr(env, "length", None)
    if length is not None:
        return int(length)
    for value in env.values():
        if np.ndim(value):
            return len(value)
    return 0


def _truth(fn):
    return lambda env: np.not_equal(fn(env), 0)


def compile_values(node: tuple, vocab: Vocabulary):
    """Compile an expression to ``f(env) -> array or scalar`` (float64 arithmetic; also durable-rules' derived values)."""
    tag = node[0]
    if tag == "num":
        value = node[1]
        return lambda env: value
    if tag == "field":
        name = node[1]
        if vocab.fields[name].kind == "cat":
            return lambda env: env[name]
        return lambda env: _f64(env[name])
    if tag == "neg":
        inner = compile_values(node[1], vocab)
        return lambda env: -inner(env)
    if tag == "arith":
        op, a, b = node[1], compile_values(node[2], vocab), compile_values(node[3], vocab)
        if op == "+":
            return lambda env: a(env) + b(env)
        if op == "-":
            return lambda env: a(env) - b(env)
        if op == "*":
            return lambda env: a(env) * b(env)
        return lambda env: _safe_divide(a(env), b(env))
    if tag == "cmp":
        return _compile_cmp(node, vocab)
    if tag == "and":
        parts = [_as_bool(n, vocab) for n in node[1]]
        return lambda env: _reduce(np.logical_and, parts, env)
    if tag == "or":
        parts = [_as_bool(n, vocab) for n in node[1]]
        return lambda env: _reduce(np.logical_or, parts, env)
    if tag == "not":  # pushed down to the comparisons, as durable-rules negates (see expr.negate)
        return _as_bool(negate(node[1]), vocab)
    raise InternalError(f"the NumPy back end cannot compile {tag!r}")


def _as_bool(node: tuple, vocab: Vocabulary):
    fn = compile_values(node, vocab)
    if node[0] == "field" and vocab.fields[node[1]].kind == "flag":
        return _truth(fn)
    return fn


def _reduce(op, parts, env):
    out = parts[0](env)
    for part in parts[1:]:
        out = op(out, part(env))
    return out


def _compile_cmp(node: tuple, vocab: Vocabulary):
    op, left, right = node[1], node[2], node[3]
    ufunc = _CMP[op]
    if left[0] == "str" or right[0] == "str":
        field_node, literal = (right, left[1]) if left[0] == "str" else (left, right[1])
        code = category_code(vocab, field_node[1], literal)
        name = field_node[1]
        return lambda env: ufunc(env[name], code)
    for field_node, const_node, flip in ((left, right, False), (right, left, True)):
        if field_node[0] == "field" and const_node[0] == "num" and _exact_in_float32(const_node[1]):
            # float32 v against a constant c that float32 holds exactly: comparing in float32
            # gives the same answer as in float64, without widening the whole column
            name, const = field_node[1], const_node[1]
            if flip:
                return lambda env: ufunc(const, env[name])
            return lambda env: ufunc(env[name], const)
    a, b = compile_values(left, vocab), compile_values(right, vocab)
    if not (_computed(left) or _computed(right)):
        return lambda env: ufunc(a(env), b(env))

    def finite_comparison(env):
        # arithmetic may overflow (inf) or be undefined: no comparison holds for such a value,
        # as none does in durable-rules, where it arrives as null
        with np.errstate(over="ignore", invalid="ignore"):
            x, y = a(env), b(env)
            return ufunc(x, y) & np.isfinite(x) & np.isfinite(y)

    return finite_comparison


def _computed(node: tuple) -> bool:
    """Is this side computed (arithmetic or a negation), so that it could fail to be finite?"""
    return node[0] in ("arith", "neg")


def _exact_in_float32(value) -> bool:
    return bool(np.float32(value) == value) and abs(value) < 2**24


def category_code(vocab: Vocabulary, name: str, literal: str) -> int:
    """The integer code of a categorical value, as the model stores it."""
    values = vocab.fields[name].values
    if values is None or literal not in values:
        known = ", ".join(values or ())
        raise SandboxError(f"unknown {name} '{literal}'; expected one of: {known}")
    return values.index(literal)


def _f64(values):
    """float32 columns widened to float64; other values as they are."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        return values.astype(np.float64)
    return values


def _safe_divide(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b != 0)
    return out if out.ndim else float(out)


class NumpyRules:
    """Rules evaluated as NumPy masks over all rows at once (the default for member rules)."""

    def __init__(self, rules: list):
        self.rules = rules

    def matches(self, env, eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """Rows (among the ``eligible`` mask) where each rule's condition holds."""
        return [np.flatnonzero(rule.mask(env) & eligible) for rule in self.rules]

    def close(self) -> None:
        pass


class NumpyStages:
    """A stage chart run as NumPy masks: the mirror of the durable-rules statechart."""

    def __init__(self, chart):
        self.chart = chart

    def step(self, env, stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        """The stage of each group in ``gids`` after today's (at most one) transition."""
        before = stage[gids]
        after = before.copy()
        for (source, target, _), mask in zip(self.chart.transitions, self.chart.masks):
            here = before == source
            if not here.any():  # no group in this transition's stage: its condition need not be computed
                continue
            hit = here & mask(env)[gids]
            after[hit] = target
        return after

    def close(self) -> None:
        pass
