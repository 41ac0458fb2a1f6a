"""`baton plugins list`: the task types this baton can run, built-in and from plugins."""

from __future__ import annotations

import argparse
from typing import Any

from baton.cli import common


def add_commands(sub: Any) -> None:
    plugins = sub.add_parser(
        "plugins", help="list the task types installed (built-in and plugins)"
    ).add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = plugins.add_parser(
        "list", help="every task type: name, module, version, built-in or plugin, and errors"
    )
    common.json_option(p)
    p.set_defaults(command=cmd_plugins_list)


def cmd_plugins_list(args: argparse.Namespace, ctx: common.Context) -> int:
    import json

    from baton import tasks
    from baton.cli import display

    found = tasks.installed()
    if args.json:
        print(json.dumps([p._asdict() for p in found], indent=2))
        return 0
    rows = [
        [p.name, p.module, p.version, "built-in" if p.builtin else "plugin", p.error or ""]
        for p in found
    ]
    header = ["type", "module", "version", "kind", "error"]
    display.print_table(f"{len(rows)} task types", header, rows, state_col=0)
    return 0
