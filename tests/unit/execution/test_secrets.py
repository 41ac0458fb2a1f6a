from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from baton.errors import DefinitionError, InputError, NotFoundError
from baton.execution import logs
from baton.execution.context import TaskContext
from baton.execution.secrets import Secrets
from baton.settings import Settings
from baton.tasks import template


def settings(home: Path, secrets_file: Path | None = None) -> Settings:
    env = {"BATON_HOME": str(home)}
    if secrets_file is not None:
        env["BATON_SECRETS_FILE"] = str(secrets_file)
    return Settings.from_env(env)


def secrets(**file_values: str) -> Secrets:
    return Secrets(file_values, {}, "secrets.yaml", True)


# -- lookup --------------------------------------------------------------------------------


def test_lookup_order_prefixed_env_then_env_then_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("A: from-file\nB: from-file\nC: from-file\n")
    env = {"BATON_SECRET_A": "prefixed", "A": "plain", "B": "plain"}
    s = Secrets.load(settings(tmp_path), env)
    assert (s.get("A"), s.get("B"), s.get("C")) == ("prefixed", "plain", "from-file")


def test_a_json_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text('{"TOKEN": "json-value"}')
    assert Secrets.load(settings(tmp_path, path), {}).get("TOKEN") == "json-value"


def test_a_missing_default_file_is_empty(tmp_path: Path) -> None:
    s = Secrets.load(settings(tmp_path), {})
    assert not s.masking
    with pytest.raises(NotFoundError, match="does not exist"):
        s.get("TOKEN")


def test_a_missing_file_set_on_purpose_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.yaml \(BATON_SECRETS_FILE\) does not exist"):
        Secrets.load(settings(tmp_path, tmp_path / "nope.yaml"), {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A: [unclosed", r"secrets\.yaml:2: not valid YAML"),
        ("- a\n- b\n", "expected a mapping of NAME: value"),
        ("A: 0123\n", "the value of A must be a string: quote it"),
        ("bad-name: x\n", "'bad-name' is not a secret name"),
    ],
)
def test_a_malformed_file_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "secrets.yaml").write_text(text)
    with pytest.raises(InputError, match=message):
        Secrets.load(settings(tmp_path), {})


def test_a_yaml_error_does_not_quote_the_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("A: s3cr3t-value: more\n")
    with pytest.raises(InputError) as info:
        Secrets.load(settings(tmp_path), {})
    assert "s3cr3t" not in str(info.value)


def test_an_unknown_secret_names_where_it_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text("OTHER: value\n")
    s = Secrets.load(settings(tmp_path), {})
    with pytest.raises(NotFoundError) as info:
        s.get("API_TOKEN")
    message = str(info.value)
    assert "unknown secret 'API_TOKEN'" in message
    assert "BATON_SECRET_API_TOKEN" in message
    assert str(tmp_path / "secrets.yaml") in message


# -- resolve -------------------------------------------------------------------------------


def test_resolve_walks_dicts_and_lists() -> None:
    s = secrets(TOKEN="t0ken", USER="admin")
    config = {
        "command": "curl -u ${secret:USER}:${secret:TOKEN} x",
        "env": {"T": "${secret:TOKEN}"},
        "args": ["--token", "${secret:TOKEN}", 3, None],
        "other": "no reference",
    }
    assert s.resolve(config) == {
        "command": "curl -u admin:t0ken x",
        "env": {"T": "t0ken"},
        "args": ["--token", "t0ken", 3, None],
        "other": "no reference",
    }


def test_resolve_returns_the_value_itself_without_references() -> None:
    config = {"command": "echo hi", "env": {"A": "b"}}
    assert secrets(TOKEN="t0ken").resolve(config) is config


@pytest.mark.parametrize("text", ["${secret:}", "${secret:a-b}", "${secret:1A}", "${secret:A"])
def test_a_malformed_reference_is_a_definition_error(text: str) -> None:
    with pytest.raises(DefinitionError, match="malformed secret reference"):
        secrets(A="value").resolve(f"x {text} y")


def test_an_unknown_secret_fails_resolve() -> None:
    with pytest.raises(NotFoundError, match="unknown secret 'MISSING'"):
        secrets().resolve({"a": "${secret:MISSING}"})


def test_a_plain_env_value_is_masked_once_resolved() -> None:
    s = Secrets({}, {"DB_PASSWORD": "hunter22", "PATH": "/usr/bin"}, None)
    assert s.mask("hunter22 /usr/bin") == "hunter22 /usr/bin"  # not a secret until asked for
    assert s.resolve("${secret:DB_PASSWORD}") == "hunter22"
    assert s.mask("hunter22 /usr/bin") == "*** /usr/bin"


