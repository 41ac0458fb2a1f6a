"""What the engine records of task result caching: the entry a task run that computed its
result leaves under its key, in the transaction that records its success.

A cache hit never reaches here: it ran nothing and computed nothing (its attempt is
discarded, `Tx.discard_attempts`). A result the worker could not key (`cache_key` None)
is not kept either.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.engine.planner import Outcome
from baton.model.spec import FlowSpec
from baton.model.states import AttemptState
from baton.store.records import CacheEntryRow
from baton.store.store import Tx


def record(tx: Tx, spec: FlowSpec, ended: Sequence[Outcome], now: float) -> None:
    """Keep the results of attempts of flow `spec` that succeeded, each under its key, for
    its task's ttl from `now` (the engine's clock, which lookups read too); a refresh
    replaces what its key held."""
    fresh: list[CacheEntryRow] = []
    refreshed: list[CacheEntryRow] = []
    for o in ended:
        if (
            o.cache_key is None
            or o.cached_from is not None
            or o.state is not AttemptState.SUCCEEDED
        ):
            continue
        cache = spec.task(o.task_key).cache
        ttl = cache.ttl if cache is not None else None
        entry = CacheEntryRow(
            key=o.cache_key,
            flow_name=spec.name,
            task_key=o.task_key,
            run_id=o.run_id,
            task_run_id=o.task_run_id,
            attempt=o.attempt,
            result=o.result,
            result_ref=o.result_ref,
            result_len=o.result_len,
            created_at=now,
            expires_at=None if ttl is None else now + ttl,
        )
        (refreshed if o.cache_replace else fresh).append(entry)
    tx.put_cache_entries(fresh, replace=False)
    tx.put_cache_entries(refreshed, replace=True)
