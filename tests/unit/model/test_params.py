from __future__ import annotations

import inspect
import typing
from typing import Annotated, Any, Optional, Union

import pytest

from baton.errors import InputError, ParamError
from baton.model.params import (
    coerce_params,
    matches_type,
    param_type_of,
    param_type_of_value,
    parse_cli_params,
)
from baton.model.spec import ParamSpec, ParamType

# -- param_type_of -------------------------------------------------------------------------


class Custom:
    pass


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (bool, "boolean"),
        (list, "array"),
        (list[int], "array"),
        (tuple, "array"),
        (tuple[int, ...], "array"),
        (typing.List[int], "array"),  # noqa: UP006 - old spellings still appear in user code
        (dict, "object"),
        (dict[str, int], "object"),
        (typing.Dict[str, Any], "object"),  # noqa: UP006
        (Optional[int], "integer"),  # noqa: UP045
        (int | None, "integer"),
        (None | str, "string"),
        (Union[list[str], None], "array"),  # noqa: UP007
        (int | str, "any"),
        (int | str | None, "any"),
        (Annotated[int, "rows"], "integer"),
        (inspect.Parameter.empty, "any"),
        (Any, "any"),
        (object, "any"),
        (Custom, "any"),
        (None, "any"),
    ],
)
def test_param_type_of_annotation(annotation: object, expected: ParamType) -> None:
    assert param_type_of(annotation) == expected


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("int", "integer"),
        ("float", "number"),
        ("str", "string"),
        ("bool", "boolean"),
        ("list", "array"),
        ("list[int]", "array"),
        ("tuple[int, ...]", "array"),
        ("List[str]", "array"),
        ("dict", "object"),
        ("dict[str, int]", "object"),
        ("dict[str, int | None]", "object"),  # the inner '|' is not a union of the whole
        ("int | None", "integer"),
        ("None | int", "integer"),
        ("list[str] | None", "array"),
        ("Optional[int]", "integer"),
        ("typing.Optional[dict[str, int]]", "object"),
        ("Union[bool, None]", "boolean"),
        ("int | str", "any"),
        ("Union[int, str]", "any"),
        ("Custom", "any"),
        ("", "any"),
    ],
)
def test_param_type_of_string_annotation(annotation: str, expected: ParamType) -> None:
    assert param_type_of(annotation) == expected


def test_param_type_of_signature_under_future_annotations() -> None:
    def f(
        n: int, ratio: float | None, items: list[str], opts: dict[str, int], x, flag: bool
    ) -> None:
        pass

    types = {
        name: param_type_of(p.annotation) for name, p in inspect.signature(f).parameters.items()
    }
    assert types == {
        "n": "integer",
        "ratio": "number",
        "items": "array",
        "opts": "object",
        "x": "any",
        "flag": "boolean",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1000, "integer"),
        (2.5, "number"),
        ("fast", "string"),
        (True, "boolean"),
        ([1, 2], "array"),
        ({"a": 1}, "object"),
        (None, "any"),
    ],
)
def test_param_type_of_value(value: object, expected: ParamType) -> None:
    assert param_type_of_value(value) == expected


@pytest.mark.parametrize(
    ("value", "param_type", "expected"),
    [
        (1, "integer", True),
        (True, "integer", False),
        (1.0, "integer", False),
        (1, "number", True),
        (1.5, "number", True),
        (False, "number", False),
        (float("nan"), "number", False),
        (10**400, "number", False),  # JSON allows it; a float cannot hold it
        ("1", "string", True),
        (1, "string", False),
        (True, "boolean", True),
        (1, "boolean", False),
        ([], "array", True),
        ((1,), "array", True),
        ({}, "array", False),
        ({}, "object", True),
        ([], "object", False),
        (object(), "any", True),
    ],
)
def test_matches_type(value: object, param_type: ParamType, expected: bool) -> None:
    assert matches_type(value, param_type) is expected


# -- coerce_params -------------------------------------------------------------------------

SPECS = {
    "n_rows": ParamSpec(type="integer", default=1000),
    "ratio": ParamSpec(type="number", default=0.5),
    "mode": ParamSpec(type="string", default="fast"),
    "dry_run": ParamSpec(type="boolean", default=False),
    "columns": ParamSpec(type="array", default=["a"]),
    "options": ParamSpec(type="object", default={}),
    "extra": ParamSpec(default=None),
}


