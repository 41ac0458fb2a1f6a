"""The task-type registry: unknown names, types whose dependencies are missing."""

from __future__ import annotations

import pytest

from baton import tasks
from baton.errors import DefinitionError
from baton.model.spec import TaskSpec
from baton.tasks.base import TaskConfig, TaskType


def test_an_unknown_type_suggests_the_closest_installed_one() -> None:
    with pytest.raises(DefinitionError) as caught:
        tasks.task_type("shel", task="t")
    assert caught.value.message.startswith("unknown task type 'shel'; did you mean 'shell'? ")
    assert "installed types: python, shell, script" in caught.value.message
    with pytest.raises(DefinitionError, match=r"'zzzz'; installed types: python"):
        tasks.task_type("zzzz")


def test_the_notebook_type_names_its_extra() -> None:
    notebook = tasks.task_type("notebook")
    assert notebook.requires == ("nbformat", "nbclient", "ipykernel")
    assert tasks.install_hint(notebook.extra, ["nbclient"]) == "pip install 'baton[notebook]'"


class _Config(TaskConfig, frozen=True):
    pass


def test_a_type_whose_modules_are_missing_is_refused_with_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind = TaskType(
        "needy",
        _Config,
        lambda ctx, cfg: None,
        icon="plugin",
        requires=("json", "baton_not_installed_a", "baton_not_installed_b"),
        extra="needy",
    )
    monkeypatch.setitem(tasks._loaded, "needy", kind)
    monkeypatch.setitem(tasks.MODULES, "needy", "unused")
    with pytest.raises(DefinitionError) as caught:
        tasks.check_installed(TaskSpec(key="n", type="needy"))
    assert caught.value.message == (
        "needy tasks need baton_not_installed_a, baton_not_installed_b, which are not "
        "installed: pip install 'baton[needy]'"
    )
    assert caught.value.task == "n"
    tasks.check_installed(TaskSpec(key="s", type="shell"))  # nothing needed: no error


def test_an_install_hint_without_an_extra_names_the_modules() -> None:
    assert tasks.install_hint(None, ["a", "b"]) == "pip install a b"
    assert tasks.install_hint("baton-dbt[snow]", ["a"]) == "pip install 'baton-dbt[snow]'"
