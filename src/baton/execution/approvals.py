"""Approvals, as the CLI, the API and the UI see them: the pending list, who may decide,
and the decision (an approval task waits in `baton.tasks.approval`).

A decision is written into the waiting task run's deferred state by the engine's wake path
(`Engine.wake(states=...)`), in one compare-and-set on `waiting` that also queues it: of
two deciders exactly one wins, the other gets ConflictError (409). A refused decision (not
an approver, not waiting, bad inputs) changes nothing.
"""

from __future__ import annotations

import functools
import getpass
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

import msgspec

from baton.engine.service import Engine
from baton.errors import (
    BatonError,
    ConflictError,
    InputError,
    NotFoundError,
    ParamError,
    TransitionError,
)
from baton.model import approvers, params
from baton.model.access import Visibility
from baton.model.names import task_run_name
from baton.model.spec import ParamSpec, TaskSpec
from baton.model.states import TaskState
from baton.model.times import iso
from baton.store.records import TaskRunRow
from baton.store.store import Tx
from baton.tasks.approval import APPROVED, MARK, REJECTED

DECISIONS = {"approve": APPROVED, "reject": REJECTED}
COMMENT_MAX = 2000  # characters of a decision's comment
PENDING_MAX = 1000  # approvals a list shows


class NotAnApprover(BatonError):
    """The caller is not one of the task's approvers (the API's 403)."""


class Decider(NamedTuple):
    """Who decides: a user, what their role allows on a flow (`has_role(FLOW, NAME)`: their
    effective role on the flow FLOW, grants included, is NAME or above), the groups they
    belong to, and the flows they may see (None: all): the pending list shows only theirs
    (the API answers a decision on any other run 404 before it gets here)."""

    user: str
    has_role: Callable[[str, str], bool]
    groups: Collection[str] = ()
    visible: Visibility | None = None


def local_decider() -> Decider:
    """The user of a CLI or local UI without tokens (`cli:<OS user>`): the store's owner,
    who may decide every approval, as they may change the store itself."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment (a bare container)
        name = "unknown"
    return Decider(f"cli:{name}", lambda flow, role: True)


def groups_of(read: Tx, user: str) -> frozenset[str]:
    """The groups `user` belongs to (`baton groups`), for `group:NAME` approvers."""
    return read.groups_of(user)


def _may_decide(decider: Decider, names: list[str], flow: str) -> bool:
    """Whether `decider` is one of `names` on the flow `flow`: a `role:NAME` approver (the
    default `role:operator` too) counts the decider's effective role on that flow."""
    return approvers.may_decide(
        names, decider.user, functools.partial(decider.has_role, flow), decider.groups
    )


def pending(read: Tx, decider: Decider | None, limit: int = PENDING_MAX) -> list[dict[str, Any]]:
    """Approval tasks waiting for a decision, oldest first; `may_decide` says whether
    `decider` is one of a task's approvers (None: no one is asking)."""
    out = []
    visible = None if decider is None else decider.visible
    for r in read.waiting_approvals(MARK, limit, visible):
        waiting = json.loads(r["defer_state"])
        if "decision" in waiting:  # decided: queued again in the same transaction
            continue
        names = waiting.get("approvers") or [approvers.DEFAULT]
        mapped = r["map_index"] if r["map_index"] >= 0 else None
        out.append(
            {
                "run_id": r["run_id"],
                "flow": r["flow_name"],
                "task": task_run_name(r["task_key"], mapped),
                "task_key": r["task_key"],
                "map_index": mapped,
                "prompt": waiting.get("prompt"),
                "approvers": names,
                "form": waiting.get("form") or {},
                "since": iso(waiting.get("since")),
                "deadline": iso(waiting.get("deadline")),
                "on_timeout": waiting.get("on_timeout"),
                "may_decide": decider is not None and _may_decide(decider, names, r["flow_name"]),
            }
        )
    return out