def test_defaults_fill_in_what_is_not_given() -> None:
    assert coerce_params(SPECS, {"mode": "slow"}, flow="x") == {
        "n_rows": 1000,
        "ratio": 0.5,
        "mode": "slow",
        "dry_run": False,
        "columns": ["a"],
        "options": {},
        "extra": None,
    }


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("n_rows", "5", 5),
        ("n_rows", " -3 ", -3),
        ("n_rows", "+7", 7),
        ("ratio", "2.5", 2.5),
        ("ratio", "3", 3.0),
        ("ratio", "1e3", 1000.0),
        ("mode", "5", "5"),  # a string param keeps the text as it is
        ("mode", "", ""),
        ("dry_run", "true", True),
        ("dry_run", "TRUE", True),
        ("dry_run", "Yes", True),
        ("dry_run", "1", True),
        ("dry_run", "false", False),
        ("dry_run", "No", False),
        ("dry_run", "0", False),
        ("columns", '[1, "a"]', [1, "a"]),
        ("columns", "[]", []),
        ("options", '{"k": [1]}', {"k": [1]}),
        ("extra", "anything", "anything"),  # an untyped param gets the CLI text unparsed
    ],
)
def test_cli_strings_are_parsed(name: str, text: str, expected: object) -> None:
    value = coerce_params(SPECS, {name: text}, flow="x")[name]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("n_rows", 5, 5),
        ("ratio", 2, 2),  # an integer is a number
        ("ratio", 2.5, 2.5),
        ("dry_run", True, True),
        ("columns", ("a", "b"), ["a", "b"]),  # a tuple becomes the JSON list it stands for
        ("options", {"a": {"b": 1}}, {"a": {"b": 1}}),
        ("extra", [1, {"x": None}], [1, {"x": None}]),
        ("n_rows", None, None),  # "no value" for a param that is not required
    ],
)
def test_json_values_of_the_right_type_pass(name: str, value: object, expected: object) -> None:
    assert coerce_params(SPECS, {name: value}, flow="x")[name] == expected


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("n_rows", "abc", "expects an integer, got 'abc'"),
        ("n_rows", "5.0", "expects an integer, got '5.0'"),
        ("n_rows", "", "expects an integer, got ''"),
        ("n_rows", True, "expects an integer, got True (bool)"),
        ("n_rows", 2.5, "expects an integer, got 2.5 (float)"),
        ("ratio", "fast", "expects a number, got 'fast'"),
        ("ratio", "nan", "expects a number, got 'nan'"),
        ("ratio", "inf", "expects a number, got 'inf'"),
        ("ratio", False, "expects a number, got False (bool)"),
        ("mode", 5, "expects a string, got 5 (int)"),
        ("dry_run", "maybe", "expects a boolean (true/false, yes/no, 1/0), got 'maybe'"),
        ("dry_run", 1, "expects a boolean (true/false, yes/no, 1/0), got 1 (int)"),
        ("columns", "a,b", "expects an array"),
        ("columns", '{"a": 1}', "expects an array"),
        ("columns", {"a": 1}, "expects an array"),
        ("options", "[1]", "expects an object"),
        ("options", "{bad json", "expects an object"),
    ],
)
def test_ill_typed_values_name_the_param_and_flow(name: str, value: object, shown: str) -> None:
    with pytest.raises(ParamError) as info:
        coerce_params(SPECS, {name: value}, flow="x")
    assert str(info.value).startswith(f"param '{name}' of flow 'x' {shown}")


def test_the_documented_message() -> None:
    with pytest.raises(
        ParamError, match=r"^param 'n_rows' of flow 'x' expects an integer, got 'abc'$"
    ):
        coerce_params(SPECS, {"n_rows": "abc"}, flow="x")


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ParamError) as info:
        coerce_params(SPECS, {"n_rows": "x" * 500}, flow="x")
    assert "..." in str(info.value)
    assert len(str(info.value)) < 200


def test_unknown_param_suggests_the_close_one() -> None:
    with pytest.raises(ParamError) as info:
        coerce_params(SPECS, {"nrows": 5}, flow="x")
    message = str(info.value)
    assert "flow 'x' has no param 'nrows'" in message
    assert "n_rows, ratio, mode, dry_run, columns, options, extra" in message
    assert "did you mean 'n_rows'?" in message


