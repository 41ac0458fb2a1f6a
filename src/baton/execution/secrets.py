"""Secrets: `${secret:NAME}` in a task's fields, resolved when an attempt runs, and masked.

A reference is looked up, in order, in the environment variable `BATON_SECRET_<NAME>`, the
environment variable `<NAME>`, then the secrets file (`BATON_SECRETS_FILE`, by default
`<BATON_HOME>/secrets.yaml`: a YAML or JSON mapping of NAME to a string). Only the task's
definition is searched for references, never param values or upstream results, so whoever
starts a run cannot make a task reveal a secret its flow does not name. The stored flow,
params and task config keep the reference text; the value exists only in the attempt (so
the runner refuses one in a `flow` task, whose params are stored with the sub-flow run).

Masking writes `***` in place of every secret value: all values of the secrets file and of
`BATON_SECRET_*` variables, and the `<NAME>` variables an attempt resolved. Values shorter
than MIN_MASKED characters are not masked (masking every "a" would ruin the text and hide
nothing); a value of several lines is masked line by line. Overlapping values are masked
as one (`***`), the longest first.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any, AnyStr

from baton.errors import DefinitionError, InputError, NotFoundError
from baton.settings import Settings
from baton.tasks import template

ENV_PREFIX = "BATON_SECRET_"
MASK = "***"
MIN_MASKED = 4  # shorter values are not masked
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REF = re.compile(r"(\{)?\$\{secret:(" + NAME + r")\}")  # the `{` before it: see _in_template
_VALID = re.compile(r"\$\{secret:" + NAME + r"\}")


class Secrets:
    """The secrets an attempt can resolve, and the masking of their values.

    Build it with `Secrets.load(settings)`; it reads the secrets file once, then and there.
    """

    def __init__(
        self,
        file_values: Mapping[str, str],
        environ: Mapping[str, str],
        file: str | None = None,
        file_found: bool = False,
    ) -> None:
        self._file_values = dict(file_values)
        self._environ = environ
        self._file = file
        self._file_found = file_found
        self._masked: set[str] = set()
        self._longest = 0  # in UTF-8 bytes: how much of a log write may be a value's start
        # Each finds, at every position, the longest value starting there (see _spans).
        self._str: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        # Keys first: reading every value of os.environ would cost more than the rest of load.
        env_values = [environ[k] for k in environ if k.startswith(ENV_PREFIX)]
        self._add([*self._file_values.values(), *env_values])

    @classmethod
    def load(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> Secrets:
        """The secrets of this environment and `settings.secrets_file`.

        Raises:
            InputError: the secrets file is malformed, or was set explicitly and is missing.
        """
        environ = os.environ if environ is None else environ
        path = settings.secrets_file
        if path is None:
            return cls({}, environ)
        # The default file is optional; one named on purpose (BATON_SECRETS_FILE) is not.
        default = os.path.join(os.path.abspath(settings.home), "secrets.yaml")
        required = os.path.abspath(path) != default
        values = _read_file(path, required=required)
        return cls(values or {}, environ, path, values is not None)

    @classmethod
    def empty(cls) -> Secrets:
        """No secrets: resolving any fails, masking changes nothing."""
        return cls({}, {})

    @property
    def masking(self) -> bool:
        """Whether there is any value to mask."""
        return self._str is not None

    def get(self, name: str) -> str:
        """The value of secret `name`; it is masked from now on.

        Raises:
            NotFoundError: no environment variable and no secrets file entry has it.
        """
        for key in (ENV_PREFIX + name, name):
            value = self._environ.get(key)
            if value is not None:
                break
        else:
            value = self._file_values.get(name)
        if value is None:
            if self._file is None:
                file = "no secrets file"
            elif self._file_found:
                file = f"the secrets file {self._file}"
            else:
                file = f"the secrets file {self._file} (which does not exist)"
            raise NotFoundError(
                f"unknown secret '{name}': not in the environment variables {ENV_PREFIX}{name} "
                f"or {name}, nor in {file}; set one where the worker runs"
            )
        self._add([value])
        return value

    def resolve(self, value: Any, *, templates: bool = False) -> Any:
        """`value` with every `${secret:NAME}` in its strings replaced by the secret's value.

        Dicts and lists are walked; `value` itself is returned when it holds no reference.
        With `templates`, its strings are Jinja2 templates rendered later: a secret value is
        put in as a template literal, so that Jinja never reads one as template syntax.

        Raises:
            DefinitionError: a malformed reference (`${secret:}`, `${secret:a-b}`).
            NotFoundError: an unknown secret.
        """
        if not references_secret(value):
            return value
        if isinstance(value, dict):
            return {k: self.resolve(v, templates=templates) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.resolve(v, templates=templates) for v in value)
        assert isinstance(value, str)
        _check_refs(value)
        if not templates:
            return _REF.sub(lambda m: (m[1] or "") + self.get(m[2]), value)
        if template.is_jinja(value):
            return _REF.sub(self._in_template, value)
        text = _REF.sub(lambda m: (m[1] or "") + self.get(m[2]), value)
        # A value that makes the text look like a template must not be rendered as one.
        return template.literal(text) if template.is_jinja(text) else text

    def _in_template(self, m: re.Match[str]) -> str:
        # A `{` right before the literal would open `{{{`: it becomes a literal too.
        return (template.literal("{") if m[1] else "") + template.literal(self.get(m[2]))

    def mask(self, text: str) -> str:
        """`text` with every secret value in it replaced by `***`."""
        if self._str is None or self._str.search(text) is None:
            return text
        return _masked(self._str, text, MASK)

    def mask_bytes(self, data: bytes) -> bytes:
        """`data` (UTF-8 text) with every secret value in it replaced by `***`."""
        if self._bytes is None or self._bytes.search(data) is None:
            return data
        return _masked(self._bytes, data, MASK.encode())

    def mask_prefix(self, data: bytes) -> tuple[bytes, bytes]:
        """For a stream: (the masked part of `data` that later bytes cannot change, the rest).

        The rest is what may be the start of a value: at most the end of the last line (a
        masked value has no newline) and less than the longest value. Keep it and put it
        before the next bytes.
        """
        if self._bytes is None:
            return data, b""
        cut = max(data.rfind(b"\n") + 1, len(data) - self._longest + 1)
        for start, end in _spans(self._bytes, data):
            if start >= cut:
                break
            if end > cut:  # a value (or values overlapping) across the cut: keep it whole
                cut = start
                break
        return self.mask_bytes(data[:cut]), data[cut:]

    def mask_json(self, value: Any) -> Any:
        """`value` (JSON-like: dicts, lists, strings) with every secret value masked.

        Strings are masked wherever they are, dict keys too; other values are returned as
        they are. Cheap when there is nothing to mask: for the API to call on what it returns.
        """
        if self._str is None:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {
                self.mask(k) if isinstance(k, str) else k: self.mask_json(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.mask_json(v) for v in value)
        return value

    def _add(self, values: list[str]) -> None:
        lines = {line for v in values for line in v.split("\n") if len(line) >= MIN_MASKED}
        if lines <= self._masked:
            return
        self._masked |= lines
        # Longest first: where values start at the same place, the longest is masked.
        ordered = sorted(self._masked, key=len, reverse=True)
        # A lookahead matches no text: a search finds values overlapping the one before.
        self._str = re.compile("(?=(" + "|".join(map(re.escape, ordered)) + "))")
        encoded = [re.escape(v.encode()) for v in ordered]
        self._bytes = re.compile(b"(?=(" + b"|".join(encoded) + b"))")
        self._longest = max(len(v.encode()) for v in ordered)


def _masked(pattern: re.Pattern[AnyStr], text: AnyStr, mask: AnyStr) -> AnyStr:
    parts: list[AnyStr] = []
    pos = 0
    for start, end in _spans(pattern, text):
        parts += [text[pos:start], mask]
        pos = end
    parts.append(text[pos:])
    return text[:0].join(parts)


def _spans(pattern: re.Pattern[AnyStr], text: AnyStr) -> Iterator[tuple[int, int]]:
    """Where values occur in `text`, overlapping occurrences merged into one, in order."""
    start = end = -1
    for m in pattern.finditer(text):
        if m.start() >= end:
            if end > start:
                yield start, end
            start = m.start()
        end = max(end, m.start() + len(m[1]))
    if end > start:
        yield start, end


def references_secret(value: Any) -> bool:
    """Whether a string in `value` (dicts and lists walked) holds `${secret:`."""
    if isinstance(value, str):
        return template.SECRET_REF in value
    if isinstance(value, dict):
        return any(references_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(references_secret(v) for v in value)
    return False


def _check_refs(text: str) -> None:
    at = text.find(template.SECRET_REF)
    while at >= 0:
        if _VALID.match(text, at) is None:
            close = text.find("}", at)
            bad = text[at : close + 1] if close >= 0 else template.SECRET_REF + "..."
            raise DefinitionError(
                f"malformed secret reference {bad!r}: write ${{secret:NAME}} with a NAME of "
                "letters, digits and underscores, not starting with a digit"
            )
        at = text.find(template.SECRET_REF, at + 1)


def _read_file(path: str, *, required: bool) -> dict[str, str] | None:
    """The NAME: value mapping of the secrets file; None when it is optional and missing."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        if not required:
            return None
        raise InputError(
            f"secrets file {path} (BATON_SECRETS_FILE) does not exist: create it or unset "
            "BATON_SECRETS_FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"secrets file {path} cannot be read: {exc}") from None
    data = _parse(path, text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"secrets file {path}: expected a mapping of NAME: value")
    for name, value in data.items():
        if not (isinstance(name, str) and re.fullmatch(NAME, name)):
            raise InputError(
                f"secrets file {path}: {str(name)!r} is not a secret name (letters, digits "
                "and underscores, not starting with a digit)"
            )
        # A YAML number or date would come back changed (0123 reads as 83): only strings.
        if not isinstance(value, str):
            raise InputError(f"secrets file {path}: the value of {name} must be a string: quote it")
    return data


def _parse(path: str, text: str) -> Any:
    # Parser messages stay out of the error: they quote the line, which holds a value.
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"secrets file {path}:{exc.lineno}: not valid JSON ({exc.msg})"
            ) from None
    import yaml  # only a worker with a secrets file pays for importing it

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        raise InputError(f"secrets file {path}{line}: not valid YAML ({exc.problem})") from None
    except yaml.YAMLError:
        raise InputError(f"secrets file {path}: not valid YAML") from None
