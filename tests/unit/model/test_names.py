"""The one "did you mean" of every message that lists what is allowed."""

from __future__ import annotations

from baton.model import names


def test_closest_is_the_choice_a_word_looks_like_a_typo_of() -> None:
    assert names.closest("schedul", ["schedule", "tasks"]) == "schedule"
    assert names.closest("zzz", ["schedule", "tasks"]) is None


def test_closest_tries_several_words_in_turn_and_takes_any_objects() -> None:
    assert names.closest(["zzz", "taks"], ["schedule", "tasks"]) == "tasks"
    assert names.closest([1, "fiel"], {"file": 1, "asset": 2}) == "file"


def test_did_you_mean_ends_a_message_or_says_what_it_is_told() -> None:
    assert names.did_you_mean("taks", ["tasks"]) == "; did you mean 'tasks'?"
    assert names.did_you_mean("zzz", ["tasks"]) == ""
    assert names.did_you_mean("taks", ["tasks"], lead="") == "did you mean 'tasks'?"
    assert names.did_you_mean("zzz", ["tasks"], otherwise="check for typos") == "check for typos"
