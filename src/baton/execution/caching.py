"""Task result caching on the worker: the key of a task run about to run, and the entry
the store holds under it.

A task that caches (`TaskSpec.cache`) is claimed like any other, so its attempt's lease
covers computing its key, which may run user code (a `cache_key` function, importing the
function whose source is hashed): `probe` does it in the attempt's thread, inside the same
error boundary as the task. The worker loop then looks up every key in hand in one read
(`serve`): a hit ends the task run `succeeded` with the entry's result and its attempt
discarded (it ran nothing); a miss runs the attempt, and the engine keeps its result under
the key when it succeeds (`engine.cache_entries`).

The default key's inputs are what the task can read of its run: its upstream results,
a mapped task's item, the params it reads (named in its config: a reference, a template's
`params.day`; for a python task bound by name, its parameters), the run's dates where it can
see them (a python task's parameters naming them; any other type gets them in templates and
its environment) and the run's partition.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from baton import tasks
from baton.engine.cache import LRU
from baton.engine.planner import Outcome
from baton.engine.run_facts import RunMeta
from baton.errors import BatonError
from baton.execution import results, runner
from baton.model.context import NO_ITEM
from baton.model.decorators import RUN_CONTEXT
from baton.model.names import task_run_name
from baton.model.spec import PARAM_KEY, TaskSpec
from baton.model.states import AttemptState, ErrorKind
from baton.store.store import Tx
from baton.tasks import template

FINGERPRINTS = 4096  # code fingerprints a worker keeps, per run and piece of code
_DATES = ("logical_date", "data_interval_start", "data_interval_end")
# `params.day`, `params["day"]`: a param a template reads by name; `params` alone reads all.
_PARAM_USE = re.compile(r"\bparams\s*(?:\.\s*(\w+)|\[\s*['\"]([^'\"]+)['\"]\s*\])?")
_TRIGGER_USE = re.compile(r"\btrigger\b")

Fingerprints = LRU[tuple[str, str, str], str]


class Probe(NamedTuple):
    """A claimed attempt of a task that caches, once its key is known (or it failed)."""

    job: runner.Job
    key: str | None = None
    failed: Outcome | None = None  # its key could not be computed: how the attempt ended
    lookup: bool = True  # False: compute without looking (a refresh; a resumed attempt)
    replace: bool = False  # a refresh: its result replaces the entry under its key


def fingerprints() -> Fingerprints:
    return LRU(FINGERPRINTS)


def probe(job: runner.Job, meta: RunMeta, memo: Fingerprints) -> Probe:
    """The key of the job's task run, computed in its thread; a failure to compute it ends
    the attempt as the task's failure would (a user error, with the reason)."""
    try:
        key = key_of(job, meta, memo)
    except BatonError as exc:  # CacheKeyError, a template's TaskFailed: said in the error
        error = runner.outcome(
            job, AttemptState.FAILED, error=str(exc), error_kind=ErrorKind.USER, retryable=False
        )
        return Probe(job, failed=error)
    except Exception as exc:  # the user's cache_key function raised
        error = runner.outcome(
            job,
            AttemptState.FAILED,
            error=f"the cache key cannot be computed: {type(exc).__name__}: {exc}",
            error_kind=ErrorKind.USER,
            traceback=traceback.format_exc(),
        )
        return Probe(job, failed=error)
    cache = job.task.cache
    refresh = meta.refresh_cache or (cache is not None and cache.refresh)
    # A task that deferred goes on with the attempt it has: it is no hit, but its result is
    # kept like any other.
    resumed = job.ctx.resume_state is not None
    return Probe(job, key, lookup=not (refresh or resumed), replace=refresh)


def serve(read: Tx, probes: Iterable[Probe], now: float) -> tuple[list[Outcome], list[Probe]]:
    """Look up the probes' keys in one read: the hits as outcomes, and the misses to run.

    An entry whose result this machine cannot read back (gone from the result store, or
    written to another machine's folder) is a miss: the task computes it again here.
    """
    probes = list(probes)
    keys = [p.key for p in probes if p.lookup and p.key is not None]
    entries = read.cache_hits(keys, now) if keys else {}
    hits: list[Outcome] = []
    misses: list[Probe] = []
    for p in probes:
        entry = entries.get(p.key) if p.lookup and p.key is not None else None
        if entry is None or (entry.result_ref is not None and not results.exists(entry.result_ref)):
            misses.append(p)
            continue
        follow = None
        if runner.is_branch(p.job):  # only a branch's result is decoded here
            follow = runner.follow_of(p.job, results.decode(entry.result, entry.result_ref))
        hits.append(
            runner.outcome(
                p.job,
                AttemptState.SUCCEEDED,
                result=entry.result,
                result_ref=entry.result_ref,
                result_len=entry.result_len,
                follow=follow,
                cache_key=p.key,
                cached_from=(entry.run_id, entry.attempt),
            )
        )
    return hits, misses


