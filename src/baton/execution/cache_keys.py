"""Cache keys: the text that says two task runs would compute the same result.

A task that caches (`model.cache.CacheSpec`) looks its result up by one of three keys:

- `default_key`: a hash of the task's definition, of its code (`code_fingerprint`) unless
  `include_code` is off, of its resolved inputs (upstream results, the params it reads, ...)
  and of its partition;
- `custom_key`: the str a user's `cache_key` function returns, with the task's identity;
- `template_key`: a rendered key template (`"{{ params.day }}"`), with the task's identity.

The identity (flow and task key) keeps two tasks whose keys come out alike (`2024-05-01`)
from reading each other's results; the default key needs none, as the definition it hashes
names the task.

Keys are stable across processes, machines and Python versions, or a cache would only ever
hit inside the process that filled it. So nothing in a key depends on where or when it was
computed: no `hash()` (salted per process), no `repr` of objects (memory addresses), no
pickle (its bytes change with protocol and version), no absolute path (checkouts differ).
A key is the SHA-256 of one canonical JSON document, encoded by msgspec with
`order="sorted"`: mapping keys, struct fields and sets sorted, UTF-8, floats written as the
shortest text that reads back the same double, which IEEE 754 makes the same everywhere.
Source text is hashed with `\\r\\n` read as `\\n`, so a checkout with Windows line endings
keys alike. A version number in the document lets a later change of format miss old entries
rather than misread them.

What JSON cannot tell apart, neither can a key: NaN and infinities are written `null`, a
tuple or a set like a list (as results stored as JSON come back anyway). A value JSON cannot
encode (a DataFrame, an open file, a mapping with keys other than strings) is refused with an
error naming the input, never keyed by something arbitrary such as its `repr`.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import os
import types
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from baton.errors import BatonError
from baton.model.yaml_fields import show

KEY_VERSION = 1
# Bounds on the walk of a function's local imports, so that a flow inside a large project
# costs a bounded time per key; what lies beyond them does not enter the fingerprint.
MAX_IMPORT_DEPTH = 8
MAX_LOCAL_MODULES = 200
MAX_GLOBALS = 200
# TaskSpec fields that say how a task runs (when, where, how often), not what it computes:
# moving a task to another queue or retrying it more must not recompute it. `cache` itself
# is left out so that `refresh` or a new `ttl` reads and writes the same entries.
NOT_IN_KEY = frozenset({"cache", "retry", "timeout", "queue", "pool", "priority", "trigger_rule"})


class CacheKeyError(BatonError):
    """A cache key cannot be computed; the message names what and how to key the task
    instead (a `cache_key` function, a key template, `include_code: false`, or no cache)."""


@dataclass(frozen=True, slots=True)
class PythonCode:
    """A Python task's function. Modules it imports count as its code when their files lie
    under `root`; the default root is the folder holding the function's file, or above its
    top-level package when the file is inside one (the folder `sys.path` finds it from)."""

    function: Callable[..., Any]
    root: str | None = None


@dataclass(frozen=True, slots=True)
class ScriptFile:
    """A script task's file, whose bytes are its code."""

    path: str


@dataclass(frozen=True, slots=True)
class SqlText:
    """A SQL task's statement text."""

    text: str


Code = PythonCode | ScriptFile | SqlText


@dataclass(frozen=True, slots=True)
class _Module:
    """What the fingerprint needs of one source file: its digest; its imports, each as
    (level, module, names): `from ..a import b` is (2, "a", ("b",)), `import a.b` (0, "a.b", ());
    and the text of its top-level assignments, by the name they assign."""

    digest: str
    imports: tuple[tuple[int, str, tuple[str, ...]], ...]
    assignments: tuple[tuple[str, str], ...] = ()