def test_unknown_param_without_a_close_one_says_check_for_typos() -> None:
    with pytest.raises(ParamError, match=r"no param 'zzz' .*check for typos"):
        coerce_params(SPECS, {"zzz": 5}, flow="x")


def test_a_flow_without_params_says_so() -> None:
    with pytest.raises(ParamError, match=r"flow 'x' takes no params, got 'n'"):
        coerce_params({}, {"n": "1"}, flow="x")


def test_missing_required_param() -> None:
    specs = {"date": ParamSpec(type="string", required=True)}
    with pytest.raises(ParamError, match=r"flow 'x' requires param 'date' \(a string\)"):
        coerce_params(specs, {}, flow="x")


def test_none_for_a_required_param_is_ill_typed() -> None:
    specs = {"date": ParamSpec(type="string", required=True)}
    with pytest.raises(ParamError, match=r"param 'date' of flow 'x' expects a string, got None"):
        coerce_params(specs, {"date": None}, flow="x")


def test_required_param_given() -> None:
    specs = {"date": ParamSpec(type="string", required=True)}
    assert coerce_params(specs, {"date": "2024-01-01"}, flow="x") == {"date": "2024-01-01"}


def test_every_problem_is_reported_at_once() -> None:
    specs = {**SPECS, "date": ParamSpec(type="string", required=True)}
    with pytest.raises(ParamError) as info:
        coerce_params(specs, {"nrows": 1, "ratio": "x", "dry_run": "maybe"}, flow="x")
    message = str(info.value)
    assert message.startswith("4 problems with the params: ")
    assert "\n" not in message
    for part in ("no param 'nrows'", "'ratio' of flow 'x'", "'dry_run' of flow 'x'", "'date'"):
        assert part in message


def test_param_error_is_an_input_error() -> None:
    assert issubclass(ParamError, InputError)


def test_given_values_are_not_modified() -> None:
    given = {"columns": ("a",)}
    coerce_params(SPECS, given, flow="x")
    assert given == {"columns": ("a",)}


# -- parse_cli_params ----------------------------------------------------------------------


def test_parse_cli_params() -> None:
    assert parse_cli_params(["a=1", "url=http://h/?x=1&y=2", "empty=", "sp= x "]) == {
        "a": "1",
        "url": "http://h/?x=1&y=2",
        "empty": "",
        "sp": " x ",
    }


def test_parse_no_cli_params() -> None:
    assert parse_cli_params([]) == {}


@pytest.mark.parametrize("pair", ["n_rows", "=5", " =5", ""])
def test_a_bad_pair_is_named(pair: str) -> None:
    with pytest.raises(InputError) as info:
        parse_cli_params(["ok=1", pair])
    assert f"bad param {pair!r}" in str(info.value)
    assert "key=value" in str(info.value)


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(InputError, match=r"param 'a' is given twice \('1' and '2'\)"):
        parse_cli_params(["a=1", "a=2"])


def test_array_params_check_their_element_type() -> None:
    from baton.model.params import item_type_of

    specs = {"ids": ParamSpec(type="array", items="integer", default=[1])}
    assert coerce_params(specs, {"ids": "[2, 3]"}, flow="f") == {"ids": [2, 3]}
    assert coerce_params(specs, {"ids": [4]}, flow="f") == {"ids": [4]}
    with pytest.raises(ParamError, match=r"'ids' of flow 'f' expects an array of integer"):
        coerce_params(specs, {"ids": '["x"]'}, flow="f")
    assert item_type_of(list[int]) == "integer"
    assert item_type_of("list[str]") == "string"
    assert item_type_of(list) is None


def test_text_that_is_not_unicode_is_an_invalid_param() -> None:
    # An event's payload may carry "\ud800": a run that stored it broke its answers.
    with pytest.raises(ParamError) as info:
        coerce_params(SPECS, {"mode": "\ud800", "options": {"k": ["ok", "x\udcff"]}}, flow="x")
    assert info.value.problems == (
        ("mode", "invalid", "param 'mode' is not valid Unicode text"),
        ("options", "invalid", "param 'options' is not valid Unicode text"),
    )