def key_of(job: runner.Job, meta: RunMeta, memo: Fingerprints) -> str:
    """The cache key of the job's task run: its own key (a `cache_key` function, a key
    template) with its identity, else the default key of its definition, code and inputs.

    Raises:
        CacheKeyError: the key cannot be computed (named); a `cache_key` function's own
            exception goes through.
    """
    from baton.execution import cache_keys  # only runs with a task that caches pay for it

    task, ctx = job.task, job.ctx
    cache = task.cache
    assert cache is not None  # only a task that caches is probed
    code = _fingerprint(job, memo) if cache.include_code else None
    # A mapped task's items are keyed apart: their key text alone may not name the item.
    identity = f"{ctx.flow}/{task_run_name(task.key, ctx.map_index)}"
    if cache.key_function is not None:
        fn = ctx.load_function(cache.key_function)
        values = _context_values(job, meta)
        return cache_keys.custom_key(fn, values, identity=identity, code=code)
    if cache.key is not None:
        rendered = template.render(cache.key, ctx)
        return cache_keys.template_key(str(rendered), identity=identity, code=code)
    definition = msgspec.json.encode(task).decode()
    return cache_keys.default_key(definition, code, _inputs(job, meta), meta.partition)


def _fingerprint(job: runner.Job, memo: Fingerprints) -> str | None:
    """The fingerprint of the task's code, once per run and piece of code (a python
    function shared by 500 tasks is read once); None when its definition says it all."""
    found = tasks.task_type(job.task.type, task=job.task.key).code(job.ctx, job.task.config)
    if found is None:
        return None
    from baton.execution import cache_keys

    kind, value = found
    name = f"{value.__module__}:{value.__qualname__}" if callable(value) else str(value)
    at = (job.ctx.run_id, kind, name)
    fingerprint = memo.get(at)
    if fingerprint is None:
        code = {
            "python": cache_keys.PythonCode,
            "script": cache_keys.ScriptFile,
            "sql": cache_keys.SqlText,
        }[kind](value)
        fingerprint = cache_keys.code_fingerprint(code)
        memo.put(at, fingerprint)
    return fingerprint


def _context_values(job: runner.Job, meta: RunMeta) -> dict[str, Any]:
    """What a `cache_key` function may ask for by name."""
    ctx = job.ctx
    values: dict[str, Any] = {
        "params": dict(ctx.params),
        "upstream": dict(ctx.upstream),
        "flow": ctx.flow,
        "task_key": ctx.task_key,
        "map_index": ctx.map_index,
        "partition": meta.partition,
        "logical_date": ctx.logical_date,
        "data_interval_start": ctx.data_interval_start,
        "data_interval_end": ctx.data_interval_end,
        "trigger": dict(ctx.trigger_info) if ctx.trigger_info is not None else None,
    }
    if ctx.item is not NO_ITEM:
        values["item"] = ctx.item
    return values


def _inputs(job: runner.Job, meta: RunMeta) -> dict[str, Any]:
    """The default key's inputs, each by a name saying where it comes from."""
    ctx, task = job.ctx, job.task
    # A mapped task's item is its input, not the whole list it was taken from: the other
    # items changing does not change its key.
    inputs: dict[str, Any] = {
        f"upstream.{k}": v for k, v in ctx.upstream.items() if k != task.map_over
    }
    if ctx.item is not NO_ITEM:
        inputs["item"] = ctx.item
    names, reads = _reads(task, ctx.load_function, ctx.params)
    inputs |= {f"params.{n}": ctx.params[n] for n in sorted(names) if n in ctx.params}
    run = {
        "logical_date": ctx.logical_date,
        "data_interval_start": ctx.data_interval_start,
        "data_interval_end": ctx.data_interval_end,
        "trigger": dict(ctx.trigger_info) if ctx.trigger_info is not None else None,
    }
    # `partition` is in every key already (`default_key`); `context` is no input.
    inputs |= {name: run[name] for name in reads if name in run}
    return inputs


def _reads(
    task: TaskSpec, load: Callable[[str], Callable[..., Any]], params: Mapping[str, Any]
) -> tuple[set[str], list[str]]:
    """The params a task reads by name, and what it reads of its run (dates, trigger)."""
    names = set(_param_refs({k: v for k, v in task.config.items() if k != "map_items"}))
    if task.type == "python":
        signature = inspect.signature(load(task.config["function"])).parameters
        if task.config.get("args") is None:  # bound by name (a YAML python task)
            names |= set(signature) & set(params)
        return names, [n for n in RUN_CONTEXT if n in signature]
    for text in _strings(task.config):
        for match in _PARAM_USE.finditer(text):
            name = match.group(1) or match.group(2)
            names |= {name} if name else set(params)
    trigger = any(_TRIGGER_USE.search(text) for text in _strings(task.config))
    return names, [*_DATES, *(["trigger"] if trigger else [])]


def _param_refs(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        if len(value) == 1 and PARAM_KEY in value:
            yield value[PARAM_KEY]
            return
        for v in value.values():
            yield from _param_refs(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _param_refs(v)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)
