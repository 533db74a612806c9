"""The policy language: ``when`` expressions parsed into a small intermediate form.

An expression such as ``days_inactive >= 30 and trust < 0.3`` is parsed with Python's
:mod:`ast` and walked against a whitelist: names from a :class:`~sim.rules.vocabulary.Vocabulary`,
numbers, strings, comparisons, ``and``/``or``/``not`` and ``+ - * /``.  Anything else (calls,
attributes, subscripts, lambdas, comprehensions, ``__import__``...) is rejected with a one-line
error.  Nothing is ever passed to ``eval`` or ``exec``.

The intermediate form is plain nested tuples, JSON-serialisable, so that several back ends
(NumPy masks here, durable-rules later) compile the same thing:

    ("num", 0.3)  ("str", "expert")  ("field", "trust")  ("neg", x)
    ("arith", "+", a, b)  ("cmp", ">=", a, b)  ("and", [a, b, ...])  ("or", [...])  ("not", x)
"""

from __future__ import annotations

import ast
import difflib
import math
import warnings
from collections.abc import Mapping

from sim.errors import InternalError, SandboxError
from sim.rules.vocabulary import Vocabulary

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}

_FORBIDDEN = {
    ast.Call: "function calls",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "if-expressions",
    ast.NamedExpr: "assignments",
    ast.Starred: "starred expressions",
}


MAX_LENGTH = 2_000
"""Characters in one expression: a rule is a line or two; this bounds parsing time and memory."""
MAX_TERMS = 200
"""Names, numbers and operators in one expression."""
MAX_DEPTH = 32
"""Nesting of operators and parentheses in one expression."""
MAX_DIGITS = 30
"""Digits of one number (a 400-digit number is a mistake, and slow to compare exactly)."""


