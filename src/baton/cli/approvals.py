"""`baton runs approve|reject RUN TASK` and `baton approvals`: the human side of approval
tasks, on the store (as `cli:<OS user>`, who may decide them all) or through a server's API
(`--server`, as the token's user, who must be one of the task's approvers)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from baton.cli import common, remote


def add_commands(sub: Any, runs_sub: Any) -> None:
    for action, text in (
        ("approve", "approve an approval task waiting for a decision; it then succeeds"),
        ("reject", "reject an approval task waiting for a decision; it then fails (rejected)"),
    ):
        p = runs_sub.add_parser(action, help=text)
        p.add_argument("run_id", metavar="RUN", help="a run id, or any unique prefix of it")
        p.add_argument("task", metavar="TASK", help="the task's key (`key.N`: a mapped one's)")
        p.add_argument("--comment", help="why (kept with the decision)")
        p.add_argument(
            "-f",
            dest="fields",
            action="append",
            default=[],
            metavar="field=value",
            help="a field of the task's form (repeatable)",
        )
        common.json_option(p, "print the decision as JSON")
        remote.add_options(p)
        p.set_defaults(command=cmd_decide, action=action)
    p = sub.add_parser("approvals", help="approval tasks waiting for a decision")
    common.json_option(p)
    remote.add_options(p)
    p.set_defaults(command=cmd_approvals)


def cmd_decide(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.errors import InputError
    from baton.model.params import parse_cli_params

    try:
        inputs = parse_cli_params(args.fields)
    except InputError as exc:
        raise InputError(str(exc).replace("param", "form field").replace("-p ", "-f ")) from None
    body = {"comment": args.comment, "inputs": inputs}
    if remote.wanted(args):
        client = remote.Client(args)
        try:
            decision = client.post(f"/runs/{args.run_id}/tasks/{args.task}/{args.action}", body)
        finally:
            client.close()
    else:
        decision = _decide_here(args, ctx, body)
    if args.json:
        print(json.dumps(decision, indent=2))
    else:
        said = f": {decision['comment']}" if decision.get("comment") else ""
        print(f"task {decision['task']} of run {decision['run_id']} {decision['decision']}{said}")
    return 0


def _decide_here(args: argparse.Namespace, ctx: common.Context, body: dict[str, Any]) -> Any:
    from baton.engine.service import Engine
    from baton.errors import BatonError
    from baton.execution import approvals

    decider = approvals.local_decider()
    with ctx.store() as store:
        status, error, decision = 200, None, None
        try:
            decision = approvals.decide(
                Engine(store), args.run_id, args.task, decider, args.action, **body
            )
        except BatonError as exc:
            status, error = _status(exc), str(exc)
            raise
        finally:
            _audit(store, decider.user, args, status, error)
    return decision


def _status(exc: BaseException) -> int:
    """The status the API answers for `exc`, which the audit log records for both."""
    from baton import errors
    from baton.execution.approvals import NotAnApprover

    for kind, status in (
        (NotAnApprover, 403),
        (errors.NotFoundError, 404),
        (errors.ConflictError, 409),
        (errors.InputError, 422),
    ):
        if isinstance(exc, kind):
            return status
    return 500


def _audit(
    store: Any, actor: str, args: argparse.Namespace, status: int, error: str | None
) -> None:
    """Decisions made on the store are audited as the API's are (who, what, outcome)."""
    detail = {"method": "CLI", "path": f"baton runs {args.action} {args.run_id} {args.task}"}
    if error:
        detail["error"] = error[:500]
    with store.transaction() as tx:
        tx.add_audit(
            {
                "at": time.time(),
                "actor": actor,
                "token_id": None,
                "role": None,
                "action": f"approvals.{args.action}",
                "object_type": "approvals",
                "object_id": args.run_id[:300],
                "outcome": "ok" if error is None else "refused" if status == 403 else "failed",
                "status": status,
                "remote": None,
                "detail": json.dumps(detail),
            }
        )


def cmd_approvals(args: argparse.Namespace, ctx: common.Context) -> int:
    if remote.wanted(args):
        client = remote.Client(args)
        try:
            items = client.get("/approvals")["items"]
        finally:
            client.close()
    else:
        from baton.execution import approvals
        from baton.execution.secrets import Secrets

        with ctx.store() as store:
            items = approvals.pending(store.read(), approvals.local_decider())
        items = Secrets.load(ctx.settings).mask_json(items)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("no approvals are waiting")
        return 0
    for a in items:
        until = f", until {a['deadline']} (then {a['on_timeout']})" if a["deadline"] else ""
        mine = "" if a["may_decide"] else " (not yours to decide)"
        print(f"{a['run_id']}  {a['flow']}  {a['task']}  since {a['since']}{until}{mine}")
        print(f"    {a['prompt']}")
        if a["form"]:
            fields = ", ".join(f"{k} ({v['type']})" for k, v in a["form"].items())
            print(f"    form: {fields}")
    sys.stdout.flush()
    return 0
