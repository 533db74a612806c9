"""durable-rules' core: the intermediate form compiled to durable-rules rulesets, facts sent in batches.

The evaluators a run uses (member rules, community rules, a stage chart) are in
:mod:`sim.rules.durable_backend`; this module is what they stand on.

The policy language's conditions become durable-rules JSON conditions; each day the model
asserts one fact per group (community rules: each group whose situation changed, see
:mod:`sim.rules.recall`) or per member (member rules, for audit and small runs) in one batch,
drains the actions the engine schedules, and retracts the facts.
An action only records ``(rule, entity)`` in a buffer; the model applies the decisions,
vectorised, after the batch, exactly as it does for the NumPy back end.

durable-rules 2.0.28 facts designed around (see DESIGN.md):

- one host per process, and that host runs **no timer threads**: actions run only when this
  module drains them, on the calling thread, so results never depend on thread timing;
- a ruleset name can be registered once per process: names carry a hash of the content,
  and a ruleset is registered on first use and reused by every later run in the process;
- the definition passed in is mutated (``run`` is removed): it is deep-copied first;
- at most 1,024 state ids per registered ruleset: one sid per group and run, the same rules
  registered again as further copies when a process needs more (:func:`place`), and every
  sid's state deleted when the run ends;
- facts, not events: an event is consumed by the first rule it matches, a fact is seen by
  every rule, which is the semantics of the NumPy back end;
- "no rule matched" is the normal case for most facts; the Python wrapper raises
  ``MessageNotHandledException`` for it (after serialising the whole batch into its text), so
  batches go straight to the C core, where it is just a result code;
- deleting the state of a sid none of whose facts ever matched a rule crashes the C core
  (SIGSEGV), so each sid is opened with a sentinel fact that a sentinel rule matches, and
  the sentinel is retracted just before the sid's state is deleted at the end of the run.

What the C core costs per fact is parsing it and walking its tests, so: a batch is one JSON
text built column by column (:class:`Facts`), with short property names (``p0``...), retracted
by ``sid`` and ``id`` alone; and a conjunction's terms are ordered so that durable-rules, which
stops at the first term that fails, usually stops early (:func:`_test_order`).

Conditions durable-rules cannot express natively (arithmetic on the left of a comparison,
division, negation of a name) are computed by the host in float64 NumPy, with the same
code as the NumPy back end, and sent as derived properties ``_d0``, ``_d1``... of each fact.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, count, repeat
from typing import Any, TypeVar, cast

import numpy as np
import orjson
from durable import engine

from sim.domain import content_hash
from sim.errors import InternalError, SandboxError
from sim.rules.expr import fields_used, negate
from sim.rules.numpy_backend import compile_values
from sim.rules.vocabulary import Vocabulary

MAX_SIDS = 1024
CAP = 1000
"""Matches of a one-rule ruleset handed to one action (durable-rules' ``cap``): an action costs
the wrapper-free drain a few microseconds of Python, a batch of them one."""
MAX_PROPERTIES = 255
_NONE = np.zeros(0, dtype=np.int64)
_NONE.flags.writeable = False  # shared by every rule that matched nothing

_OPS = {"==": None, "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul"}


class _SyncHost(engine.Host):
    """A durable-rules host that starts no timer threads: actions run only when drained."""

    def _run(self) -> None:  # the base class starts two self-rescheduling timer threads here
        pass


_HOST_LOCK = threading.RLock()
F = TypeVar("F", bound=Callable[..., Any])


def serialised(function: F) -> F:
    """Hold :data:`_HOST_LOCK` for the whole call: one call into durable-rules at a time per process.

    This keeps two threads from entering the C core at once.  It is not enough to make runs in
    several threads of one process safe (they still crash it: see ``sim.runs.isolated``): a
    process that serves several users runs its simulations in worker processes instead.
    """

    @functools.wraps(function)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _HOST_LOCK:
            return function(*args, **kwargs)

    return cast(F, locked)


_host: _SyncHost | None = None
_registered: dict[str, _Dispatcher | _MoveRecorder] = {}  # by registered name: its actions
_run_tokens = count()


@serialised
def host() -> _SyncHost:
    """The one durable-rules host of this process."""
    global _host
    if _host is None:
        _host = _SyncHost()
    return _host


class _Dispatcher:
    """The actions of a registered ruleset: each appends (rule index, entity id) to a sink.

    A ruleset is registered once per process and shared by every run that uses it; the sink
    is swapped per evaluation, so each run sees only its own decisions.  The wrapper registers a
    ruleset only with a Python action per rule (``callbacks``); the actions are run by
    :meth:`drain`, which records what they would.
    """

    def __init__(self, size: int):
        self.sink: list[tuple] = []
        self.callbacks = [self._callback(i) for i in range(size)]
        self.callbacks.append(lambda c: None)  # the sentinel rule: opening a sid decides nothing

    def _callback(self, index: int) -> Callable:
        def run(c) -> None:
            self.sink.append((index, c.m["id"]))

        return run

    def drain(self, ruleset) -> None:
        """Record every action the engine has scheduled, straight from the C core.

        These actions only record a decision and change no state, so the Python wrapper's
        machinery for an action (a closure, the state written back as JSON, a promise chain:
        about 0.1 ms each, the day's main cost when many groups fire) is skipped: each action's
        message is read for its rule and fact, and the action completed.
        """
        handle, core = ruleset._handle, engine.durable_rules_engine
        started = core.start_action(handle)
        while started:
            message = started[1]
            while message:
                ((name, matched),) = orjson.loads(message).items()
                if name == SENTINEL_RULE:  # opening a sid decides nothing
                    pass
                elif isinstance(matched, list):  # a rule with a ``cap``: its matches in one action
                    index = int(name[1:])
                    self.sink.extend((index, frame["m"]["id"]) for frame in matched)
                else:
                    self.sink.append((int(name[1:]), matched["m"]["id"]))
                message = core.complete_and_start_action(handle, started[2])
            started = core.start_action(handle)


# --- translation of the intermediate form -------------------------------------------------------


@dataclass
class Translation:
    """Durable-rules conditions for a list of rules, with the derived properties they need."""

    conditions: list[dict]
    derived: list[tuple] = field(default_factory=list)  # intermediate-form nodes, by _d index


def translate(nodes: list[tuple], vocab: Vocabulary) -> Translation:
    out = Translation(conditions=[])
    for node in nodes:
        out.conditions.append(_condition(node, vocab, out.derived))
    return out


def _condition(node: tuple, vocab: Vocabulary, derived: list) -> dict:
    tag = node[0]
    if tag == "and":  # tests in an order that lets durable-rules stop early; the truth is the same
        return {"$and": [_condition(n, vocab, derived) for n in sorted(node[1], key=_test_order)]}
    if tag == "or":
        return {"$or": [_condition(n, vocab, derived) for n in node[1]]}
    if tag == "not":
        return _condition(negate(node[1]), vocab, derived)
    if tag == "field":  # a flag used as a condition
        return {"$neq": {node[1]: 0}}
    if tag == "cmp":
        return _comparison(node[1], node[2], node[3], vocab, derived)
    raise InternalError(f"cannot translate {tag!r} to durable-rules")


def _test_order(node: tuple) -> int:
    """Where a term of a conjunction goes in durable-rules' chain of tests (a stable sort).

    durable-rules tests a conjunction's terms in the order given and stops at the first that
    fails, at a cost for each property of the fact at each test passed.  A field equal to a
    constant (``weekday == 4``, ``stage == 'decline'``) holds for few groups: it goes first.  A
    comparison with another field or with arithmetic goes last: durable-rules cannot test it
    on the fact alone, so it stores every fact that reaches it and tests it afterwards.
    """
    if node[0] != "cmp":
        return 1
    sides = {node[2][0], node[3][0]}
    if sides in ({"field", "num"}, {"field", "str"}):
        return 0 if node[1] == "==" else 1
    return 2


def _comparison(op: str, left: tuple, right: tuple, vocab: Vocabulary, derived: list) -> dict:
    if left[0] in ("num", "str") and right[0] == "field":
        op, left, right = _FLIP[op], right, left
    if left[0] != "field":
        left = _derive(left, derived)
    value = _operand(right, derived)
    name = left[1]
    return {name: value} if op == "==" else {_OPS[op]: {name: value}}


def _operand(node: tuple, derived: list):
    """A right-hand side: a constant, another property, native + - * arithmetic, or derived."""
    if node[0] in ("num", "str"):
        return node[1]
    if node[0] == "field":
        return {"$m": node[1]}
    if node[0] == "arith" and _native_arith(node):
        return _arith(node)
    return {"$m": _derive(node, derived)[1]}


def _native_arith(node: tuple) -> bool:
    """Can durable-rules compute this right-hand side itself, with no risk of overflow?

    Only + - * of fields and numbers, and only when its magnitude stays far from overflow
    (fields are counts, days and shares, all under :data:`_FIELD_BOUND`): otherwise the host
    computes it, and a value that is not finite reaches durable-rules as null, which no
    comparison holds for, as on the NumPy back end.
    """
    return _simple_arith(node) and _bound(node) < 1e300


def _simple_arith(node: tuple) -> bool:
    if node[0] in ("num", "field"):
        return True
    return node[0] == "arith" and node[1] in _ARITH and _simple_arith(node[2]) and _simple_arith(node[3])


_FIELD_BOUND = 1e12


def _bound(node: tuple) -> float:
    if node[0] == "num":
        return abs(float(node[1]))
    if node[0] == "field":
        return _FIELD_BOUND
    a, b = _bound(node[2]), _bound(node[3])
    return a * b if node[1] == "*" else a + b


def _arith(node: tuple):
    if node[0] == "num":
        return node[1]
    if node[0] == "field":
        return {"$m": node[1]}
    return {_ARITH[node[1]]: {"$l": _arith(node[2]), "$r": _arith(node[3])}}


def short_names(names: list[str]) -> dict[str, str]:
    """A short property name (``p0``, ``p1``...) for each name a fact carries.

    The C core parses and hashes every property name of every fact it is given; the policy's
    names (``r1__after_active_ratio_7d``) made up about half of each fact's text.  Facts and
    rulesets use the short names; everything the model and the audit trail show uses the
    policy's own.
    """
    return {name: f"p{k}" for k, name in enumerate(names)}


def rename(condition, names: dict[str, str]):
    """A durable-rules condition with its property names (keys and ``$m`` operands) renamed."""
    if isinstance(condition, list):
        return [rename(c, names) for c in condition]
    if not isinstance(condition, dict):
        return condition  # a constant
    out = {}
    for key, value in condition.items():
        if key == "$m":
            out[key] = names[value]
        elif key.startswith("$"):
            out[key] = rename(value, names)
        else:
            out[names[key]] = rename(value, names)
    return out


def _derive(node: tuple, derived: list) -> tuple:
    if node not in derived:
        derived.append(node)
    return ("field", f"_d{derived.index(node)}")


# --- registration and evaluation ---------------------------------------------------------------

_ERRORS = {
    "MemoryError": "durable-rules ran out of room for the rules",
    "ParseError": "durable-rules could not parse the ruleset",
}


class DurableRuleset:
    """A list of rules registered with durable-rules, evaluated on facts, one batch a day.

    durable-rules holds at most 1,024 sids per registered ruleset, so the same rules are
    registered again as copies (:func:`copy_name`) when a process needs more: each sid lives in
    one copy (:func:`place`), and a day's facts go to each copy that holds some of them.
    Which copy a fact goes to changes no outcome: every rule matches one fact alone.

    With ``events``, a batch is posted as events instead of facts: nothing to retract, and the
    same outcome when there is one rule (an event is consumed by the first rule it matches); the
    rule's matches then come :data:`CAP` to an action.
    """

    @serialised
    def __init__(self, kind: str, rules: list, vocab: Vocabulary, events: bool = False):
        if events and len(rules) > 1:
            raise InternalError("an event is consumed by the first rule it matches: events need one rule")
        self.events = events
        self.kind = kind
        self.rule_names = [rule.name for rule in rules]
        self.vocab = vocab
        self.translation = translate([rule.ir for rule in rules], vocab)
        self.derived_fns = [compile_values(node, vocab) for node in self.translation.derived]
        names: set[str] = set()
        for rule in rules:
            names |= fields_used(rule.ir)
        self.fields = sorted(names)
        if len(self.fields) + len(self.derived_fns) + 2 > MAX_PROPERTIES:
            raise SandboxError(
                f"the {kind} rules read {len(self.fields) + len(self.derived_fns)} values; "
                f"durable-rules holds at most {MAX_PROPERTIES - 2} per fact"
            )
        self.properties = short_names(self.fields + [f"_d{k}" for k in range(len(self.derived_fns))])
        definition: dict[str, dict[str, Any]] = {
            f"r{i}": {"all": [{"m": rename(condition, self.properties)}]}
            for i, condition in enumerate(self.translation.conditions)
        }
        if events:  # one rule, every group's events in one state: its matches come in actions of up to CAP
            definition["r0"]["cap"] = CAP
        definition[SENTINEL_RULE] = {"all": [{"m": {SENTINEL: 1}}]}
        self.definition = definition
        self.name = f"sandbox_{kind}_{content_hash(definition)}"
        self._dispatchers = {0: _register(self.name, definition)}  # by copy; the first checks the rules now
        self._keys: dict[int, FactKeys] = {}  # by copy: its last batch's ids and sids, reused while unchanged

    def dispatcher(self, copy: int) -> _Dispatcher:
        """The actions of one copy of these rules, registered on first use."""
        if copy not in self._dispatchers:
            self._dispatchers[copy] = _register(copy_name(self.name, copy), self.definition)
        return self._dispatchers[copy]

    @serialised
    def evaluate(self, env, ids: np.ndarray, sids: np.ndarray, copies: np.ndarray, run_token: str) -> list[np.ndarray]:
        """Row indices matched by each rule, given column values in ``env`` for rows ``ids``
        (each in state ``sids`` of the ruleset's copy ``copies``)."""
        if not self.rule_names or len(ids) == 0:
            return [_NONE for _ in self.rule_names]
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is sent as null: no test holds
            derived = [fn(env) for fn in self.derived_fns]
        hits: list[list[int]] = [[] for _ in self.rule_names]
        for which, part in by_copy(copies):
            keys = FactKeys.reused(self._keys.get(which), run_token, ids[part], sids[part])
            self._keys[which] = keys
            facts = Facts(keys)
            for name in self.fields:
                facts.add(self.properties[name], env[name], self.vocab.fields[name])
            for k, values in enumerate(derived):
                facts.add(self.properties[f"_d{k}"], values)
            run = run_events if self.events else run_facts
            for index, entity in run(copy_name(self.name, which), self.dispatcher(which), facts):
                hits[index].append(entity)
        return [np.unique(np.asarray(h, dtype=np.int64)) if h else _NONE for h in hits]

    @serialised
    def open_sids(self, run_token: str, sids, copy: int) -> None:
        """Create the state of new sids in one copy with a sentinel fact (see the module notes)."""
        dispatcher = self.dispatcher(copy)
        ruleset = host().get_ruleset(copy_name(self.name, copy))
        _raw(engine.durable_rules_engine.assert_facts, ruleset, json.dumps(_sentinels(run_token, sids)))
        created(copy_name(self.name, copy), run_token, sids)
        dispatcher.drain(ruleset)

    @serialised
    def forget(self, run_token: str, sids, copy: int) -> None:
        """Retract the sentinels of every sid a run used in one copy, and release their state."""
        name = copy_name(self.name, copy)
        _raw(
            engine.durable_rules_engine.retract_facts, host().get_ruleset(name), json.dumps(_sentinels(run_token, sids))
        )
        release(name, run_token, sids)


def by_copy(copies: np.ndarray) -> list[tuple[int, np.ndarray | slice]]:
    """The positions of each copy's facts: one slice for the usual case of a single copy."""
    if len(copies) == 0 or copies.min() == copies.max():
        return [(int(copies[0]) if len(copies) else 0, slice(None))]
    return [(int(c), np.flatnonzero(copies == c)) for c in np.unique(copies)]


def copy_name(name: str, copy: int) -> str:
    """The registered name of copy ``copy`` of a ruleset (the first keeps the plain name)."""
    return name if copy == 0 else f"{name}_copy{copy}"


_states: dict[str, list[str]] = {}  # by registered copy: the sids whose state it holds, oldest first
_released: dict[str, set[str]] = {}  # by registered copy: sids whose run has ended, not yet deleted


@serialised
def place(name: str, count: int) -> np.ndarray:
    """The copy of ruleset ``name`` for each of ``count`` new sids: the first copies with free
    slots, so any number of groups (and of runs alive at once) fits."""
    copies: list[int] = []
    copy = 0
    while len(copies) < count:
        take = min(MAX_SIDS - len(_states.get(copy_name(name, copy), ())), count - len(copies))
        if take > 0:
            _states.setdefault(copy_name(name, copy), []).extend([""] * take)  # reserved until created
            copies += [copy] * take
        copy += 1
    return np.asarray(copies, dtype=np.int32)


@serialised
def created(registered: str, run_token: str, sids) -> None:
    """Record that the sids a run was placed in copy ``registered`` now have their state there,
    in the order durable-rules created them."""
    states = _states[registered]
    first = states.index("")  # reserved slots are the newest: created ones fill them in order
    for k, sid in enumerate(sids):
        states[first + k] = f"{run_token}.{sid}"


@serialised
def release(registered: str, run_token: str, sids) -> None:
    """A run has ended: delete its states, newest first, as far as no living run's state is newer.

    durable-rules lists a ruleset's states by their creation order and, when a state is deleted,
    does not close the gap: a state deleted from under a newer one leaves the list pointing at
    freed memory, and the next batch crashes the C core.  So a state is deleted only once every
    newer state of that copy is gone; until then it keeps its slot.
    """
    states, released = _states.get(registered, []), _released.setdefault(registered, set())
    released.update(f"{run_token}.{sid}" for sid in sids)
    ruleset = host().get_ruleset(registered)
    while states and states[-1] in released:
        sid = states.pop()
        released.discard(sid)
        ruleset.delete_state(sid)


SENTINEL = "_sid_opened"
SENTINEL_RULE = "sentinel"


def _sentinels(run_token: str, sids) -> list[dict]:
    return [{"sid": f"{run_token}.{sid}", "id": -1, SENTINEL: 1} for sid in sids]


class FactKeys:
    """The ``id`` and ``sid`` of a batch of facts, as JSON text, reusable from day to day.

    ``id`` is the entity (a group or a member row) and ``sid`` the state it lives in
    (``<run token>.<group>``).  Community rules see the same groups day after day, so a
    ruleset keeps its last keys and reuses them while the rows are the same.
    """

    def __init__(self, run_token: str, ids: np.ndarray, sids: np.ndarray):
        self.ids = np.asarray(ids)
        self.sids = np.asarray(sids)
        self.count = len(self.ids)
        # ids 0..count-1, in order (every group): columns are read as they are, without indexing
        self.every_row = (
            self.count > 0
            and self.ids[0] == 0
            and self.ids[-1] == self.count - 1
            and bool(np.all(self.ids[1:] > self.ids[:-1]))
        )
        self.token = run_token
        # each fact's opening text, '{"id":3,"sid":"run1.3"', cut from one joined string
        pieces = zip(
            repeat('{"id":'),
            _json_texts(self.ids),
            repeat(f',"sid":"{run_token}.'),
            _json_texts(self.sids),
            repeat('"\x00'),
        )
        self.heads = "".join(chain.from_iterable(pieces)).split("\x00")[:-1]
        self._retraction: str | None = None
        self.last_columns: dict[str, tuple] = {}  # by property: the last values sent, and their pieces

    @classmethod
    def reused(cls, last: FactKeys | None, run_token: str, ids: np.ndarray, sids: np.ndarray) -> FactKeys:
        """``last`` if it holds these very keys (today's rows are yesterday's), else new keys."""
        if (
            last is not None
            and run_token == last.token
            and len(ids) == last.count
            and ids.tobytes() == last.ids.tobytes()
            and sids.tobytes() == last.sids.tobytes()
        ):
            return last
        return cls(run_token, ids, sids)

    def retraction(self) -> str:
        """Every fact by ``sid`` and ``id`` alone: all that durable-rules needs to retract them."""
        if self._retraction is None:
            self._retraction = joined(self, [])
        return self._retraction


class Facts:
    """One batch of facts as JSON text, with no dict per fact.

    Values are the JSON that ``orjson`` writes for the same Python numbers (float32 columns
    widened exactly to float64, flags as 0/1, categories by name), so the C core compares
    exactly what the NumPy back end compares.  A numeric column is encoded by one ``orjson``
    call, and its text becomes its facts' pieces (``,"p3":0.25``) by one replace and one split,
    so the batch is joined in one pass that touches each value once.  A column whose values
    are those of the keys' last batch (a group's size, its stage, most cool-down counts) reuses
    that batch's pieces.
    """

    def __init__(self, keys: FactKeys):
        self.keys = keys
        self.count = keys.count
        self._pieces: list = []  # per property: its facts' pieces, or (prefix, values, category names)

    def add(self, name: str, values, spec=None) -> None:
        """One property for every fact: a column (read at the keys' ids) or a scalar for all."""
        prefix = f',"{name}":'
        if isinstance(values, (list, tuple)):
            values = np.asarray(values)
        if not (isinstance(values, np.ndarray) and values.ndim):  # a scalar: the same for every fact
            value = values.item() if hasattr(values, "item") else values
            self._pieces.append([prefix + orjson.dumps(value).decode()] * self.count)
            return
        if not self.keys.every_row or len(values) != self.count:
            values = values[self.keys.ids]
        names = tuple(spec.values) if spec is not None and spec.kind == "cat" else None
        self._pieces.append((prefix, values, names))

    def payload(self) -> str:
        """The batch as one JSON array."""
        if self.count == 0:
            return "[]"
        return joined(self.keys, self._columns())

    def texts(self) -> list[str]:
        """Each fact's JSON text alone."""
        return ["".join(parts) + "}" for parts in zip(self.keys.heads, *self._columns())]

    def _columns(self) -> list[list[str]]:
        """Each property's pieces, a column's reused from the keys' last batch when its values are."""
        pieces = list(self._pieces)
        last = self.keys.last_columns
        for k, column in enumerate(pieces):
            if not isinstance(column, tuple):
                continue
            prefix, values, names = column
            raw = (values.dtype.str, values.tobytes())
            before = last.get(prefix)
            if before is not None and before[0] == raw:
                pieces[k] = before[1]  # the same values as in the keys' last batch (size, stage, counts...)
                continue
            pieces[k] = _pieces(prefix, values, names)
            last[prefix] = (raw, pieces[k])
        return pieces


def _pieces(prefix: str, values: np.ndarray, names: tuple | None) -> list[str]:
    """Each fact's text for one property: ``prefix`` and the value's JSON."""
    if names is not None:  # a category, by code
        return _category_pieces(prefix, names)[values].tolist()
    if values.dtype.kind in "biuf":  # numbers hold no comma: each comma ends a fact's value
        text = orjson.dumps(_widened(values), option=orjson.OPT_SERIALIZE_NUMPY).decode()
        return (prefix + text[1:-1].replace(",", "\x00" + prefix)).split("\x00")
    return [prefix + orjson.dumps(v).decode() for v in values.tolist()]  # an object column


def _widened(values: np.ndarray) -> np.ndarray:
    """Flags as 0/1 and float32 exactly as float64: the numbers the NumPy back end compares."""
    if values.dtype == np.bool_:
        return values.astype(np.int8)
    if values.dtype.kind == "f" and values.dtype != np.float64:
        return values.astype(np.float64)
    return values


@lru_cache(maxsize=256)
def _category_pieces(prefix: str, names: tuple) -> np.ndarray:
    """``prefix`` and the JSON text of each category, by code."""
    return np.asarray([prefix + orjson.dumps(name).decode() for name in names], dtype=object)


def joined(keys: FactKeys, pieces: list[list[str]]) -> str:
    """Facts as a JSON array, joined from each fact's opening and property pieces in one pass
    (``zip`` stops at the last fact), with no formatting per fact."""
    return "[" + "".join(chain.from_iterable(zip(keys.heads, *pieces, repeat("},"))))[:-1] + "]"


def _json_texts(values: np.ndarray) -> list[str]:
    """The JSON text of each number."""
    if len(values) == 0:
        return []
    return orjson.dumps(_widened(values), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode().split(",")


@serialised
def run_facts(name: str, dispatcher: _Dispatcher, facts: Facts) -> list[tuple]:
    """Assert a batch of facts, run every action they trigger, retract them.

    Returns what the actions recorded, in the order durable-rules ran them.
    """
    sink = _post(engine.durable_rules_engine.assert_facts, name, dispatcher, facts)
    _raw(engine.durable_rules_engine.retract_facts, host().get_ruleset(name), facts.keys.retraction())
    return sink


@serialised
def run_events(name: str, dispatcher: _Dispatcher, events: Facts) -> list[tuple]:
    """Post a batch of events and run every action they trigger.

    An event is consumed by the first trigger it meets and one that meets none is dropped, so
    nothing is left to retract: the semantics of a statechart's transitions, one per state a day.
    """
    return _post(engine.durable_rules_engine.assert_events, name, dispatcher, events)


@serialised
def run_events_alone(name: str, recorder: _MoveRecorder, events: Facts) -> list[tuple]:
    """Post each event of a statechart's batch by itself and run the transitions of its state.

    durable-rules' ``start_action`` looks through every state of a ruleset for one with an
    action (1,024 states here: about 35 us a call, one a transition); the state an event went to
    is known, and asked directly.
    """
    ruleset = host().get_ruleset(name)
    recorder.sink = []
    for text in events.texts():
        _, offset = _raw(engine.durable_rules_engine.assert_event, ruleset, text)
        recorder.drain_state(ruleset._handle, offset)
    return recorder.sink


def _post(function, name: str, dispatcher: _Dispatcher, batch: Facts) -> list[tuple]:
    """Send a batch (facts or events) and drain the actions it scheduled; what they recorded."""
    ruleset = host().get_ruleset(name)
    dispatcher.sink = []
    # The C core is called directly because the Python wrapper serialises the whole batch
    # again into the text of MessageNotHandledException, the normal outcome for most facts.
    _raw(function, ruleset, batch.payload())
    dispatcher.drain(ruleset)
    return dispatcher.sink


def _raw(function, ruleset, payload: str) -> Any:
    """A call into the C core with a message or a batch (its result); 'no rule matched' (code 1)
    is the normal case."""
    try:
        return function(ruleset._handle, payload)
    except MemoryError:
        raise capacity_error() from None
    except Exception as exc:
        if str(exc).endswith("error code: 303"):  # ERR_MAX_STACK_SIZE: its alpha network's stack of 64
            raise SandboxError(
                "durable-rules cannot follow more than 64 conditions that one fact meets at once; "
                "use fewer member rules that can hold together, or --rules-backend numpy"
            ) from None
        raise


def capacity_error() -> SandboxError:
    """The message for durable-rules refusing more state (its C core reports it as out of memory)."""
    return SandboxError(
        "durable-rules refused to hold more state in this process; run fewer models at once, "
        "or use --rules-backend numpy and --community-backend numpy"
    )


class _MoveRecorder:
    """The actions of a stage statechart: each transition records (target state, group id).

    :meth:`drain_state` runs a transition as durable-rules' statechart layer does (its ``To`` step),
    without the wrapper's closure, promise chain and JSON round trips (about 0.2 ms a
    transition): the sid's state is marked running, a reflexive state's label fact is retracted,
    and the target's label is posted (an event; a fact for a reflexive target), on the calling
    thread, before the action completes.
    """

    def __init__(self, states: dict):
        self.sink: list[tuple] = []
        reflexive = {state for state, triggers in states.items() if any(t["to"] == state for t in triggers.values())}
        targets = {t["to"] for triggers in states.values() for t in triggers.values()}
        (start,) = [state for state in states if state not in targets]
        self.moves: dict[str, tuple[str | None, str, bool]] = {"$start": (None, start, False)}  # from, to, as a fact
        for state, triggers in states.items():
            for name, trigger in triggers.items():
                to = trigger["to"]
                self.moves[f"{state}.{name}"] = (state if state in reflexive else None, to, to in reflexive)

    def drain_state(self, handle, offset: int) -> None:
        """Run every transition scheduled in one state (the one an event just went to)."""
        core = engine.durable_rules_engine
        started = core.start_action_for_state(handle, offset)
        while started:
            self._run(handle, started[0], started[1], offset)
            started = core.start_action_for_state(handle, offset)

    def _run(self, handle, state_text: str, message: str | None, action) -> None:
        """One state's started action, and those the engine chains after it in that state."""
        core = engine.durable_rules_engine
        state = orjson.loads(state_text)
        while message:
            ((name, matched),) = orjson.loads(message).items()
            source, target, as_fact = self.moves[name]
            if name != "$start":
                self.sink.append((target, matched["m"]["id"]))
            state["running"] = True
            if source != target:
                if source is not None:
                    core.retract_fact(handle, orjson.dumps(matched["chart_context"]).decode())
                label = orjson.dumps({"label": target, "chart": 1, "sid": state["sid"]}).decode()
                code = (core.assert_fact if as_fact else core.assert_event)(handle, label)[0]
                if code == 2:  # what the wrapper's step notes when durable-rules had seen the label already
                    state["exception"] = "message observed"
            core.update_state(handle, orjson.dumps(state).decode())
            message = core.complete_and_start_action(handle, action)


@serialised
def register_statechart(name: str, states: dict) -> _MoveRecorder:
    """Register a stage chart as a durable-rules statechart (once per process)."""
    if name in _registered:
        return _registered[name]  # type: ignore[return-value]  # registered by this function
    recorder = _MoveRecorder(states)
    states = copy.deepcopy(states)  # durable-rules mutates what it is given
    try:
        host().set_rulesets({f"{name}$state": states})
    except Exception as exc:
        raise SandboxError(f"durable-rules rejected the stage chart ({exc})") from None
    _registered[name] = recorder
    return recorder


@serialised
def _register(name: str, definition: dict) -> _Dispatcher:
    if name in _registered:
        return _registered[name]  # type: ignore[return-value]  # registered by this function
    dispatcher = _Dispatcher(len(definition) - 1)
    definition = copy.deepcopy(definition)  # durable-rules mutates what it is given
    for i, rule in enumerate(definition.values()):
        rule["run"] = dispatcher.callbacks[i]
    try:
        host().set_rulesets({name: definition})
    except Exception as exc:  # translate the C core's terse error codes
        plain = _ERRORS.get(type(exc).__name__, f"durable-rules rejected the rules ({exc})")
        raise SandboxError(plain) from None
    _registered[name] = dispatcher
    return dispatcher


def new_run_token() -> str:
    """A process-unique prefix for the sids of one run."""
    return f"run{next(_run_tokens)}"


__all__ = [
    "DurableRuleset",
    "translate",
    "host",
    "new_run_token",
    "run_facts",
    "run_events",
    "Facts",
    "FactKeys",
    "short_names",
    "rename",
    "created",
    "release",
    "register_statechart",
    "MAX_SIDS",
    "capacity_error",
    "copy_name",
    "place",
    "by_copy",
]
