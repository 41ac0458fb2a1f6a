"""Loading flow definitions from files, and the functions their tasks name.

This is where user code is imported: only the CLI's `run`/`flows` commands and workers load
flows; the engine and the store deal in FlowSpecs and ids.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from baton import tasks
from baton.errors import DefinitionError, InputError
from baton.model.decorators import Flow, Task
from baton.model.graph import validate
from baton.model.spec import FlowSpec, SourceRef
from baton.tasks.python import PythonConfig

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class LoadedFlow:
    """A validated FlowSpec and how to find the functions its tasks name."""

    spec: FlowSpec
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def load_function(self, reference: str) -> Callable[..., Any]:
        fn = self.functions.get(reference)
        if fn is None:
            fn = import_function(reference)
            self.functions[reference] = fn
        return fn


def load_file(path: str) -> list[LoadedFlow]:
    """Every flow defined in a Python or YAML file, validated."""
    if os.path.isdir(path):
        raise InputError(f"{path} is a folder: give the flow's file (.py, .yaml or .yml)")
    if not os.path.isfile(path):
        raise InputError(f"no such file: {path}")
    path = os.path.abspath(path)
    with open(path, "rb") as f:
        content = f.read()
    source = SourceRef(path=path, code_hash=hashlib.sha256(content).hexdigest()[:16])
    _add_to_path(os.path.dirname(path))
    if path.endswith(YAML_SUFFIXES):
        from baton.model import yaml_spec  # only YAML flows pay for importing PyYAML

        spec = yaml_spec.load_yaml_flow(content.decode("utf-8", "replace"), file=path)
        loaded = [LoadedFlow(spec.with_source(source))]
    elif path.endswith(".py"):
        loaded = [
            LoadedFlow(
                f.spec.with_source(source),
                {t.reference: t.fn for t in f.tasks.values()},
            )
            for f in _flows_in_module(path)
        ]
    else:
        raise InputError(f"{path}: a flow file ends in .py, .yaml or .yml")
    for lf in loaded:
        check(lf, file=path)
    return loaded


def from_flow(flow: Flow) -> LoadedFlow:
    """A flow object defined in this process (no file to load)."""
    lf = LoadedFlow(flow.spec, {t.reference: t.fn for t in flow.tasks.values()})
    check(lf)
    return lf


def pick(flows: list[LoadedFlow], name: str | None, *, file: str) -> LoadedFlow:
    names = [f.spec.name for f in flows]
    if not flows:
        raise DefinitionError("defines no flow (decorate a function with @flow)", file=file)
    if name is None:
        if len(flows) > 1:
            raise InputError(
                f"{file} defines several flows ({', '.join(names)}): pick one with --flow"
            )
        return flows[0]
    for f in flows:
        if f.spec.name == name:
            return f
    raise InputError(f"{file} has no flow '{name}'; it defines: {', '.join(names)}")


def check(lf: LoadedFlow, *, file: str | None = None) -> None:
    """Validate the graph, every task's type (installed, with what it needs) and fields, and
    that every python function exists."""
    spec = lf.spec
    try:
        for t in spec.tasks:
            tasks.task_type(t.type, task=t.key)  # an unknown one is named, with a suggestion
        validate(spec, {t.type for t in spec.tasks})
        for t in spec.tasks:
            tasks.check_installed(t)
            cfg = tasks.config_of(t)
            if isinstance(cfg, PythonConfig):
                try:
                    lf.load_function(cfg.function)
                    if cfg.compute is not None:
                        from baton.tasks import compute  # only remote tasks pay for it

                        compute.check(t.config)
                except DefinitionError as exc:
                    raise DefinitionError(exc.message, task=t.key) from None
    except DefinitionError as exc:
        raise exc.located(file=file, flow=spec.name) from None


def for_run(spec: FlowSpec, project_dir: str | None = None) -> LoadedFlow:
    """The flow of a stored run, its code found again where it was defined."""
    path = source_path(spec, project_dir)
    if path is not None:
        _add_to_path(os.path.dirname(path))
        if path.endswith(".py") and os.path.isfile(path):
            for f in _flows_in_module(path):
                if f.name == spec.name:
                    return LoadedFlow(spec, {t.reference: t.fn for t in f.tasks.values()})
    return LoadedFlow(spec)


def source_path(spec: FlowSpec, project_dir: str | None = None) -> str | None:
    """Where the flow's file is on this machine. `baton deploy` records it relative to the
    deployed project, which each worker finds at its own `--path` (default: its cwd)."""
    if spec.source is None:
        return None
    return os.path.abspath(os.path.join(project_dir or os.getcwd(), spec.source.path))


def load_project(path: str) -> list[LoadedFlow]:
    """Every flow in a file, or in the .py/.yaml/.yml files under a folder (hidden folders,
    virtualenvs and __pycache__ left out), with sources relative to that folder."""
    if os.path.isfile(path):
        root, files = os.path.dirname(os.path.abspath(path)), [os.path.abspath(path)]
    elif os.path.isdir(path):
        root, files = os.path.abspath(path), []
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(
                d for d in dirs if not d.startswith((".", "_")) and d not in ("venv", "env")
            )
            files += [
                os.path.join(folder, n)
                for n in sorted(names)
                if n.endswith((".py", *YAML_SUFFIXES))
            ]
    else:
        raise InputError(f"no such file or folder: {path}")
    found: list[LoadedFlow] = []
    for file in files:
        for lf in load_file(file):
            assert lf.spec.source is not None
            rel = os.path.relpath(lf.spec.source.path, root)
            source = SourceRef(path=rel, code_hash=lf.spec.source.code_hash)
            found.append(LoadedFlow(lf.spec.with_source(source), lf.functions))
    return found


def import_function(reference: str) -> Callable[..., Any]:
    module_name, _, qualname = reference.partition(":")
    try:
        obj: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
    except ImportError as exc:
        raise DefinitionError(
            f"cannot import module '{module_name}' for '{reference}': {exc}"
        ) from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise DefinitionError(
                f"function '{reference}' not found: '{module_name}' has no '{qualname}'"
            ) from None
    fn = obj.fn if isinstance(obj, Task) else obj
    if not callable(fn):
        raise DefinitionError(f"'{reference}' is not a function")
    return fn


def _flows_in_module(path: str) -> Iterable[Flow]:
    name = os.path.splitext(os.path.basename(path))[0]
    module = sys.modules.get(name)
    if module is None or os.path.abspath(getattr(module, "__file__", "") or "") != path:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except DefinitionError as exc:
            del sys.modules[name]
            raise exc.located(file=path) from None
        except Exception as exc:
            del sys.modules[name]
            raise DefinitionError(
                f"importing it failed: {type(exc).__name__}: {exc}", file=path
            ) from exc
    seen: dict[str, Flow] = {}
    for value in vars(module).values():
        if isinstance(value, Flow):
            seen.setdefault(value.name, value)
    return seen.values()


def _add_to_path(directory: str) -> None:
    if directory not in sys.path:
        sys.path.insert(0, directory)
