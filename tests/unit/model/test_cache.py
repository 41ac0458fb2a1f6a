from __future__ import annotations

from typing import Any

import msgspec
import pytest

from baton.errors import DefinitionError
from baton.model import cache, yaml_spec
from baton.model.cache import CacheSpec
from baton.model.yaml_fields import NoLines

# Line numbers below count from `name: f` (line 1); the task is on line 3, its cache on 5.
FLOW = """\
name: f
tasks:
  - key: load
    type: shell
    cache: {cache}
    command: "true"
"""


def parse(value: str) -> CacheSpec | None:
    """`cache: <value>` read as the YAML parser will read it, with its lines. Until
    yaml_spec reads `cache:` itself, its loader and parser are borrowed as the Locator."""
    loader = yaml_spec._Loader(FLOW.replace("{cache}", value))
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    item = data["tasks"][0]
    return cache.parse_cache(item, item["key"], yaml_spec._Parser("flows/f.yaml", loader))


def yaml_error(value: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as caught:
        parse(value)
    assert caught.value.file == "flows/f.yaml"
    assert caught.value.task == "load"
    return caught.value


def key_fn(params: dict[str, Any]) -> str:
    return str(params["day"])


def python(**arguments: Any) -> CacheSpec | None:
    return cache.from_task_args("load", **arguments)


def python_error(**arguments: Any) -> str:
    with pytest.raises(DefinitionError) as caught:
        python(**arguments)
    assert caught.value.task == "load"
    return caught.value.message


# -- YAML ----------------------------------------------------------------------------------


def test_true_is_the_defaults_and_false_or_null_no_cache() -> None:
    assert parse("true") == CacheSpec(key=None, ttl=None, include_code=True, refresh=False)
    assert parse("false") is None
    assert parse("null") is None
    assert parse("{}") == CacheSpec()


def test_a_task_without_cache_does_not_cache() -> None:
    assert cache.parse_cache({"key": "load", "type": "shell"}, "load", NoLines()) is None


def test_a_full_mapping() -> None:
    spec = parse('{key: "{{ params.day }}", ttl: 1h, include_code: false, refresh: true}')
    assert spec == CacheSpec(key="{{ params.day }}", ttl=3600.0, include_code=False, refresh=True)


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("6h", 21600.0), ("1d", 86400.0), ("1h30m", 5400.0),
     ("90", 90.0), ("2.5", 2.5), ('"120"', 120.0)],
)  # fmt: skip
def test_ttl_is_a_duration(ttl: str, seconds: float) -> None:
    assert parse(f"{{ttl: {ttl}}}") == CacheSpec(ttl=seconds)


def test_a_null_ttl_keeps_results_forever() -> None:
    assert parse("{ttl: null}") == CacheSpec(ttl=None)


@pytest.mark.parametrize("ttl", ["0", "-5", "1x", "1m1h", "true", "[1]", "200y", "101000d"])
def test_a_bad_ttl_is_named_with_its_line(ttl: str) -> None:
    exc = yaml_error(f"{{ttl: {ttl}}}")
    assert exc.line == 5
    assert exc.message.startswith("'cache.ttl' must be a duration > 0")
    assert "such as 30s, 15m, 6h, 1d, 1h30m or a number of seconds" in exc.message


def test_a_bad_ttl_on_its_own_line_is_pointed_at() -> None:
    exc = yaml_error("\n      key: x\n      ttl: soon")
    assert exc.line == 7
    assert exc.message.endswith("got 'soon'")
    assert str(exc).startswith("flows/f.yaml:7, task 'load': 'cache.ttl' must be")


def test_an_unknown_field_is_named_with_a_hint() -> None:
    exc = yaml_error("\n      key: x\n      tll: 1h")
    assert exc.line == 7
    assert exc.message == (
        "unknown field 'cache.tll' (allowed: key, ttl, include_code, refresh); did you mean 'ttl'?"
    )


def test_a_field_name_must_be_a_string() -> None:
    assert "field names must be strings, got 1" in yaml_error("{1: x}").message


@pytest.mark.parametrize("value", ["yes", "1", "[key]", '"true"'])
def test_cache_must_be_a_boolean_or_a_mapping(value: str) -> None:
    exc = yaml_error(value)
    assert exc.line == 5
    assert exc.message.startswith("'cache' must be true, false or a mapping such as {key: ")


@pytest.mark.parametrize(("value", "got"), [("3", "3"), ('""', "''"), ("[a]", "['a']")])
def test_the_key_must_be_a_template(value: str, got: str) -> None:
    exc = yaml_error(f"{{key: {value}}}")
    assert exc.message == (
        "'cache.key' must be a non-empty template of at most 2000 characters such as"
        f' "{{{{ params.day }}}}", got {got}'
    )


def test_a_key_too_long_is_refused() -> None:
    assert "at most 2000 characters" in yaml_error("{key: " + "x" * 2001 + "}").message


