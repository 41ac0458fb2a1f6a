"""`baton import databricks JOB`: a Databricks job's definition -> a baton YAML flow.

The conversion is pure (`baton.model.databricks`); here the file is read (within a size
limit), the flow produced is checked with baton's own loader and task types, and only then
written, in one rename: a bad job leaves no file behind, nor half of one.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from baton.cli import common

# A job's settings are a few kilobytes; Databricks refuses more than 10 MB in one call.
MAX_BYTES = 10 * 1024 * 1024


def add_commands(sub: Any) -> None:
    imports = sub.add_parser(
        "import", help="turn another orchestrator's job into a baton YAML flow"
    ).add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = imports.add_parser(
        "databricks",
        help="a Databricks job (jobs/get or jobs/create JSON, or a bundle's YAML) -> a flow",
    )
    p.add_argument("path", metavar="JOB", help="the job's JSON, or a bundle's YAML")
    p.add_argument("-o", "--output", metavar="FILE", help="write the flow here (default: stdout)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse (exit 2) a job with fields that cannot be carried over, naming each",
    )
    p.add_argument("--job", metavar="NAME", help="which job of a bundle that defines several")
    p.set_defaults(command=cmd_import_databricks)


def cmd_import_databricks(args: argparse.Namespace, ctx: common.Context) -> int:
    from baton.model.databricks import job

    imported = job.import_job(_read(args.path), file=args.path, strict=args.strict, job=args.job)
    _check(imported.yaml, args.output or f"{imported.name}.yaml")
    for problem in imported.report.unsupported:
        print(f"warning: not carried over: {problem}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(imported.yaml)
        return 0
    _write(args.output, imported.yaml)
    print(f"flow {imported.name} written to {args.output}", file=sys.stderr)
    return 0


def _read(path: str) -> str:
    from baton.errors import InputError

    try:
        size = os.path.getsize(path)
        if not os.path.isfile(path):
            raise InputError(f"{path} is not a file")
        if size > MAX_BYTES:
            raise InputError(
                f"{path} is {size / 1024 / 1024:.0f} MB; a job definition is at most"
                f" {MAX_BYTES // 1024 // 1024} MB"
            )
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _check(text: str, file: str) -> None:
    """The flow as `baton run` will load it: its graph, and each task's type and fields."""
    from baton import tasks
    from baton.errors import DefinitionError
    from baton.model import yaml_spec

    spec = yaml_spec.load_yaml_flow(text, file=file)
    try:
        for t in spec.tasks:
            tasks.config_of(t)
    except DefinitionError as exc:
        raise exc.located(file=file, flow=spec.name) from None


def _write(path: str, text: str) -> None:
    from baton.errors import InputError

    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