@pytest.mark.parametrize(
    ("field", "rendered"),
    [
        ("Bearer ${secret:TOKEN}", "Bearer p{{a}}ss"),
        ("{{ params.who }}: ${secret:TOKEN}", "me: p{{a}}ss"),
        ("{{ params.who }} {${secret:TOKEN}}", "me {p{{a}}ss}"),
        ("${secret:PLAIN} {{ params.who }}", "plain-value me"),
        ("${secret:PLAIN}", "plain-value"),
    ],
)
def test_a_value_is_never_read_as_a_template(
    task_context: Callable[..., TaskContext], field: str, rendered: str
) -> None:
    s = secrets(TOKEN="p{{a}}ss", PLAIN="plain-value")
    ctx = task_context(params={"who": "me"})
    assert template.render(s.resolve(field, templates=True), ctx) == rendered


def test_template_literal_keeps_any_text(task_context: Callable[..., TaskContext]) -> None:
    text = 'it\'s "q" \\ {% if %} {# x #}\n\t\u00e9\U0001f600 }}'
    assert template.render(template.literal(text), task_context()) == text


def test_a_secret_reference_is_known_at_run_time_only() -> None:
    assert template.is_template({"url": "https://x/?key=${secret:KEY}"})
    assert not template.is_template({"url": "https://x/"})


# -- mask ----------------------------------------------------------------------------------


def test_mask_replaces_file_and_prefixed_env_values() -> None:
    s = Secrets({"A": "file-value"}, {"BATON_SECRET_B": "env-value", "C": "other"}, None)
    assert s.mask("file-value env-value other") == "*** *** other"


def test_short_values_are_not_masked() -> None:
    s = secrets(A="abc", B="abcd")
    assert s.mask("abc abcd") == "abc ***"


def test_the_longest_value_is_masked_first() -> None:
    s = secrets(SHORT="abcd", LONG="abcdefgh")
    assert s.mask("abcdefgh abcdxyz") == "*** ***xyz"


def test_overlapping_values_are_masked_as_one() -> None:
    s = secrets(A="abcdef", B="defghi")
    assert s.mask("xabcdefghiy") == "x***y"
    assert s.mask("abcdefabcdef") == "******"  # next to each other: two masks


def test_a_value_of_several_lines_is_masked_line_by_line() -> None:
    s = secrets(KEY="-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----")
    assert s.mask("key: -----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----") == (
        "key: ***\n***\n***"
    )


def test_regex_characters_in_values_are_literal() -> None:
    assert secrets(A="a.b*c(d)").mask("a.b*c(d) axbbbc(d)") == "*** axbbbc(d)"


def test_mask_json_masks_strings_and_keys_anywhere() -> None:
    s = secrets(A="t0ken-value")
    value: Any = {
        "error": "bad t0ken-value",
        "list": ["t0ken-value", 1, 2.5, None, True],
        "tuple": ("t0ken-value",),
        "t0ken-value": {"deep": ["x t0ken-value"]},
    }
    assert s.mask_json(value) == {
        "error": "bad ***",
        "list": ["***", 1, 2.5, None, True],
        "tuple": ("***",),
        "***": {"deep": ["x ***"]},
    }


def test_mask_json_without_secrets_returns_the_value_itself() -> None:
    value = {"a": ["b"]}
    assert Secrets.empty().mask_json(value) is value


# -- masked logs ---------------------------------------------------------------------------


def masked_log(tmp_path: Path, s: Secrets) -> tuple[Any, Path]:
    path = tmp_path / "logs" / "1.log"
    return logs.open_attempt_log(s, str(path)), path


def test_a_value_split_across_writes_is_masked(tmp_path: Path) -> None:
    log, path = masked_log(tmp_path, secrets(A="s3cr3t-value"))
    for part in [b"token: s3c", b"r3t", b"-val", b"ue\nnext ", b"line s3cr3t-value", b" end"]:
        log.write(part)
    log.close()
    assert path.read_bytes() == b"token: ***\nnext line *** end"


def test_whole_lines_are_written_at_once(tmp_path: Path) -> None:
    log, path = masked_log(tmp_path, secrets(A="s3cr3t-value"))
    log.write(b"one s3cr3t-value\ntwo s3cr")
    assert path.read_bytes() == b"one ***\n"  # the rest may be the start of a value
    log.write(b"3t-value\n")
    assert path.read_bytes() == b"one ***\ntwo ***\n"
    log.close()


def test_a_child_process_writes_through_a_masking_pipe(tmp_path: Path) -> None:
    log, path = masked_log(tmp_path, secrets(A="s3cr3t-value"))
    log.write(b"before s3cr3t-value\n")
    script = "printf 'out s3cr3'; sleep 0.05; printf 't-value\\n'; echo 'err s3cr3t-value' >&2"
    subprocess.run(["sh", "-c", script], stdout=log, stderr=log, check=True)
    log.write(b"after s3cr3t-value\n")
    log.close()
    assert path.read_bytes() == b"before ***\nout ***\nerr ***\nafter ***\n"


def test_without_secrets_the_log_is_written_as_it_comes(tmp_path: Path) -> None:
    log, path = masked_log(tmp_path, Secrets.empty())
    log.write(b"plain, no newline")
    assert path.read_bytes() == b"plain, no newline"  # nothing is kept back
    log.close()
