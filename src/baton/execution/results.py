"""Task results: JSON inline in the store when they are small, else in the result store.

The result store is a folder (`file://<BATON_HOME>/results`, the default) or any fsspec URL
(`s3://bucket/baton`, `gs://...`, `sftp://host/path`; `pip install baton[results]` and the
filesystem's own package) named by `BATON_RESULTS_URL`: shared by every machine of a
cluster, results there are read by downstream tasks, repairs and cache hits anywhere. A
result goes there when it is not JSON (pickled) or its JSON is longer than
`BATON_RESULTS_INLINE_MAX` bytes (default 1 MiB), so the database holds no large values.
The run records where (`result_ref`): a local path, or the URL of another filesystem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

from baton.errors import BatonError
from baton.model import urls
from baton.model.names import task_run_name
from baton.store.store import Tx

LOCAL = "file://"


class ResultGone(BatonError):
    """A task run's result cannot be read back: it is no longer where its run recorded it,
    or that place cannot be reached."""


def encode(
    value: Any, store_url: str, attempt_id: str, inline_max: int = 1 << 20
) -> tuple[str | None, str | None, int | None]:
    """(JSON text, where the result was written, len of a list result) for a task's return
    value: inline JSON when it reads back equal and fits in `inline_max` bytes, else JSON
    or a pickle written to the result store at `store_url`."""
    length = len(value) if isinstance(value, list | tuple) else None
    text: str | None = None
    try:
        text = json.dumps(value, allow_nan=False)
        # JSON would turn tuples into lists and int keys into strings: keep it JSON only
        # when it reads back equal, so downstream tasks get exactly what was returned.
        if value is not None and json.loads(text) != value:
            text = None
    except (TypeError, ValueError):
        text = None
    if text is not None and len(text) <= inline_max:  # json.dumps writes ASCII: chars = bytes
        return text, None, length
    if text is not None:
        return None, _write(store_url, f"{attempt_id}.json", text.encode()), length
    import pickle  # most results are JSON: only the others pay for importing it

    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return None, _write(store_url, f"{attempt_id}.pkl", data), length


def decode(result: str | None, result_ref: str | None, what: str = "the result") -> Any:
    """A task run's result from its `result` (JSON) and `result_ref` (where it was written)
    columns; None when it has none.

    Raises:
        ResultGone: the result was written, and is no longer there (`what` names it).
    """
    if result_ref:
        try:
            with _open(result_ref) as f:
                data = f.read()
        except FileNotFoundError:
            raise ResultGone(
                f"{what} is gone: {urls.redacted(result_ref)} no longer exists (the result"
                " store was cleaned or moved); run the task again"
            ) from None
        except (OSError, ImportError, BatonError) as exc:  # unreachable, no driver, ...
            why = urls.masked(f"{type(exc).__name__}: {exc}", result_ref)
            raise ResultGone(
                f"{what} cannot be read from {urls.redacted(result_ref)}: {why}"
            ) from None
        if result_ref.endswith(".json"):
            return json.loads(data)
        import pickle

        return pickle.loads(data)  # results this store wrote, of this project's tasks
    if result is not None:
        return json.loads(result)
    return None


def upstream(read: Tx, run_id: str, keys: Sequence[str]) -> dict[str, Any]:
    """The results of a task's upstream tasks by key (a mapped one's as a list, in order);
    None for one that did not succeed."""
    if not keys:
        return {}
    values: dict[str, Any] = {}
    for row in read.results(run_id, keys):
        ok = row["state"] == "succeeded"
        name = task_run_name(row["task_key"], row["map_index"])
        what = f"the result of task {name} in run {run_id}"
        value = decode(row["result"], row["result_ref"], what) if ok else None
        if row["map_index"] < 0:
            values[row["task_key"]] = value
        else:
            values.setdefault(row["task_key"], []).append(value)
    return values


def exists(result_ref: str) -> bool:
    """Whether a written result is still there (a cache hit's, before it is served)."""
    if "://" not in result_ref or result_ref.startswith(LOCAL):
        return os.path.isfile(result_ref.removeprefix(LOCAL))
    try:
        fs, path = _filesystem(result_ref)
        return bool(fs.exists(path))
    except (OSError, ImportError, BatonError):  # unreachable: as good as gone, here
        return False


def remove(result_ref: str) -> None:
    """Delete a written result (a pruned run's). One already gone is fine; one a store that
    cannot be reached now keeps is left there: it never holds up forgetting the rows."""
    try:
        if "://" not in result_ref or result_ref.startswith(LOCAL):
            os.remove(result_ref.removeprefix(LOCAL))
            return
        fs, path = _filesystem(result_ref)
        fs.rm_file(path)
    except (OSError, ImportError, BatonError):
        pass


def _write(store_url: str, name: str, data: bytes) -> str:
    """Write `data` as `name` in the result store; where it is (a path, or a URL)."""
    if store_url.startswith(LOCAL) or "://" not in store_url:
        folder = store_url.removeprefix(LOCAL)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, name)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)  # a result file is complete or absent
        return path
    url = f"{store_url.rstrip('/')}/{name}"
    try:
        fs, path = _filesystem(url)
        fs.makedirs(fs._parent(path), exist_ok=True)
        with fs.open(path, "wb") as f:  # object stores publish a file whole, when closed
            f.write(data)
    except (OSError, ImportError) as exc:  # unreachable, refused, no driver: no password
        why = urls.masked(f"{type(exc).__name__}: {exc}", url)
        text = f"the result store {urls.redacted(store_url)} cannot be written: {why}"
        raise OSError(text) from None
    return url


def _open(ref: str) -> IO[bytes]:
    if "://" not in ref or ref.startswith(LOCAL):
        return open(ref.removeprefix(LOCAL), "rb")
    fs, path = _filesystem(ref)
    f: IO[bytes] = fs.open(path, "rb")
    return f


def _filesystem(url: str) -> tuple[Any, str]:
    try:
        import fsspec  # type: ignore[import-untyped]  # only a remote result store pays for it
    except ImportError:
        raise BatonError(
            f"the result store {urls.redacted(url)} needs fsspec: pip install 'baton[results]'"
            " (and the filesystem's own package, such as s3fs)"
        ) from None
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path
