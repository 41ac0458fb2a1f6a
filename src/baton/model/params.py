"""Flow params: their types, and turning what a user passed into the values a run gets.

Values arrive from Python or the API as JSON values, and from the CLI (`-p key=value`) as
strings; a string for a non-string param is parsed here, so every entry point accepts the
same spellings and reports the same errors.
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from baton.errors import InputError, ParamError
from baton.model import json_text, names
from baton.model.spec import ParamSpec, ParamType

_TYPE_NAMES: dict[str, ParamType] = {
    "int": "integer",
    "float": "number",
    "str": "string",
    "bool": "boolean",
    "list": "array",
    "tuple": "array",
    "dict": "object",
}
_TYPES: dict[object, ParamType] = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    tuple: "array",
    dict: "object",
}
# How a type is named in messages, with an example of what the CLI accepts.
_DESCRIPTIONS: dict[ParamType, str] = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false, yes/no, 1/0)",
    "array": 'an array (JSON text such as [1, "a"])',
    "object": 'an object (JSON text such as {"k": 1})',
    "any": "any value",
}
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_INTEGER = re.compile(r"[+-]?\d+")


def param_type_of(annotation: object) -> ParamType:
    """The param type of a Python annotation; `"any"` when it has none or no JSON equivalent.

    `Optional[X]` and `X | None` count as X. Annotations may be strings, as they are under
    `from __future__ import annotations`.
    """
    if isinstance(annotation, str):
        return _type_of_string(annotation)
    if isinstance(annotation, type):  # also catches inspect.Parameter.empty -> "any"
        return _TYPES.get(annotation, "any")
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return param_type_of(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        not_none = [a for a in typing.get_args(annotation) if a is not type(None)]
        return param_type_of(not_none[0]) if len(not_none) == 1 else "any"
    # list[int], dict[str, int], typing.List[int]: the origin is the bare container.
    return _TYPES.get(origin, "any") if origin is not None else "any"


def item_type_of(annotation: object) -> ParamType | None:
    """The element type of a list annotation (`list[int]` -> "integer"), if it says one."""
    if isinstance(annotation, str):
        text = annotation.strip().removeprefix("typing.")
        head, _, rest = text.partition("[")
        if head.lower() in ("list", "tuple") and rest.endswith("]"):
            inner = _split_top_level(rest[:-1], ",")
            if len(inner) == 1 or (len(inner) == 2 and inner[1].strip() == "..."):
                kind = _type_of_string(inner[0])
                return None if kind == "any" else kind
        return None
    if typing.get_origin(annotation) in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1:
            kind = param_type_of(args[0])
            return None if kind == "any" else kind
    return None


def _type_of_string(text: str) -> ParamType:
    text = text.strip()
    if text.startswith(("Optional[", "typing.Optional[")) and text.endswith("]"):
        return _type_of_string(text[text.index("[") + 1 : -1])
    if text.startswith(("Union[", "typing.Union[")) and text.endswith("]"):
        parts = _split_top_level(text[text.index("[") + 1 : -1], ",")
    else:
        parts = _split_top_level(text, "|")
    not_none = [p.strip() for p in parts if p.strip() not in ("None", "NoneType")]
    if len(not_none) != 1:
        return "any"
    if len(parts) > 1:
        return _type_of_string(not_none[0])
    base = not_none[0].split("[", 1)[0].strip().removeprefix("typing.").lower()
    return _TYPE_NAMES.get(base, "any")


def _split_top_level(text: str, separator: str) -> list[str]:
    """`text` split on `separator` outside brackets: "dict[str, int] | None" has two parts."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def param_type_of_value(value: object) -> ParamType:
    """The param type a default value implies (YAML's `n_rows: 1000` is an integer param)."""
    # bool before int: True is an int to Python but a boolean to the user.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "any"


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an int too large for a float (JSON allows 10**400)
        return False


def matches_type(value: object, param_type: ParamType) -> bool:
    """Whether a JSON value already has the given param type (no parsing of strings)."""
    match param_type:
        case "string":
            return isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool) and _finite(value)
        case "boolean":
            return isinstance(value, bool)
        case "array":
            return isinstance(value, list | tuple)
        case "object":
            return isinstance(value, dict)
    return True


