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


BIG = list(range(300))  # 1,500 bytes of JSON


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_json_over_the_inline_limit_goes_to_the_result_store(tmp_path: Path, scheme: str) -> None:
    store = f"{scheme}{tmp_path / 'store'}"
    text, ref, n = results.encode(BIG, store, "att7", inline_max=1000)
    assert (text, ref, n) == (None, str(tmp_path / "store" / "att7.json"), 300)
    assert json.loads(Path(ref).read_text()) == BIG  # JSON, readable by anyone
    assert results.decode(text, ref) == BIG
    # At the limit it stays inline.
    text, ref, _ = results.encode(BIG, store, "att8", inline_max=len(json.dumps(BIG)))
    assert ref is None and json.loads(text or "") == BIG


def test_an_fsspec_store_writes_and_reads_through_fsspec(tmp_path: Path) -> None:
    """`local://` is fsspec's own local filesystem: the code path of s3://, gs://, ..."""
    store = f"local://{tmp_path}/remote/results/"
    text, ref, _ = results.encode(BIG, store, "att1", inline_max=100)
    assert text is None and ref == f"local://{tmp_path}/remote/results/att1.json"
    assert (tmp_path / "remote" / "results" / "att1.json").is_file()
    assert results.decode(text, ref) == BIG
    _, pickled, _ = results.encode({1, 2}, store, "att2")
    assert pickled == f"local://{tmp_path}/remote/results/att2.pkl"
    assert results.decode(None, pickled) == {1, 2}


@pytest.mark.parametrize("store", ["", "local://"])
def test_a_result_that_is_gone_is_named(tmp_path: Path, store: str) -> None:
    _, ref, _ = results.encode({1, 2}, f"{store}{tmp_path}", "att3")
    assert ref is not None
    (tmp_path / "att3.pkl").unlink()
    with pytest.raises(results.ResultGone) as err:
        results.decode(None, ref, "the result of task load in run r1")
    assert str(err.value).startswith("the result of task load in run r1 is gone: ")
    assert "att3.pkl no longer exists" in str(err.value)


def test_a_store_that_cannot_be_reached_is_named_without_its_password() -> None:
    ref = "sftp://ann:s3cr3t@127.0.0.1:1/results/att1.pkl"  # no server, perhaps no driver
    with pytest.raises(results.ResultGone) as err:
        results.decode(None, ref, "the result of task a in run r")
    text = str(err.value)
    assert text.startswith("the result of task a in run r cannot be read from sftp://ann:***@")
    assert "s3cr3t" not in text


def test_a_store_that_cannot_be_written_is_named_without_its_password() -> None:
    with pytest.raises(OSError) as err:
        results.encode({1}, "sftp://ann:s3cr3t@127.0.0.1:1/results", "att1")
    assert str(err.value).startswith("the result store sftp://ann:***@127.0.0.1:1/results")
    assert "s3cr3t" not in str(err.value)
