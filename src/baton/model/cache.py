"""Task result caching, as a task declares it: what keys its results and how long one lasts.

Pure: this is the definition only. `execution.cache_keys` computes keys; recording and
reading cache entries belong to the engine and the store.

A YAML task says

    cache: true                     # the default key, kept forever, code included
    cache: {key: "{{ params.day }}", ttl: 1h, include_code: true, refresh: false}

and a Python task `@task(cache=True, cache_key=fn, cache_ttl="1h", cache_include_code=True,
refresh_cache=False)` (or `cache={...}` with the YAML fields). Each option alone turns caching
on but `refresh_cache`, which only means something for a task that caches.

- `key`: a template rendered when the task runs (`"{{ params.day }}"`) whose text keys the
  result instead of the default key (the task's definition, code and resolved inputs). A
  constant text is a valid key too: then every run shares one result.
- a Python `cache_key` function is kept as `module:function` (`key_function`), so the spec
  stays data that a worker imports by name, like the task's own function.
- `ttl`: how long a result may be reused, a duration (`30s`, `15m`, `6h`, `1d`, or seconds);
  none (the default) keeps it until the definition, the code or the inputs change.
- `include_code`: whether the code (a function's source and the local modules it imports, a
  script's file, a SQL text) enters the key, so an edit recomputes. Default true.
- `refresh`: recompute and replace the entry instead of reading it (`refresh_cache=True`).

Errors go through a `Locator`, as `model.assets` does, so a YAML mistake names its line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NoReturn

import msgspec

from baton.errors import DefinitionError
from baton.model import durations, names
from baton.model.yaml_fields import Locator, NoLines, kind, show

FIELDS = ("key", "ttl", "include_code", "refresh")
EXAMPLE = '{key: "{{ params.day }}", ttl: 1h, include_code: true}'
PY_EXAMPLE = '{"key": "{{ params.day }}", "ttl": "1h"}'
MAX_KEY = 2000  # a template, not data: past this it is surely pasted in by mistake

# What `execution.loader.import_function` can find again: attributes from a module, no
# `<locals>` or `<lambda>` in the way.
_REFERENCE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


# The options of `model.spec.Spec`, repeated: spec.py will import this module for TaskSpec.
class CacheSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """How a task's results are cached; a task without one does not cache.

    Defaults are left out of the stored form, so `cache: true` is stored as `{}` and adding
    an option later does not change the content hash of flows that do not use it.
    """

    key: str | None = None  # a template; None: the default key
    key_function: str | None = None  # `module:function` of a Python cache_key
    ttl: Annotated[float, msgspec.Meta(gt=0, le=durations.MAX_SECONDS)] | None = None
    include_code: bool = True
    refresh: bool = False


def parse_cache(item: dict[str, Any], task: str, locator: Locator) -> CacheSpec | None:
    """The `cache:` field of a YAML task mapping: None when absent, null or false.

    Raises:
        DefinitionError: through `locator`, at the line of the bad field.
    """
    if "cache" not in item:
        return None
    return _Reader(locator, task).spec(item["cache"], locator.key_line(item, "cache"))


def from_task_args(
    task: str,
    *,
    cache: bool | Mapping[str, Any] | None = None,
    cache_key: Callable[..., Any] | str | None = None,
    cache_ttl: float | str | None = None,
    cache_include_code: bool | None = None,
    refresh_cache: bool = False,
) -> CacheSpec | None:
    """The cache of a Python task from its decorator's arguments (None: it does not cache).

    `cache` is True, False or a mapping with the YAML fields; a key (`cache_key` or the
    mapping's `key`) is a function or a template string. Any of `cache_key`, `cache_ttl`,
    `cache_include_code` turns caching on; each option is given once, either inside
    `cache={...}` or as its own argument.

    Raises:
        DefinitionError: naming the task and the argument.
    """
    if cache is not None and not isinstance(cache, bool | Mapping):
        _fail(task, f"cache must be True, False or a dict such as {PY_EXAMPLE}, not {show(cache)}")
    separate = {
        name: value
        for name, value in (
            ("cache_key", cache_key),
            ("cache_ttl", cache_ttl),
            ("cache_include_code", cache_include_code),
        )
        if value is not None
    }
    if cache is False and (separate or refresh_cache):
        dropped = ", ".join([*separate, *(["refresh_cache"] if refresh_cache else [])])
        _fail(task, f"cache=False turns caching off: drop {dropped}, or set cache=True")
    if cache is None and not separate:
        if refresh_cache is not False:
            _fail(
                task,
                "refresh_cache=True replaces a cached result, but the task does not cache:"
                " add cache=True (or cache_key, cache_ttl), or drop refresh_cache",
            )
        return None
    if cache is False:
        return None
    given: dict[str, Any] = dict(cache) if isinstance(cache, Mapping) else {}
    reader = _Reader(NoLines(), task, python=True)
    reader.labels.update({field: f'cache["{field}"]' for field in given})
    reader.unknown(given)
    for field, argument, value in (
        ("key", "cache_key", cache_key),
        ("ttl", "cache_ttl", cache_ttl),
        ("include_code", "cache_include_code", cache_include_code),
        ("refresh", "refresh_cache", refresh_cache or None),
    ):
        if value is None:
            continue
        if field in given:
            _fail(
                task, f"give the cache {field} either in cache={{...}} or as {argument}, not both"
            )
        given[field], reader.labels[field] = value, argument
    key = given.pop("key", None)
    spec = reader.fields(given, None)
    if callable(key):
        return msgspec.structs.replace(spec, key_function=_reference(task, key))
    if key is not None:
        return msgspec.structs.replace(spec, key=reader.key(key, None))
    return spec


def _reference(task: str, fn: Callable[..., Any]) -> str:
    """`module:function` for a cache_key function a worker can import again by name."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    reference = f"{module}:{qualname}"
    if not isinstance(module, str) or not isinstance(qualname, str):
        _fail(task, f"cache_key must be a function, not {show(fn)}")
    if not _REFERENCE.fullmatch(reference):
        _fail(
            task,
            f"cache_key {qualname} cannot be found again by a worker (a lambda or a function"
            " defined inside another): define it at the top level of a module",
        )
    return reference


def _fail(task: str, message: str) -> NoReturn:
    raise DefinitionError(message, task=task)


class _Reader:
    """Checks one `cache` value; errors name the field and its line.

    A YAML field is named `cache.ttl`; for the decorator, `python` words the errors as
    Python (True, a dict) and `labels` holds how each field was given (`cache_ttl`,
    `cache['ttl']`).
    """

    def __init__(self, locator: Locator, task: str, *, python: bool = False) -> None:
        self.locator, self.task, self.python = locator, task, python
        self.labels: dict[str, str] = {}

    def fail(self, message: str, line: int | None) -> NoReturn:
        self.locator.fail(message, line=line, task=self.task)

    def label(self, field: str) -> str:
        return self.labels.get(field, f"cache.{field}")

    def spec(self, value: object, line: int | None) -> CacheSpec | None:
        if value is None or value is False:
            return None
        if value is True:
            return CacheSpec()
        if not isinstance(value, dict):
            self.fail(
                f"'cache' must be true, false or a mapping such as {EXAMPLE}, got {kind(value)}",
                line,
            )
        self.unknown(value)
        spec = self.fields(value, line)
        if "key" in value:
            key = self.key(value["key"], self.locator.key_line(value, "key"))
            spec = msgspec.structs.replace(spec, key=key)
        return spec

    def unknown(self, value: dict[Any, Any]) -> None:
        for field in value:
            line = self.locator.key_line(value, field)
            if not isinstance(field, str):
                self.fail(f"'cache' field names must be strings, got {show(field)}", line)
            if field not in FIELDS:
                self.fail(
                    f"unknown field '{self.label(field)}' (allowed: {', '.join(FIELDS)})"
                    + names.did_you_mean(field, FIELDS),
                    line,
                )

    def fields(self, value: dict[str, Any], line: int | None) -> CacheSpec:
        """The spec from every field but `key` (which `key` reads)."""
        ttl = value.get("ttl")
        seconds = None
        if ttl is not None:
            try:
                seconds = durations.parse(ttl, self.label("ttl"))
            except DefinitionError as exc:
                self.fail(exc.message, self.line(value, "ttl", line))
        return CacheSpec(
            ttl=seconds,
            include_code=self.flag(value, "include_code", True, line),
            refresh=self.flag(value, "refresh", False, line),
        )

    def flag(self, value: dict[str, Any], field: str, default: bool, line: int | None) -> bool:
        flag = value.get(field)
        if flag is None:
            return default
        if not isinstance(flag, bool):
            expected = "True or False" if self.python else "true or false"
            self.fail(
                f"'{self.label(field)}' must be {expected}, got {show(flag)}",
                self.line(value, field, line),
            )
        return flag

    def key(self, key: object, line: int | None) -> str:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
            what = "a function or " if self.python else ""
            self.fail(
                f"'{self.label('key')}' must be {what}a non-empty template of at most {MAX_KEY}"
                f' characters such as "{{{{ params.day }}}}", got {show(key)}',
                line,
            )
        return key

    def line(self, value: dict[str, Any], field: str, otherwise: int | None) -> int | None:
        return self.locator.key_line(value, field) if field in value else otherwise
