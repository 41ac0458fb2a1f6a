"""`approval` tasks: what they wait with, the decision they end with, their timeout on the
engine's clock, their fields' checks; and who may decide (`model.approvers`)."""

from __future__ import annotations

from typing import Any

import pytest

import baton
from baton import tasks
from baton.errors import DefinitionError, TaskTimeout
from baton.model import approvers
from baton.model.spec import ParamSpec, TaskSpec
from baton.model.states import ErrorKind
from baton.tasks import approval
from baton.tasks.base import Defer, TaskFailed


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def first_wait(ctx: Any, cfg: approval.ApprovalConfig) -> Defer:
    with pytest.raises(Defer) as waited:
        approval.execute(ctx, cfg)
    return waited.value


def test_it_waits_with_what_the_pending_list_shows_until_its_deadline(task_context) -> None:
    clock = Clock(1000.0)
    cfg = approval.ApprovalConfig(
        prompt="Ship 3?", form={"amount_ok": ParamSpec(type="boolean", required=True)}
    )
    waited = first_wait(task_context(clock=clock, timeout=60.0), cfg)
    assert waited.wake_at == 1060.0
    assert next(iter(waited.state)) == approval.MARK  # the store finds waiting approvals by it
    assert waited.state["approvers"] == [approvers.DEFAULT]
    assert waited.state["form"]["amount_ok"]["type"] == "boolean"
    assert waited.state["prompt"] == "Ship 3?" and waited.state["since"] == 1000.0
    assert first_wait(task_context(clock=clock), cfg).wake_at is None  # no timeout: no wake


def test_woken_early_without_a_decision_it_waits_again(task_context) -> None:
    clock = Clock(1000.0)
    cfg = approval.ApprovalConfig(on_timeout="approve")
    state = first_wait(task_context(clock=clock, timeout=60.0), cfg).state
    clock.now = 1059.9
    again = first_wait(task_context(clock=clock, timeout=60.0, resume_state=state), cfg)
    assert again.wake_at == 1060.0 and again.state == state


@pytest.mark.parametrize("on_timeout", ["reject", "fail", "approve"])
def test_on_timeout_measured_on_the_engines_clock(task_context, on_timeout: str) -> None:
    clock = Clock(1000.0)
    cfg = approval.ApprovalConfig(on_timeout=on_timeout)  # type: ignore[arg-type]
    state = first_wait(task_context(clock=clock, timeout=60.0), cfg).state
    clock.now = 1060.0
    ctx = task_context(clock=clock, timeout=60.0, resume_state=state)
    if on_timeout == "fail":
        with pytest.raises(TaskTimeout, match="no decision within 60s"):
            approval.execute(ctx, cfg)
    elif on_timeout == "reject":
        with pytest.raises(TaskFailed) as failed:
            approval.execute(ctx, cfg)
        assert failed.value.error_kind is ErrorKind.REJECTED
        assert "rejected by timeout" in str(failed.value)
    else:
        result = approval.execute(ctx, cfg)
        assert result["decision"] == "approved" and result["by"] == "timeout"
        assert result["at"].startswith("1970-01-01T00:17:40")


def test_the_decision_ends_it(task_context) -> None:
    cfg = approval.ApprovalConfig()
    state = first_wait(task_context(clock=Clock(5.0)), cfg).state
    yes = {"decision": "approved", "by": "alice", "at": "t", "comment": None, "inputs": {"a": 1}}
    ctx = task_context(clock=Clock(6.0), resume_state={**state, "decision": yes})
    assert approval.execute(ctx, cfg) == yes
    no = {**yes, "decision": "rejected", "comment": "too much"}
    with pytest.raises(TaskFailed) as failed:
        approval.execute(task_context(resume_state={**state, "decision": no}), cfg)
    assert str(failed.value) == "rejected by alice: too much"
    assert failed.value.error_kind is ErrorKind.REJECTED and not failed.value.retryable


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"approvers": ["role:"]}, "names no role"),
        ({"approvers": ["group: "]}, "names no group"),
        ({"approvers": [""]}, "an approver is a user"),
        ({"approvers": "alice"}, "approvers"),
        ({"on_timeout": "ignore"}, "on_timeout"),
        ({"form": {"x": {"type": "money"}}}, "form"),
        ({"form": {"x": {"tpye": "string"}}}, "tpye"),
        ({"promt": "hi"}, "promt"),
        ({"form": {"x": {"type": "integer", "default": "a"}}}, "its default is not"),
        ({"form": {"x": {"type": "integer", "default": 1, "required": True}}}, "required"),
    ],
)
def test_bad_fields_are_definition_errors_naming_them(config: dict[str, Any], said: str) -> None:
    spec = TaskSpec(key="ok", type="approval", config=config)
    with pytest.raises(DefinitionError, match=said):
        tasks.config_of(spec)


def test_who_may_decide() -> None:
    def role_at_least(mine: str):  # as api.auth.Principal.may answers
        order = ("viewer", "operator", "editor", "admin")
        return lambda role: order.index(mine) >= order.index(role)

    viewer, operator = role_at_least("viewer"), role_at_least("operator")
    assert approvers.may_decide([], "x", operator)  # default: the flow's operators
    assert not approvers.may_decide([], "x", viewer)
    assert approvers.may_decide(["alice"], "alice", viewer)
    assert not approvers.may_decide(["alice"], "alicia", role_at_least("admin"))
    assert approvers.may_decide(["role:editor"], "x", role_at_least("admin"))
    assert not approvers.may_decide(["role:editor"], "x", operator)
    assert not approvers.may_decide(["role:boss"], "x", role_at_least("admin"))
    assert approvers.may_decide(["group:fin"], "x", viewer, groups={"fin"})
    assert not approvers.may_decide(["group:fin"], "group:fin", viewer)


def test_a_python_flow_declares_one_with_approval_task() -> None:
    @baton.flow(name="gate")
    def gate() -> None:
        built = baton.shell_task("echo v1", key="build")
        baton.approval_task(
            key="ok",
            prompt="Ship?",
            approvers=["role:editor"],
            form={"amount_ok": {"type": "boolean"}},
            timeout=60,
            on_timeout="reject",
            wait_for=built,
        )

    ok = gate.spec.task("ok")
    assert (ok.type, ok.depends_on, ok.timeout) == ("approval", ("build",), 60)
    cfg = tasks.config_of(ok)
    assert isinstance(cfg, approval.ApprovalConfig)
    assert cfg.approvers == ("role:editor",) and cfg.form["amount_ok"].type == "boolean"
