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


def parse(text: str, vocab: Vocabulary) -> tuple:
    """Parse and type-check one ``when`` expression; return its intermediate form."""
    if not isinstance(text, str) or not text.strip():
        raise SandboxError('expected a non-empty expression such as "days_inactive >= 30"')
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = f" at column {exc.offset}" if exc.offset else ""
        raise SandboxError(
            f'syntax error{col} in "{text.strip()}"; '
            'write comparisons joined by and/or, e.g. "trust < 0.3 and days_inactive >= 7"'
        ) from None
    node = _build(tree.body, vocab)
    kind = kind_of(node, vocab)
    if kind not in ("bool", "flag"):
        raise SandboxError(f'"{text.strip()}" is not a condition; compare it, e.g. "{text.strip()} > 0"')
    return node


def _build(node: ast.AST, vocab: Vocabulary) -> tuple:
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        return (op, [_build(v, vocab) for v in node.values])
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return ("not", _build(node.operand, vocab))
        if isinstance(node.op, ast.USub):
            inner = _build(node.operand, vocab)
            return ("num", -inner[1]) if inner[0] == "num" else ("neg", inner)
        if isinstance(node.op, ast.UAdd):
            return _build(node.operand, vocab)
        raise SandboxError(f"operator '{type(node.op).__name__}' is not allowed; use + - * / and comparisons")
    if isinstance(node, ast.BinOp):
        arith = _ARITH.get(type(node.op))
        if arith is None:
            raise SandboxError(f"operator '{type(node.op).__name__}' is not allowed; use + - * /")
        return ("arith", arith, _build(node.left, vocab), _build(node.right, vocab))
    if isinstance(node, ast.Compare):
        parts = []
        left = _build(node.left, vocab)
        for op_node, right_node in zip(node.ops, node.comparators):
            cmp = _CMP.get(type(op_node))
            if cmp is None:
                raise SandboxError(f"comparison '{type(op_node).__name__}' is not allowed; use == != < <= > >=")
            right = _build(right_node, vocab)
            parts.append(("cmp", cmp, left, right))
            left = right
        return parts[0] if len(parts) == 1 else ("and", parts)
    if isinstance(node, ast.Name):
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
            return ("num", value)  # kept an int: durable-rules compares ints exactly
        if isinstance(value, float):
            return ("num", value)
        if isinstance(value, str):
            return ("str", value)
        raise SandboxError(f"constant {value!r} is not allowed; use numbers or 'quoted text'")
    what = _FORBIDDEN.get(type(node), f"'{type(node).__name__}'")
    raise SandboxError(
        f"{what} are not allowed in a policy expression; "
        "use names, numbers, 'text', comparisons, and/or/not and + - * /"
    )


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
