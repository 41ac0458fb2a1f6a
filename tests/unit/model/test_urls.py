"""model.urls: a database URL and a driver's message, as people may see them."""

from __future__ import annotations

import pytest

from baton.model import urls


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:hunter2@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "postgresql://u:***@h/db?sslmode=require"),
        ("postgresql://u@h/db?password=hunter2&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://u:a@b@h/db", "postgresql://u:***@h/db"),  # an unescaped @ in it
        ("postgresql://u:pw@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db"),
        ("postgresql://u:pw@h/db?options=a@b", "postgresql://u:***@h/db?options=a@b"),
        ("host=h password='a b' dbname=x", "host=h password=*** dbname=x"),
        ("mysql://root:hunter2@h/x", "mysql://root:***@h/x"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:@h/db", "postgresql://u:@h/db"),
        ("sqlite:////tmp/a@b/baton.db", "sqlite:////tmp/a@b/baton.db"),
        ("", ""),
    ],
)
def test_redacted_masks_the_password_only(url: str, shown: str) -> None:
    assert urls.redacted(url) == shown


def test_redact_masks_the_url_and_the_password_in_a_message() -> None:
    url = "postgresql://u:hunter2@h/db"
    text = f'could not use {url}: bad token "hunter2x" (hunter2)'
    assert urls.redact(text, url) == 'could not use postgresql://u:***@h/db: bad token "***" (***)'


def test_redact_masks_the_password_as_written_and_as_decoded() -> None:
    url = "postgresql://u:p%40ssword@h/db"
    assert urls.redact("p%40ssword or p@ssword", url) == "*** or ***"


def test_a_short_password_is_masked_only_where_quoted() -> None:
    url = "postgresql://u:ab@h/db"
    assert urls.redact('token "ab%" in a label', url) == 'token "***" in a label'


def test_redact_leaves_a_message_alone_for_a_url_without_password() -> None:
    assert urls.redact("connection refused", "postgresql://u@h/db") == "connection refused"
    assert urls.redact("anything", "") == "anything"