def code_fingerprint(code: Code) -> str:
    """A SHA-256 hex digest of a task's code, for `default_key` and the other keys' `code`.

    For a Python function: its source, the source of what it uses from its own module
    (functions and classes, and the statements assigning its other names) and that of every
    module under the root it imports, directly or through another (its module's imports,
    even those its other functions use: an import can change what a module does when loaded).
    Third-party and standard library modules are not the flow's code and never enter it.

    Raises:
        CacheKeyError: the source cannot be read (a function defined in a REPL or by
            `exec`, a missing script file).
    """
    if isinstance(code, PythonCode):
        return _digest(["python", _python_parts(code.function, code.root)])
    if isinstance(code, ScriptFile):
        try:
            with open(code.path, "rb") as f:
                content = f.read()
        except OSError as exc:
            raise CacheKeyError(
                f"cannot read the script {code.path} to key the task's cache: {exc.strerror}"
            ) from None
        return _digest(["script", hashlib.sha256(content).hexdigest()])
    return _digest(["sql", _text(code.text)])


def local_modules(function: Callable[..., Any], root: str | None = None) -> list[str]:
    """The files of the flow's own modules that `function`'s fingerprint includes, relative
    to the root with `/` separators and sorted: what to check when a key changes or not."""
    fn = inspect.unwrap(function)
    start = _source_file(fn)
    return [path for path, _ in _imported(start, _root(start, root))]


def default_key(
    task_definition_json: str,
    code: str | None,
    inputs: Mapping[str, Any],
    partition: str | None,
) -> str:
    """The key of a task run when its task gives no key of its own.

    The document hashed is `{"baton_cache_key": 1, "kind": "default", "definition": ...,
    "code": ..., "inputs": {...}, "partition": ...}`, where `definition` is the task's
    JSON (a `TaskSpec`) without the fields of `NOT_IN_KEY`, so its key order does not
    matter either.

    Args:
        task_definition_json: the task's definition as JSON.
        code: `code_fingerprint` of its code, or None when `include_code` is off.
        inputs: what the run reads, by a name that says where it comes from (upstream
            results, params, a mapped task's item); JSON values.
        partition: the run's partition key, if any.

    Raises:
        CacheKeyError: the definition is not JSON, or an input cannot be encoded (named).
    """
    try:
        definition = msgspec.json.decode(task_definition_json)
    except msgspec.DecodeError as exc:
        raise CacheKeyError(f"the task definition to key its cache is not JSON: {exc}") from None
    if isinstance(definition, dict):
        definition = {k: v for k, v in definition.items() if k not in NOT_IN_KEY}
    return _digest(
        {
            "baton_cache_key": KEY_VERSION,
            "kind": "default",
            "definition": definition,
            "code": code,
            "inputs": _encoded_inputs(inputs),
            "partition": partition,
        }
    )


def custom_key(
    fn: Callable[..., object],
    context_values: Mapping[str, Any],
    *,
    identity: str,
    code: str | None = None,
) -> str:
    """The key of a task run from the str its `cache_key` function returns.

    The function is called with the context values its signature names (all of them when
    it takes `**kwargs`), as a task function gets its run context: a key that needs only
    `params` says so. An exception it raises goes to the caller, which reports it as the
    task's user error.

    Args:
        fn: the user's `cache_key` function.
        context_values: what it may ask for by name (params, upstream results, partition...).
        identity: the task's flow and key, e.g. `etl/load` (with the map index of a mapped
            task whose key does not name its item).
        code: `code_fingerprint` of the task's code, or None when `include_code` is off.

    Raises:
        CacheKeyError: the function asks for a value there is not, or returns no str.
    """
    value = fn(**_arguments(fn, context_values))
    if not isinstance(value, str):
        raise CacheKeyError(
            f"cache_key function {_name(fn)} returned {type(value).__name__} {show(value)}:"
            " it must return a str that identifies the task's result (e.g. the day it reads)"
        )
    return _identified("custom", value, identity, code)


def template_key(rendered: str, *, identity: str, code: str | None = None) -> str:
    """The key of a task run from its rendered key template (`"{{ params.day }}"` ->
    `"2024-05-01"`); the caller renders it, as it renders the task's other templates.

    Args:
        rendered: the template's text once rendered.
        identity: the task's flow and key, as for `custom_key`.
        code: `code_fingerprint` of the task's code, or None when `include_code` is off.
    """
    return _identified("template", rendered, identity, code)