def coerce_params(
    specs: Mapping[str, ParamSpec], given: Mapping[str, Any], *, flow: str
) -> dict[str, Any]:
    """The complete params of a run: `given` checked and parsed, defaults filled in.

    A string given for a non-string param is parsed as the CLI spells it ("5", "2.5",
    "yes", JSON text for arrays and objects); any other value must already have the
    param's type. `None` is accepted for a param that is not required, as "no value".

    Raises:
        ParamError: naming every unknown, missing or ill-typed param at once.
    """
    problems: list[tuple[str, str, str]] = []  # see ParamError.problems
    for name in given:
        if name not in specs:
            problems.append((name, "unknown", _unknown(name, specs, flow)))
    result: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in given:
            if spec.required:
                problems.append(
                    (
                        name,
                        "missing",
                        f"flow '{flow}' requires param '{name}' ({_DESCRIPTIONS[spec.type]})"
                        " and none was given",
                    )
                )
            else:
                result[name] = spec.default
            continue
        if json_text.not_unicode_at(given[name]) is not None:
            # From an event's payload, say: no UTF-8 store or answer could hold it.
            problems.append((name, "invalid", f"param '{name}' is not valid Unicode text"))
            continue
        try:
            result[name] = _coerce(given[name], spec)
        except ValueError:
            expected = _DESCRIPTIONS[spec.type]
            if spec.items is not None:
                expected = f"an array of {spec.items} values (JSON text such as [...])"
            problems.append(
                (
                    name,
                    "invalid",
                    f"param '{name}' of flow '{flow}' expects {expected}, got {_show(given[name])}",
                )
            )
    if problems:
        texts = [text for _, _, text in problems]
        if len(texts) > 1:
            texts = [f"{len(texts)} problems with the params: " + "; ".join(texts)]
        raise ParamError(texts[0], tuple(problems))
    return result


def _unknown(name: str, specs: Mapping[str, ParamSpec], flow: str) -> str:
    if not specs:
        return f"flow '{flow}' takes no params, got '{name}'"
    hint = names.did_you_mean(name, specs, lead="", otherwise="check for typos")
    return f"flow '{flow}' has no param '{name}' (its params: {', '.join(specs)}); {hint}"


def _coerce(value: Any, spec: ParamSpec) -> Any:
    """The value as the param's type; ValueError when it is not one."""
    if value is None and not spec.required:
        return None
    if isinstance(value, str) and spec.type not in ("string", "any"):
        value = _parse(value, spec.type)
    if not matches_type(value, spec.type):
        raise ValueError(value)
    if spec.items is not None and not all(matches_type(v, spec.items) for v in value):
        raise ValueError(value)
    # Tuples come from Python callers; the run stores JSON, where they are lists.
    return list(value) if isinstance(value, tuple) else value


def _parse(text: str, param_type: ParamType) -> Any:
    stripped = text.strip()
    match param_type:
        case "integer":
            if _INTEGER.fullmatch(stripped):
                return int(stripped)
        case "number":
            # float() also reads "nan" and "inf", which JSON cannot store.
            number = float(stripped)
            if math.isfinite(number):
                return number
        case "boolean":
            if stripped.lower() in _TRUE:
                return True
            if stripped.lower() in _FALSE:
                return False
        case "array" | "object":
            parsed = json.loads(stripped)  # JSONDecodeError is a ValueError
            if matches_type(parsed, param_type):
                return parsed
    raise ValueError(text)


def _show(value: object) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return shown if isinstance(value, str) else f"{shown} ({type(value).__name__})"


def parse_cli_params(pairs: Sequence[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; values stay strings until coerced.

    Raises:
        InputError: a pair has no '=' or an empty key, or a key is given twice.
    """
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"bad param {pair!r}: write it as key=value, e.g. -p n_rows=100")
        if key in params:
            # Silently keeping one of two values would hide a mistake on the command line.
            raise InputError(f"param '{key}' is given twice ({params[key]!r} and {value!r})")
        params[key] = value
    return params