@pytest.mark.parametrize("field", ["include_code", "refresh"])
def test_flags_must_be_booleans(field: str) -> None:
    exc = yaml_error(f"{{{field}: yes}}")
    assert exc.message == f"'cache.{field}' must be true or false, got 'yes'"


# -- the stored form -----------------------------------------------------------------------


def test_defaults_are_left_out_of_the_stored_form() -> None:
    assert msgspec.json.encode(CacheSpec()) == b"{}"
    spec = CacheSpec(key="{{ params.day }}", ttl=60.0, include_code=False)
    text = msgspec.json.encode(spec)
    assert msgspec.json.decode(text) == {
        "key": "{{ params.day }}",
        "ttl": 60.0,
        "include_code": False,
    }
    assert msgspec.json.decode(text, type=CacheSpec) == spec


def test_the_stored_form_is_checked_when_read() -> None:
    with pytest.raises(msgspec.ValidationError, match="ttl"):
        msgspec.json.decode(b'{"ttl": -1}', type=CacheSpec)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"tll": 1}', type=CacheSpec)


# -- Python decorator arguments ------------------------------------------------------------


def test_no_cache_argument_means_no_cache() -> None:
    assert python() is None
    assert python(cache=False) is None
    assert python(cache=None) is None


def test_cache_true_is_the_defaults() -> None:
    assert python(cache=True) == CacheSpec()
    assert python(cache=True, refresh_cache=True) == CacheSpec(refresh=True)


def test_a_cache_key_function_is_kept_as_its_reference() -> None:
    spec = python(cache_key=key_fn, cache_ttl="1h")
    assert spec == CacheSpec(key_function=f"{__name__}:key_fn", ttl=3600.0)
    assert cache.from_task_args("t", cache={"key": key_fn}) == CacheSpec(
        key_function=f"{__name__}:key_fn"
    )


def test_each_option_alone_turns_caching_on() -> None:
    assert python(cache_ttl=90) == CacheSpec(ttl=90.0)
    assert python(cache_include_code=False) == CacheSpec(include_code=False)
    assert python(cache_key="{{ params.day }}") == CacheSpec(key="{{ params.day }}")


def test_a_dict_takes_the_yaml_fields() -> None:
    spec = python(cache={"key": "{{ params.day }}", "ttl": "1d", "include_code": False})
    assert spec == CacheSpec(key="{{ params.day }}", ttl=86400.0, include_code=False)
    assert python(cache={"refresh": True}) == CacheSpec(refresh=True)
    assert python(cache={}) == CacheSpec()


def test_an_option_given_twice_is_refused() -> None:
    message = python_error(cache={"ttl": 60}, cache_ttl=60)
    assert message == "give the cache ttl either in cache={...} or as cache_ttl, not both"
    assert "cache_key, not both" in python_error(cache={"key": "a"}, cache_key=key_fn)
    assert "refresh_cache, not both" in python_error(cache={"refresh": False}, refresh_cache=True)


def test_cache_false_with_options_is_refused() -> None:
    message = python_error(cache=False, cache_ttl=60, refresh_cache=True)
    assert (
        message == "cache=False turns caching off: drop cache_ttl, refresh_cache, or set cache=True"
    )


def test_refresh_without_a_cache_is_refused() -> None:
    assert python_error(refresh_cache=True).startswith(
        "refresh_cache=True replaces a cached result, but the task does not cache"
    )


def test_a_function_a_worker_cannot_import_is_refused() -> None:
    def local(params: dict[str, Any]) -> str:
        return ""

    for fn in (local, lambda: "x"):
        assert "define it at the top level of a module" in python_error(cache_key=fn)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"cache": "yes"},
            "cache must be True, False or a dict such as"
            ' {"key": "{{ params.day }}", "ttl": "1h"}, not \'yes\'',
        ),
        (
            {"cache_ttl": "soon"},
            "'cache_ttl' must be a duration > 0 such as 30s, 15m, 6h, 1d, 1h30m or a number of"
            " seconds, got 'soon'",
        ),
        ({"cache_ttl": 0}, "'cache_ttl' must be a duration > 0"),
        ({"cache": {"ttl": True}}, """'cache["ttl"]' must be a duration > 0"""),
        ({"cache_include_code": "no"}, "'cache_include_code' must be True or False, got 'no'"),
        ({"cache": True, "refresh_cache": 1}, "'refresh_cache' must be True or False, got 1"),
        ({"cache_key": 3}, "'cache_key' must be a function or a non-empty template"),
        ({"cache": {"key": ""}}, """'cache["key"]' must be a function or a non-empty"""),
        (
            {"cache": {"tll": 5}},
            """unknown field 'cache["tll"]' (allowed: key, ttl, include_code, refresh);"""
            " did you mean 'ttl'?",
        ),
    ],
)
def test_wrong_arguments_are_named(arguments: dict[str, Any], message: str) -> None:
    assert python_error(**arguments).startswith(message)
