"""A quick, certain-only JSON Schema check, so that valid messages skip the full validator.

``jsonschema`` walks a schema with a validator object per keyword and per level: for a
department's change feed that is most of the cost of reading a message. Nearly every message is
valid, and proving that takes a few dictionary lookups, so :func:`precheck` answers
``True`` only when a message is *certainly* valid; on ``False`` or ``None`` (not sure) the
caller asks ``jsonschema`` as before, which also gives the error to report. A message is never
accepted that ``jsonschema`` would refuse:

* only a small set of keywords is understood (:data:`KEYWORDS`); a schema using any other is
  never prechecked (:func:`prechecker` gives ``None``);
* types are tested with the validator's own type checker;
* ``const``/``enum`` are decided only where JSON Schema equality is plain Python equality (text,
  ``null``, or the same type), else "not sure";
* ``format`` is an annotation, as for the validator the reader builds (no format checker).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Keywords decided here, and keywords that never make an instance invalid (without a format
# checker, ``format`` is only an annotation; ``$defs`` matter only to ``$ref``, which is not here).
KEYWORDS = frozenset({"type", "required", "properties", "additionalProperties", "const", "enum", "minLength",
                      "maxLength", "if", "then", "else"})
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "description", "format", "examples",
                         "default", "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType"})

Verdict = bool | None  # True: certainly valid; False: certainly not; None: not sure


def prechecker(schema: Any, is_type: Callable[[Any, str], bool]) -> Callable[[Any], bool] | None:
    """``instance → certainly valid?`` for ``schema``, or ``None`` when the schema uses a keyword
    this module does not decide. ``is_type`` is the validator's ``TYPE_CHECKER.is_type``."""
    if not _supported(schema):
        return None
    check = _compile(schema, is_type)

    def certainly_valid(instance: Any) -> bool:
        return check(instance) is True

    return certainly_valid


def _supported(schema: Any) -> bool:
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, Mapping):
        return False
    for keyword, value in schema.items():
        if keyword in ANNOTATIONS:
            continue
        if keyword not in KEYWORDS:
            return False
        if keyword == "properties":
            if not isinstance(value, Mapping) or not all(_supported(sub) for sub in value.values()):
                return False
        elif keyword in ("additionalProperties", "if", "then", "else"):
            if not _supported(value):
                return False
        elif keyword == "type":
            if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, str) for t in value))):
                return False
        elif keyword == "required":
            if not (isinstance(value, list) and all(isinstance(p, str) for p in value)):
                return False
        elif keyword == "enum":
            if not isinstance(value, list):
                return False
        elif keyword in ("minLength", "maxLength"):
            if isinstance(value, bool) or not isinstance(value, int):
                return False
    return True


Check = Callable[[Any], Verdict]

# Plain Python tests for the basic JSON types, used only where they agree with the validator's
# type checker on every sample below (they do for drafts 4 to 2020-12); else the checker decides.
_PLAIN_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda x: isinstance(x, str), "null": lambda x: x is None,
    "object": lambda x: isinstance(x, dict), "array": lambda x: isinstance(x, list),
    "boolean": lambda x: isinstance(x, bool),
}
_SAMPLES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 1.5, "", "a", "1", [], [1], {}, {"a": 1}]


def _type_test(name: str, is_type: Callable[[Any, str], bool]) -> Callable[[Any], bool]:
    plain = _PLAIN_TYPES.get(name)
    if plain is not None and all(plain(v) == is_type(v, name) for v in _SAMPLES):
        return plain
    return lambda x: is_type(x, name)


def _compile(schema: Any, is_type: Callable[[Any, str], bool]) -> Check:
    """The schema as one function (built once: the walk happens here, not per message)."""
    if schema is True or schema is False:
        constant = bool(schema)
        return lambda x: constant
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword == "type":
            checks.append(_any_type([_type_test(t, is_type) for t in ([value] if isinstance(value, str) else value)]))
        elif keyword in ("const", "enum", "minLength", "maxLength", "required"):
            checks.append(_simple(keyword, value))
        elif keyword == "properties":
            checks.append(_properties({name: _compile(sub, is_type) for name, sub in value.items()}))
        elif keyword == "additionalProperties":
            checks.append(_additional(value, frozenset(schema.get("properties", {})), is_type))
        elif keyword == "if":
            checks.append(_conditional(_compile(value, is_type),
                                       _compile(schema["then"], is_type) if "then" in schema else None,
                                       _compile(schema["else"], is_type) if "else" in schema else None))
        # annotations, and then/else (decided with their if), add nothing

    def check(x: Any) -> Verdict:
        verdict: Verdict = True
        for each in checks:
            found = each(x)
            if found is False:
                return False
            if found is None:
                verdict = None
        return verdict

    return check


def _any_type(tests: list[Callable[[Any], bool]]) -> Check:
    def check(x: Any) -> Verdict:
        return any(test(x) for test in tests)

    return check


def _simple(keyword: str, value: Any) -> Check:
    """``const``, ``enum``, ``minLength``, ``maxLength`` and ``required``, as JSON Schema defines them."""
    if keyword == "const":
        return lambda x: _equal(x, value)
    if keyword == "enum":
        return lambda x: _one_of(x, value)
    if keyword == "minLength":
        return lambda x: not isinstance(x, str) or len(x) >= value
    if keyword == "maxLength":
        return lambda x: not isinstance(x, str) or len(x) <= value
    names = tuple(value)
    return lambda x: not isinstance(x, dict) or all(name in x for name in names)


def _properties(compiled: dict[str, Check]) -> Check:
    items = tuple(compiled.items())

    def check(x: Any) -> Verdict:
        if not isinstance(x, dict):
            return True
        verdict: Verdict = True
        for name, sub in items:
            if name in x:
                found = sub(x[name])
                if found is False:
                    return False
                if found is None:
                    verdict = None
        return verdict

    return check


def _additional(additional: Any, declared: frozenset[str], is_type: Callable[[Any, str], bool]) -> Check:
    if additional is True:
        return lambda x: True
    if additional is False:
        return lambda x: not isinstance(x, dict) or all(name in declared for name in x)
    sub = _compile(additional, is_type)

    def check(x: Any) -> Verdict:
        if not isinstance(x, dict):
            return True
        verdict: Verdict = True
        for name, value in x.items():
            if name not in declared:
                found = sub(value)
                if found is False:
                    return False
                if found is None:
                    verdict = None
        return verdict

    return check


def _conditional(condition: Check, then: Check | None, otherwise: Check | None) -> Check:
    def check(x: Any) -> Verdict:
        holds = condition(x)
        if holds is None:
            return None
        branch = then if holds else otherwise
        return True if branch is None else branch(x)

    return check


def _one_of(x: Any, values: list[Any]) -> Verdict:
    answers = [_equal(x, each) for each in values]
    return True if True in answers else (None if None in answers else False)


def _equal(x: Any, expected: Any) -> Verdict:
    """JSON Schema equality where it is plain Python equality: text, null, the same type."""
    if isinstance(x, str) or isinstance(expected, str):
        return bool(x == expected)
    if x is None or expected is None:
        return x is expected
    if type(x) is type(expected) and isinstance(x, (bool, int)):
        return bool(x == expected)
    return None