def decide(
    engine: Engine,
    run_ref: str,
    task: str,
    decider: Decider,
    action: str,
    comment: str | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Approve or reject (`action`) the approval task `task` (`key`, or `key.N` for a mapped
    one) of a run; the decision `{run_id, task, decision, by, at, comment, inputs}`.

    Raises:
        NotFoundError: no such run, or its flow has no such task.
        NotAnApprover: `decider` is not one of the task's approvers.
        ConflictError: the task is not waiting for a decision (not yet, or any more: another
            decider or its timeout came first).
        InputError: `comment` or `inputs` are malformed; the message names the field.
    """
    read = engine.store.read()
    run_id, flow, spec_task, row = _find(read, run_ref, task)
    names = list(spec_task.config.get("approvers") or ()) or [approvers.DEFAULT]
    if not _may_decide(decider, names, flow):
        raise NotAnApprover(
            f"{decider.user} may not decide task {task} of run {run_id}: its approvers are "
            f"{', '.join(names)}"
        )
    waiting = _waiting(row, task, run_id)
    given = _inputs(waiting.get("form") or {}, inputs or {}, complete=action == "approve")
    decision = {
        "decision": DECISIONS[action],
        "by": decider.user,
        "at": iso(engine.clock()),
        "comment": _comment(comment),
        "inputs": given,
    }
    assert row.resume_attempt is not None  # _waiting checked it
    state = json.dumps({**waiting, "decision": decision})
    note = f"{decision['decision']} by {decider.user}"
    try:
        woken = engine.wake({row.id: row.resume_attempt}, note, states={row.id: state})
    except TransitionError as exc:  # the compare-and-set lost a race
        raise ConflictError(_gone(task, run_id, str(exc))) from None
    if row.id not in woken:
        raise ConflictError(_gone(task, run_id, "it is no longer waiting"))
    return {"run_id": run_id, "task": task, **decision}


def _find(read: Tx, run_ref: str, task: str) -> tuple[str, str, TaskSpec, TaskRunRow]:
    run_id = read.resolve_run_id(run_ref)
    run = read.run(run_id)
    key, dot, index = task.rpartition(".")
    if not (dot and key and index.isdigit()):
        key, index = task, ""
    spec = read.load_version(run.version_id)
    found = next((t for t in spec.tasks if t.key == key), None)
    if found is None:
        raise NotFoundError(f"flow {run.flow_name} (run {run_id}) has no task '{key}'")
    if found.type != "approval":
        raise ConflictError(f"task {key} of run {run_id} is a {found.type} task, not an approval")
    map_index = int(index) if index else -1
    rows = [r for r in read.task_runs(run_id, [key]) if r.map_index == map_index]
    if not rows:
        raise ConflictError(f"task {task} of run {run_id} has not started waiting for approval")
    return run_id, run.flow_name, found, rows[0]


def _waiting(row: TaskRunRow, task: str, run_id: str) -> dict[str, Any]:
    waiting = json.loads(row.defer_state) if row.defer_state else {}
    if row.state != TaskState.WAITING or MARK not in waiting or "decision" in waiting:
        raise ConflictError(
            f"task {task} of run {run_id} is {row.state}, not waiting for approval"
            + (": it was decided already" if "decision" in waiting else "")
        )
    if row.resume_attempt is None:
        raise ConflictError(f"task {task} of run {run_id} is not waiting for approval")
    return waiting


def _inputs(form: Mapping[str, Any], given: Mapping[str, Any], *, complete: bool) -> dict[str, Any]:
    """`given` checked against the task's `form` as params are (strings parsed as the CLI
    spells them, defaults filled in); InputError names each bad field `inputs.NAME`. Only
    an approval must be `complete` (a required field given): a rejection need not say more."""
    if not isinstance(given, Mapping):
        raise InputError("inputs: must be an object of form fields")
    specs = {k: ParamSpec(**v) for k, v in form.items()}
    if not complete:
        specs = {k: msgspec.structs.replace(v, required=False) for k, v in specs.items()}
    try:
        return params.coerce_params(specs, given, flow="form")
    except ParamError as exc:
        fields = ", ".join(sorted(set(form)) or ["none"])
        said = {
            "unknown": f"is not a field of the form (its fields: {fields})",
            "missing": "is required",
            "invalid": "has the wrong type",
        }
        problems = [
            f"inputs.{name}: {said[kind]}"
            + (f" (expected {specs[name].type})" if kind != "unknown" else "")
            for name, kind, _ in exc.problems
        ]
        raise InputError("; ".join(problems)) from None


def _comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise InputError("comment: must be a string")
    if len(comment) > COMMENT_MAX:
        raise InputError(f"comment: at most {COMMENT_MAX} characters, got {len(comment)}")
    return comment


def _gone(task: str, run_id: str, why: str) -> str:
    return (
        f"task {task} of run {run_id} is not waiting for approval any more ({why}): "
        "another decision or its timeout came first"
    )
