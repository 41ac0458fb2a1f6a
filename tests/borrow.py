"""`borrow`: another test module's fixtures and helpers, for a test module that extends it.

Test modules cannot import each other or a conftest (pytest imports them by path, with
`--import-mode=importlib`); this module is importable because pytest's `pythonpath` names
tests/.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def borrow(path: Path) -> ModuleType:
    """The test module at `path`, loaded afresh under a name of its own."""
    name = "_baton_borrowed_" + "_".join(path.with_suffix("").parts[-3:])
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