def parse(text: str, vocab: Vocabulary, constants: Mapping[str, float] | None = None) -> tuple:
    """Parse and type-check one ``when`` expression; return its intermediate form.

    ``constants``: named numbers the expression may use like a field (a policy's
    ``parameters``), each becoming its number in the intermediate form.

    An expression longer than :data:`MAX_LENGTH`, with more than :data:`MAX_TERMS` terms, nested
    deeper than :data:`MAX_DEPTH`, or with a number that is not finite or has more than
    :data:`MAX_DIGITS` digits, is refused with a line that says the limit.
    """
    if not isinstance(text, str) or not text.strip():
        raise SandboxError('expected a non-empty expression such as "days_inactive >= 30"')
    if len(text) > MAX_LENGTH:
        raise SandboxError(
            f"an expression of {len(text):,} characters; at most {MAX_LENGTH:,} (split it into several rules)"
        )
    try:
        with warnings.catch_warnings():  # Python's warnings about escapes would be a second line on stderr
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        shown = text.strip() if len(text.strip()) <= 80 else text.strip()[:77] + "..."
        raise SandboxError(
            f'syntax error{col} in "{shown}"; '
            'write comparisons joined by and/or, e.g. "trust < 0.3 and days_inactive >= 7"'
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise SandboxError(f"an expression nested too deeply; at most {MAX_DEPTH} levels") from None
    _check_size(tree.body)
    node = _build(tree.body, vocab, constants or {})
    kind = kind_of(node, vocab)
    if kind not in ("bool", "flag"):
        raise SandboxError(f'"{text.strip()}" is not a condition; compare it, e.g. "{text.strip()} > 0"')
    return node


def _build(node: ast.AST, vocab: Vocabulary, constants: Mapping[str, float]) -> tuple:
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return (op, [_build(v, vocab, constants) for v in node.values])
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return ("not", _build(node.operand, vocab, constants))
        if isinstance(node.op, ast.USub):
            inner = _build(node.operand, vocab, constants)
            return ("num", -inner[1]) if inner[0] == "num" else ("neg", inner)
        if isinstance(node.op, ast.UAdd):
            return _build(node.operand, vocab, constants)
        raise SandboxError(f"operator '{type(node.op).__name__}' is not allowed; use + - * / and comparisons")
    if isinstance(node, ast.BinOp):
        arith = _ARITH.get(type(node.op))
        if arith is None:
            raise SandboxError(f"operator '{type(node.op).__name__}' is not allowed; use + - * /")
        return ("arith", arith, _build(node.left, vocab, constants), _build(node.right, vocab, constants))
    if isinstance(node, ast.Compare):
        parts = []
        left = _build(node.left, vocab, constants)
        for op_node, right_node in zip(node.ops, node.comparators):
            cmp = _CMP.get(type(op_node))
            if cmp is None:
                raise SandboxError(f"comparison '{type(op_node).__name__}' is not allowed; use == != < <= > >=")
            right = _build(right_node, vocab, constants)
            parts.append(("cmp", cmp, left, right))
            left = right
        return parts[0] if len(parts) == 1 else ("and", parts)
    if isinstance(node, ast.Name):
        if node.id not in vocab.fields and node.id in constants:
            return ("num", float(constants[node.id]))
        if node.id not in vocab.fields:
            close = difflib.get_close_matches(node.id, vocab.fields, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SandboxError(
                f"unknown name '{node.id}'; {hint}known {vocab.context} names: " + ", ".join(vocab.names())
            )
        return ("field", node.id)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            return ("num", 1.0 if value else 0.0)
        if isinstance(value, int):
            if abs(value) >= 10**MAX_DIGITS:
                raise SandboxError(f"a number of more than {MAX_DIGITS} digits; write a shorter one")
            return ("num", value)  # kept an int: durable-rules compares ints exactly
        if isinstance(value, float):
            if not math.isfinite(value):
                raise SandboxError("a number too large to be finite (such as 1e999); write a finite number")
            return ("num", value)
        if isinstance(value, str):
            return ("str", value)
        raise SandboxError(f"constant {value!r} is not allowed; use numbers or 'quoted text'")
    what = _FORBIDDEN.get(type(node), f"'{type(node).__name__}'")
    raise SandboxError(
        f"{what} are not allowed in a policy expression; "
        "use names, numbers, 'text', comparisons, and/or/not and + - * /"
    )


def _check_size(root: ast.AST) -> None:
    """Refuse an expression with too many terms or too deep a nesting, before walking it recursively."""
    terms = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SandboxError(f"an expression nested more than {MAX_DEPTH} levels deep; simplify it")
        terms += 1
        if terms > MAX_TERMS:
            raise SandboxError(f"an expression of more than {MAX_TERMS} terms; split it into several rules")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def kind_of(node: tuple, vocab: Vocabulary) -> str:
    """Type-check a node: return "num", "flag", "bool", "str" or "cat"; raise on a mismatch."""
    tag = node[0]
    if tag == "num":
        return "num"
    if tag == "str":
        return "str"
    if tag == "field":
        return vocab.fields[node[1]].kind
    if tag == "neg":
        _need_number(node[1], vocab, "-")
        return "num"
    if tag == "arith":
        _need_number(node[2], vocab, node[1])
        _need_number(node[3], vocab, node[1])
        return "num"
    if tag == "cmp":
        op, left, right = node[1], node[2], node[3]
        lk, rk = kind_of(left, vocab), kind_of(right, vocab)
        if "cat" in (lk, rk) or "str" in (lk, rk):
            _check_categorical(op, left, right, lk, rk, vocab)
        elif lk == "bool" or rk == "bool":
            raise SandboxError(f"cannot compare a condition with '{op}'; join conditions with and/or")
        return "bool"
    if tag in ("and", "or"):
        for item in node[1]:
            if kind_of(item, vocab) not in ("bool", "flag"):
                raise SandboxError(f"'{tag}' joins conditions, but got a number; compare it first, e.g. \"x > 0\"")
        return "bool"
    if tag == "not":
        if kind_of(node[1], vocab) not in ("bool", "flag"):
            raise SandboxError("'not' needs a condition; compare the number first, e.g. \"not x > 0\"")
        return "bool"
    raise InternalError(f"unknown node {tag!r}")


def _need_number(node: tuple, vocab: Vocabulary, op: str) -> None:
    if kind_of(node, vocab) not in ("num", "flag"):
        raise SandboxError(f"'{op}' needs numbers on both sides")


def _check_categorical(op, left, right, lk, rk, vocab: Vocabulary) -> None:
    if op not in ("==", "!="):
        raise SandboxError(f"text can only be compared with == or !=, not '{op}'")
    pair = {lk, rk}
    if pair != {"cat", "str"}:
        raise SandboxError("compare a categorical name (archetype, source, title) with a 'quoted' value")
    field_node, literal = (left, right[1]) if lk == "cat" else (right, left[1])
    field = vocab.fields[field_node[1]]
    if field.values is not None and literal not in field.values:
        raise SandboxError(f"unknown {field.name} '{literal}'; expected one of: " + ", ".join(field.values))


def fields_used(node: tuple) -> set[str]:
    """The names an expression reads, so a back end computes only those."""
    tag = node[0]
    if tag == "field":
        return {node[1]}
    if tag in ("and", "or"):
        return set().union(*(fields_used(n) for n in node[1]))
    if tag in ("neg", "not"):
        return fields_used(node[1])
    if tag == "arith" or tag == "cmp":
        return fields_used(node[2]) | fields_used(node[3])
    return set()


def comparisons(node: tuple) -> list[tuple]:
    """The terms a condition's truth is made of: its comparisons (and bare flags), after its
    negations are pushed down as both back ends push them (:func:`negate`).  The condition is an
    and/or of these terms alone, so rows on which every term is the same get the same answer."""
    tag = node[0]
    if tag in ("and", "or"):
        return [term for n in node[1] for term in comparisons(n)]
    if tag == "not":
        return comparisons(negate(node[1]))
    return [node]


def to_text(node: tuple) -> str:
    """Render the intermediate form back to an expression (for audit trails and messages)."""
    tag = node[0]
    if tag == "num":
        return f"{node[1]:g}"
    if tag == "str":
        return repr(node[1])
    if tag == "field":
        return node[1]
    if tag == "neg":
        return f"-({to_text(node[1])})"
    if tag in ("arith", "cmp"):
        return f"({to_text(node[2])} {node[1]} {to_text(node[3])})"
    if tag in ("and", "or"):
        return "(" + f" {tag} ".join(to_text(n) for n in node[1]) + ")"
    if tag == "not":
        return f"not {to_text(node[1])}"
    raise ValueError(tag)


NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def negate(node: tuple) -> tuple:
    """The negation of a condition, pushed down to its comparisons (De Morgan; ``<`` becomes ``>=``).

    Both back ends negate this way, so ``not (x > 1)`` is ``x <= 1`` everywhere, and a value
    that is not finite (an overflow) fails both, as every comparison with it does.
    """
    tag = node[0]
    if tag == "not":
        return node[1]
    if tag == "and":
        return ("or", [negate(n) for n in node[1]])
    if tag == "or":
        return ("and", [negate(n) for n in node[1]])
    if tag == "field":
        return ("cmp", "==", node, ("num", 0))
    if tag == "cmp":
        return ("cmp", NEGATED[node[1]], node[2], node[3])
    raise InternalError(f"cannot negate {tag!r}")
