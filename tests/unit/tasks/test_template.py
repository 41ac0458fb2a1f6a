"""Jinja2 templates in task fields, rendered when the attempt starts."""

from __future__ import annotations

import pytest

from baton.model.context import NO_ITEM
from baton.tasks import template
from baton.tasks.base import TaskFailed


def test_what_holds_a_template_or_a_secret_reference() -> None:
    assert template.is_template("{{ params.day }}")
    assert template.is_template({"a": ["x", "{% if 1 %}y{% endif %}"]})
    assert template.is_template(("token ${secret:API_TOKEN}",))
    assert not template.is_template({"a": ["plain", 1, None], "b": "{ not: jinja }"})
    assert not template.is_jinja("${secret:API_TOKEN}")


def test_one_expression_keeps_its_type_and_text_around_it_makes_a_string(task_context) -> None:
    ctx = task_context(params={"port": 5432, "day": "2024-03-09"}, upstream={"extract": [1, 2]})
    assert template.render("{{ params.port }}", ctx) == 5432
    assert template.render("{{ upstream.extract }}", ctx) == [1, 2]
    assert template.render("out/{{ params.day }}.csv", ctx) == "out/2024-03-09.csv"
    value = {"a": ["{{ params.port + 1 }}", 3], "b": "plain"}
    assert template.render(value, ctx) == {"a": [5433, 3], "b": "plain"}


def test_a_value_without_templates_is_returned_as_it_is(task_context) -> None:
    value = {"a": ["plain"]}
    assert template.render(value, task_context()) is value


def test_the_runs_own_names(task_context) -> None:
    ctx = task_context(
        run_id="r1",
        task_key="load",
        attempt=3,
        item="eu",
        logical_date="2024-03-09T06:00:00.000000Z",
        trigger_info={"type": "file", "path": "in/a.csv"},
    )
    text = "{{ run_id }} {{ task_key }} {{ attempt }} {{ item }} {{ ds }} {{ trigger.path }}"
    assert template.render(text, ctx) == "r1 load 3 eu 2024-03-09 in/a.csv"
    assert template.render("{{ item }}", task_context(item=NO_ITEM)) is None
    assert template.render("{{ ds }}", task_context(logical_date=None)) is None


def test_a_template_that_cannot_render_fails_the_task_for_good(task_context) -> None:
    with pytest.raises(TaskFailed, match=r"cannot render 'out/\{\{ params.dya \}\}': .*'dya'") as e:
        template.render({"path": "out/{{ params.dya }}"}, task_context(params={"day": "x"}))
    assert e.value.retryable is False
    with pytest.raises(TaskFailed, match="'day' is undefined"):
        template.render("on {{ day }}", task_context())
    with pytest.raises(TaskFailed, match="cannot render"):
        template.render("{{ unclosed", task_context())


def test_a_field_that_is_one_unknown_expression_fails_too(task_context) -> None:
    # Native rendering hands back the value itself, which for an unknown name was an
    # Undefined object that the task then received as its field.
    with pytest.raises(TaskFailed, match=r"cannot render '\{\{ params.dya \}\}': .*'dya'"):
        template.render({"port": "{{ params.dya }}"}, task_context(params={"day": "x"}))
    with pytest.raises(TaskFailed, match="'day' is undefined"):
        template.render(["{{ day }}"], task_context())
    assert template.render("{{ params.day }}", task_context(params={"day": None})) is None


def test_a_literal_renders_to_its_text_even_with_template_syntax_in_it(task_context) -> None:
    text = "p@ss{{word}}'\"\\{% x %}"
    assert template.render(template.literal(text), task_context()) == text
    assert template.render("a-" + template.literal("{{b}}"), task_context()) == "a-{{b}}"
