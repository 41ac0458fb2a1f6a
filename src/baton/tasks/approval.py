"""`approval` tasks: a human decides (approve or reject) while the task waits in state
`waiting`, holding no worker slot.

The first attempt renders the `prompt` and defers with what the pending list shows. The
decision (`execution.approvals.decide`) is written into the task run's deferred state in
the same compare-and-set that queues it again; the attempt then goes on and ends: approved
-> succeeded with the decision as its result `{decision, by, at, comment, inputs}`,
rejected -> failed with error_kind `rejected` (downstream follows its trigger rules). With a
`timeout`, the task waits that long (on the engine's clock) and then does `on_timeout`:
reject, fail (error_kind timeout) or approve.
"""

from __future__ import annotations

from typing import Any, Literal

from baton.errors import TaskTimeout
from baton.model import approvers as approver_names
from baton.model import decorators, params
from baton.model.context import TaskContext
from baton.model.spec import ParamSpec
from baton.model.states import ErrorKind
from baton.model.times import iso
from baton.tasks.base import Defer, TaskConfig, TaskFailed, TaskType

MARK = "approval"  # the first key of its deferred state: `store` finds waiting approvals by it
APPROVED, REJECTED = "approved", "rejected"
TIMEOUT_ACTOR = "timeout"  # `by` of a decision taken by on_timeout
PROMPT_MAX = 10_000  # characters of a rendered prompt kept (a big upstream result in it)


class ApprovalConfig(TaskConfig, frozen=True):
    prompt: str = "Approve?"
    approvers: tuple[str, ...] = ()  # users, `role:NAME`, `group:NAME`; default operators
    form: dict[str, ParamSpec] = {}  # what the approver fills in, declared like params
    on_timeout: Literal["reject", "fail", "approve"] = "fail"

    def __post_init__(self) -> None:
        for a in self.approvers:
            approver_names.check(a)
        for name, spec in self.form.items():
            if not name or "=" in name:
                raise ValueError(f"form field names must be non-empty without '=', got {name!r}")
            if spec.required and spec.default is not None:
                raise ValueError(f"form field '{name}' is required, so it cannot have a default")
            if spec.default is not None and not params.matches_type(spec.default, spec.type):
                raise ValueError(f"form field '{name}' is of type {spec.type}, its default is not")


def execute(ctx: TaskContext, cfg: ApprovalConfig) -> Any:
    now = ctx.clock()
    waiting = ctx.resume_state
    if waiting is None:
        waiting = {
            MARK: 1,
            "since": now,
            "deadline": now + ctx.timeout if ctx.timeout is not None else None,
            "prompt": cfg.prompt
            if len(cfg.prompt) <= PROMPT_MAX
            else cfg.prompt[:PROMPT_MAX] + "…",
            "approvers": list(cfg.approvers) or [approver_names.DEFAULT],
            "form": {k: _form_field(v) for k, v in cfg.form.items()},
            "on_timeout": cfg.on_timeout,
        }
        print(f"waiting for approval: {cfg.prompt}"[:500])
        raise Defer(wake_at=waiting["deadline"], state=waiting)
    decision = waiting.get("decision")
    if decision is None:
        deadline = waiting.get("deadline")
        if deadline is None or now < deadline:  # woken early: nothing was decided
            raise Defer(wake_at=deadline, state=waiting)
        return _timed_out(ctx, waiting, now)
    return _ended(decision)


def _timed_out(ctx: TaskContext, waiting: dict[str, Any], now: float) -> Any:
    waited = f"no decision within {ctx.timeout or 0:g}s"
    if waiting["on_timeout"] == "fail":
        raise TaskTimeout(waited)
    print(f"{waited}: on_timeout {waiting['on_timeout']}")
    decision: dict[str, Any] = {
        "decision": APPROVED if waiting["on_timeout"] == "approve" else REJECTED,
        "by": TIMEOUT_ACTOR,
        "at": iso(now),
        "comment": waited,
        "inputs": {},
    }
    return _ended(decision)


def _ended(decision: dict[str, Any]) -> Any:
    said = f": {decision['comment']}" if decision.get("comment") else ""
    if decision["decision"] == REJECTED:
        raise TaskFailed(
            f"rejected by {decision['by']}{said}",
            retryable=False,  # asking again would not change the answer
            error_kind=ErrorKind.REJECTED,
        )
    print(f"approved by {decision['by']}{said}"[:500])
    return decision


def _form_field(spec: ParamSpec) -> dict[str, Any]:
    return {
        "type": spec.type,
        "items": spec.items,
        "default": spec.default,
        "required": spec.required,
        "description": spec.description,
    }


def approval_task(
    *,
    key: str,
    prompt: str = "Approve?",
    approvers: list[str] | None = None,
    form: dict[str, Any] | None = None,
    on_timeout: str = "fail",
    wait_for: Any = (),
    **options: Any,
) -> Any:
    """A human decision inside a `@flow`:
    `approval_task(key="ok", prompt="Ship {{ upstream.build }}?", approvers=["role:editor"],
    form={"amount_ok": {"type": "boolean"}}, timeout=86400, on_timeout="reject")`."""
    config = {"prompt": prompt, "approvers": approvers, "form": form, "on_timeout": on_timeout}
    return decorators.typed_task("approval", key, config, wait_for=wait_for, **options)


TYPE = TaskType("approval", ApprovalConfig, execute, icon="approval")
