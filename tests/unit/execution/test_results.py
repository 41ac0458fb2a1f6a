from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from baton.execution import results


@pytest.mark.parametrize(
    ("value", "length"),
    [
        ({"a": [1, 2.5, None], "b": "x"}, None),
        ([1, 2, 3], 3),
        ([], 0),
        ("abc", None),
        (7, None),
        (True, None),
    ],
)
def test_json_values_are_inline(tmp_path: Path, value: Any, length: int | None) -> None:
    text, ref, n = results.encode(value, str(tmp_path / "results"), "att1")
    assert text is not None and json.loads(text) == value
    assert ref is None
    assert n == length
    assert not (tmp_path / "results").exists()
    assert results.decode(text, ref) == value


def test_a_tuple_comes_back_a_tuple(tmp_path: Path) -> None:
    text, ref, n = results.encode((1, "a"), str(tmp_path), "att1")
    assert (text, n) == (None, 2)  # JSON would read it back as a list: pickled instead
    assert results.decode(text, ref) == (1, "a")


def test_none_is_a_json_null(tmp_path: Path) -> None:
    text, ref, n = results.encode(None, str(tmp_path), "att1")
    assert (text, ref, n) == ("null", None, None)
    assert results.decode(text, ref) is None


@pytest.mark.parametrize(
    ("value", "length"),
    [({1, 2, 3}, None), ([{1}, {2}], 2), (b"bytes", None), ({1: "int key", (2, 3): "tuple"}, None)],
)
def test_other_values_are_pickled_to_a_file(tmp_path: Path, value: Any, length: int | None) -> None:
    directory = tmp_path / "results"
    text, ref, n = results.encode(value, str(directory), "att42")
    assert text is None
    assert ref == os.path.join(str(directory), "att42.pkl")
    assert os.path.isfile(ref)
    assert os.listdir(directory) == ["att42.pkl"]  # no temp file left behind
    assert n == length
    assert results.decode(text, ref) == value


def test_nan_is_not_valid_json_so_it_is_pickled(tmp_path: Path) -> None:
    text, ref, _ = results.encode(float("nan"), str(tmp_path), "att1")
    assert text is None and ref is not None
    assert math.isnan(results.decode(text, ref))


def test_no_result() -> None:
    assert results.decode(None, None) is None


def test_a_dict_with_non_string_keys_round_trips(tmp_path: Path) -> None:
    # json.dumps turns the key 1 into "1": the downstream task would get another value.
    value = {1: "one", 2: "two"}
    text, ref, _ = results.encode(value, str(tmp_path), "att1")
    assert results.decode(text, ref) == value