def _identified(kind: str, key: str, identity: str, code: str | None) -> str:
    return _digest(
        {
            "baton_cache_key": KEY_VERSION,
            "kind": kind,
            "identity": identity,
            "key": _text(key),
            "code": code,
        }
    )


def _digest(value: object) -> str:
    return hashlib.sha256(msgspec.json.encode(value, order="sorted")).hexdigest()


def _text(text: str) -> str:
    return text.replace("\r\n", "\n")


def _encoded_inputs(inputs: Mapping[str, Any]) -> dict[str, msgspec.Raw]:
    """Each input as canonical JSON; one that cannot be encoded is named in the error."""
    encoded = {}
    for name, value in inputs.items():
        try:
            encoded[str(name)] = msgspec.Raw(msgspec.json.encode(value, order="sorted"))
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise CacheKeyError(
                f"input '{name}' ({type(value).__name__}) cannot enter the task's cache key:"
                f" {exc}. Keep such values out of the key: give the task a cache_key function"
                " or a key template that says what identifies its result"
            ) from None
    return encoded


def _arguments(fn: Callable[..., object], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a `cache_key` call: the values its parameters name."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: it gets them all
        return dict(values)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(values)
    arguments = {}
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is not p.POSITIONAL_ONLY and p.name in values:
            arguments[p.name] = values[p.name]
        elif p.default is p.empty:
            raise CacheKeyError(
                f"cache_key function {_name(fn)} asks for '{p.name}', which is not given to a"
                f" cache key; it may ask for: {', '.join(sorted(values)) or 'nothing'}"
            )
    return arguments


def _name(fn: Callable[..., object]) -> str:
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    return f"{module}:{qualname}" if module and qualname else repr(fn)


# -- Python code ------------------------------------------------------------------------------


def _python_parts(function: Callable[..., Any], root: str | None) -> list[tuple[str, str, str]]:
    """(kind, name, text or digest) of everything a function's fingerprint includes."""
    fn = inspect.unwrap(function)
    start = _source_file(fn)
    parts = [("function", fn.__qualname__, _source(fn))]
    if isinstance(fn, types.FunctionType):  # not a callable object: its source is all
        parts += _globals(fn, dict(_module(start).assignments))
    parts += [("module", path, digest) for path, digest in _imported(start, _root(start, root))]
    return parts


def _source(obj: Any) -> str:
    try:
        return _text(inspect.getsource(obj))
    except (OSError, TypeError) as exc:
        raise CacheKeyError(
            f"cannot read the source of {_name(obj)} to key the task's cache ({exc}): define"
            " it in a file, or leave the code out of the key (cache_include_code=False,"
            " include_code: false)"
        ) from None


def _source_file(fn: Callable[..., Any]) -> str:
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    if path is None or not os.path.isfile(path):
        _source(fn)  # raises, saying why
        raise CacheKeyError(f"cannot find the file of {_name(fn)} to key the task's cache")
    return os.path.realpath(path)


def _root(start: str, root: str | None) -> str:
    if root is not None:
        return os.path.realpath(root)
    folder = os.path.dirname(start)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def _globals(fn: types.FunctionType, assigned: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """What `fn` uses by name from its own module: the source of its functions and classes
    (and, in turn, what those use) and the top-level statements assigning its other names.
    A helper or a constant edited next to the task changes the key; another task edited
    does not. Assignments count by their text, not their value: `STARTED = time.time()`
    would otherwise give every process its own key, and a cache that never hits."""
    module = fn.__module__
    found: dict[str, tuple[str, str, str]] = {}
    todo: list[Any] = [fn]
    seen = {id(fn)}
    while todo and len(found) < MAX_GLOBALS:
        current = todo.pop()
        namespace = getattr(current, "__globals__", {})
        for name in sorted(_names(current.__code__)):
            if name in found or name not in namespace:
                continue
            value = namespace[name]
            if (
                isinstance(value, types.FunctionType | type)
                and getattr(value, "__module__", None) == module
            ):
                if id(value) not in seen:
                    seen.add(id(value))
                    found[name] = ("global", name, _source(value))
                    todo.extend(_functions(value))
            elif name in assigned:
                found[name] = ("assignment", name, assigned[name])
    return sorted(found.values())


def _functions(value: types.FunctionType | type) -> Iterator[types.FunctionType]:
    """A function itself, or the methods of a class: whose names to follow next."""
    if isinstance(value, types.FunctionType):
        yield value
        return
    for member in vars(value).values():
        function = getattr(member, "__func__", member)  # staticmethod, classmethod
        if isinstance(function, types.FunctionType):
            yield function


def _names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names a code object and the code nested in it use."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _imported(start: str, root: str) -> list[tuple[str, str]]:
    """(path relative to root, digest) of each module under `root` that the module in
    `start` imports, directly or through others, breadth first to MAX_IMPORT_DEPTH and
    MAX_LOCAL_MODULES; sorted, so the walk's order never shows in a key."""
    queue = deque([(start, 0)])
    seen = {start}
    found: dict[str, str] = {}
    while queue:
        path, depth = queue.popleft()
        module = _module(path)
        if path != start:
            found[os.path.relpath(path, root).replace(os.sep, "/")] = module.digest
        if depth >= MAX_IMPORT_DEPTH:
            continue
        for candidate in _resolve(module.imports, path, root):
            if candidate not in seen and len(seen) <= MAX_LOCAL_MODULES:
                seen.add(candidate)
                queue.append((candidate, depth + 1))
    return sorted(found.items())


def _resolve(
    imports: tuple[tuple[int, str, tuple[str, ...]], ...], path: str, root: str
) -> list[str]:
    """The files under `root` that these imports of the module in `path` load: the module,
    the packages on the way to it, and the submodules a `from` import names. Only files
    are looked for, never `sys.path`: a name that is no file under the root (json,
    msgspec) is not the flow's code."""
    files: set[str] = set()
    for level, module, names in imports:
        base = root
        if level:
            base = os.path.dirname(path)
            for _ in range(level - 1):
                base = os.path.dirname(base)
        folder, candidates = base, []
        for part in module.split(".") if module else []:
            folder = os.path.join(folder, part)
            candidates.append(os.path.join(folder, "__init__.py"))
        if module:
            candidates.append(folder + ".py")
        for name in names:
            candidates += [
                os.path.join(folder, name + ".py"),
                os.path.join(folder, name, "__init__.py"),
            ]
        for candidate in candidates:
            if os.path.isfile(candidate):
                real = os.path.realpath(candidate)
                if _within(real, root):
                    files.add(real)
    return sorted(files)


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # another drive
        return False


def _module(path: str) -> _Module:
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise CacheKeyError(f"cannot read {path} to key the task's cache: {exc.strerror}") from None
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


# Keyed as Python keys its .pyc files (path, mtime, size): an edit Python would notice is
# noticed, and a module read for one task run is not read again for the next.
@functools.lru_cache(maxsize=1024)
def _parsed(path: str, mtime_ns: int, size: int) -> _Module:
    try:
        with open(path, "rb") as f:
            content = f.read()
    except OSError as exc:
        raise CacheKeyError(f"cannot read {path} to key the task's cache: {exc.strerror}") from None
    digest = hashlib.sha256(content.replace(b"\r\n", b"\n")).hexdigest()
    text = content.decode("utf-8", "replace").replace("\r\n", "\n")
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # it cannot be imported either: its bytes say enough
        return _Module(digest, ())
    imports: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree):  # the imports inside functions too: they load when called
        if isinstance(node, ast.Import):
            imports += [(0, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names if alias.name != "*")
            imports.append((node.level, node.module or "", names))
    return _Module(digest, tuple(imports), _assignments(tree, text))


def _assignments(tree: ast.Module, text: str) -> tuple[tuple[str, str], ...]:
    """The text of each top-level statement assigning a name, joined by name in order."""
    found: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            segment = ast.get_source_segment(text, node) or ""
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found.setdefault(name.id, []).append(segment)
    return tuple((name, "\n".join(segments)) for name, segments in found.items())
