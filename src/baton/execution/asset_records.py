"""What an attempt says of the assets it writes: `baton.record_asset`, `$BATON_ASSETS_FILE`.

A task reports metadata (row counts, paths, ...) and a data version for each asset it wrote;
on success the engine records one materialization per declared output, with what was said
of it (`planner.materializations`). Two routes, one format:

- `$BATON_ASSETS_FILE`, set for every attempt's child processes (shell, script, isolated
  python, ...): a file of JSON lines, `{"asset": NAME, "metadata": {...}, "data_version":
  "..."}` (`metadata` and `data_version` optional), one per report. baton makes its folder;
  the file exists only if the task writes it.
- `record_asset(...)`: in a python task run in the worker's thread, the report goes to the
  attempt through a context variable the runner sets (the environment is the whole worker's,
  shared by the attempts it runs at once); in a child process, it appends to the file.

The runner reads the reports after the task succeeded (`collect`); the file only if the
attempt handed its path out (`TaskContext.env()`, which every child process gets), so an
in-thread python task, the usual one, does no IO for it (a failed open() per task was ~6 %
of W1A). A
malformed line, or an asset the task does not declare in `outputs`, fails the attempt;
metadata is masked with the attempt's secrets.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from baton.engine.planner import Reported
from baton.tasks.base import TaskFailed

ENV = "BATON_ASSETS_FILE"
FIELDS = ("asset", "metadata", "data_version")
MAX_METADATA = 64 * 1024  # bytes of one report's metadata, as JSON
MAX_FILE = 16 * 1024 * 1024
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class Recorder:
    """The reports of one attempt's own thread."""

    __slots__ = ("reports",)

    def __init__(self) -> None:
        self.reports: list[Reported] = []


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "baton_asset_recorder", default=None
)


def attach(recorder: Recorder) -> contextvars.Token[Recorder | None]:
    """Route `record_asset` calls of this thread to `recorder` (the runner, per attempt)."""
    return _current.set(recorder)


def detach(token: contextvars.Token[Recorder | None]) -> None:
    _current.reset(token)


def record_asset(
    name: str, metadata: Mapping[str, Any] | None = None, data_version: str | None = None
) -> None:
    """Say what this task wrote to asset `name`, recorded with its materialization.

    Call it from a task that declares `name` in its `outputs`; metadata keys repeated across
    calls keep the last value. Secret values in the metadata are masked.

    Args:
        name: the asset, one of the task's `outputs`.
        metadata: JSON values (numbers are plotted over time in the UI).
        data_version: an identifier of the data written (a hash, a snapshot id).

    Raises:
        TypeError: a value that is not of the kind above.
        RuntimeError: called outside a baton task.
    """
    report = _checked(name, {} if metadata is None else metadata, data_version, "record_asset")
    if isinstance(report, str):
        raise TypeError(report)
    recorder = _current.get()
    if recorder is not None:
        recorder.reports.append(report)
        return
    path = os.environ.get(ENV)
    if not path:
        raise RuntimeError(
            "record_asset() is called outside a baton task (no $BATON_ASSETS_FILE): call it "
            "from a task that declares the asset in its outputs"
        )
    line = json.dumps({"asset": name, "metadata": report.metadata, "data_version": data_version})
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def collect(
    recorder: Recorder,
    path: str,
    read_file: bool,
    outputs: Sequence[str],
    mask: Callable[[Any], Any],
) -> tuple[Reported, ...]:
    """The attempt's reports, checked and masked: its thread's, then its file's (read and
    removed when `read_file`).

    Raises:
        TaskFailed: a malformed line, or an asset the task does not declare in `outputs`.
    """
    reports = list(recorder.reports)
    if read_file:
        reports += _read(path)
    unknown = list(dict.fromkeys(r.asset for r in reports if r.asset not in outputs))
    if unknown:
        declared = ", ".join(outputs) if outputs else "none"
        raise TaskFailed(
            f"the task reported asset {', '.join(map(repr, unknown))}, which it does not "
            f"declare in its outputs (outputs: {declared}): add it to the task's outputs",
            retryable=False,
        )
    return tuple(Reported(r.asset, mask(r.metadata), mask(r.data_version)) for r in reports)


def discard(path: str) -> None:
    """Remove an attempt's file if it wrote one (it failed, or it was read)."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def _read(path: str) -> list[Reported]:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        return []
    discard(path)
    if len(data) > MAX_FILE:
        raise TaskFailed(
            f"${ENV} is over {MAX_FILE // (1024 * 1024)} MiB: report a summary of each asset "
            "(counts, paths), not its data",
            retryable=False,
        )
    out = []
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        report = _line(raw)
        if isinstance(report, str):
            shown = raw[:200].decode("utf-8", "replace")
            raise TaskFailed(
                f"${ENV} line {number} ({shown!r}): {report}; write one JSON object a line, "
                '{"asset": NAME, "metadata": {...}, "data_version": "..."}',
                retryable=False,
            )
        out.append(report)
    return out


def _line(raw: bytes) -> Reported | str:
    try:
        entry = json.loads(raw)
    except ValueError as exc:
        return f"not JSON ({exc})"
    if not isinstance(entry, dict):
        return "not a JSON object"
    unknown = [k for k in entry if k not in FIELDS]
    if unknown:
        return f"unknown field {', '.join(map(repr, unknown))} (fields: {', '.join(FIELDS)})"
    metadata = entry.get("metadata")
    return _checked(
        entry.get("asset"), {} if metadata is None else metadata, entry.get("data_version"), None
    )


def _checked(
    name: object, metadata: object, data_version: object, call: str | None
) -> Reported | str:
    """The report, or what is wrong with it (`call`: the function called, else a line)."""

    def field(key: str) -> str:
        return f"{call}() {key}" if call else f"'{key}'"

    if not isinstance(name, str) or not name:
        return f"{field('asset' if not call else 'name')} must be an asset name, not {name!r}"
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        return f"{field('metadata')} must be a mapping with string keys, not {metadata!r}"[:300]
    if data_version is not None and (
        not isinstance(data_version, str) or not data_version.isprintable()
    ):
        return f"{field('data_version')} must be a string of printable text, not {data_version!r}"[
            :300
        ]
    try:
        # msgspec, ~20x json's speed (a report per task of W1A): dates become ISO strings,
        # NaN and infinities null.
        encoded = _encode(dict(metadata))
    except (TypeError, ValueError, OverflowError) as exc:
        return f"{field('metadata')} must hold JSON values only ({exc})"
    if len(encoded) > MAX_METADATA:
        return f"{field('metadata')} is over {MAX_METADATA // 1024} KiB as JSON: keep it a summary"
    # A copy of a caller's dict: what it changes later is not what it reported.
    return Reported(name, _decode(encoded) if call else dict(metadata), data_version)
