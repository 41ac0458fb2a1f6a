"""Reading attempts' logs, and shipping them to the store (cluster mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.execution import logs
from baton.execution.log_times import StampedFile, times_path
from baton.settings import Settings
from baton.store.records import AttemptRow
from baton.store.store import Store
from engine_kit import Clock
from store_rows import attempt_record

CLUSTER = "postgresql://db.example/baton"  # only `settings.cluster` reads it here


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'baton.db'}")
    yield s
    s.close()


def stored(store: Store, attempt_id: str) -> str:
    return store.read().log_text(attempt_id, 0, 1 << 30)[0]


def ship(store: Store, shipper: logs.Shipper, ids: list[str], *, final: bool) -> None:
    rows = shipper.collect(ids, final=final)
    with store.transaction() as tx:
        tx.append_log_chunks(rows)
    shipper.confirm(ids, ended=final)


def test_decode_keeps_byte_offsets() -> None:
    assert logs.decode("naïve ✓\n".encode()) == "naïve ✓\n"
    # Latin-1 from a child process, a character cut short, NUL: one `?` per byte.
    for raw, text in ((b"caf\xe9!", "caf?!"), (b"ok\xe2\x9c", "ok??"), (b"a\x00b", "a?b")):
        assert logs.decode(raw) == text
        assert len(text.encode()) == len(raw)


def test_whole_chars_leaves_a_character_cut_short() -> None:
    data = "é✓🎉".encode()  # 2, 3 and 4 bytes
    assert [logs.whole_chars(data[:n]) for n in range(len(data) + 1)] == [
        0, 0, 2, 2, 2, 5, 5, 5, 5, 9
    ]  # fmt: skip
    assert logs.whole_chars(b"caf\xe9") == 3  # may be the start of a character: wait for more
    assert logs.whole_chars(b"caf\xe9!") == 5  # cannot be: it goes (and decodes as `?`)


def test_an_attempt_that_printed_nothing_ships_nothing(store: Store, tmp_path: Path) -> None:
    shipper = logs.Shipper()
    shipper.add("a1", str(tmp_path / "1.log"))
    assert shipper.collect(["a1"], final=False) == []
    assert shipper.collect(["a1"], final=True) == []


def test_what_a_log_gains_is_shipped_in_whole_characters(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "1.log"
    shipper = logs.Shipper()
    shipper.add("a1", str(path))
    path.write_bytes("one\ncafé".encode()[:-1])  # é cut in half: it waits
    assert shipper.collect(["a1"], final=False) == [("a1", 0, "one\ncaf", None)]
    shipper.confirm(["a1"])
    with path.open("ab") as f:
        f.write("é".encode()[1:] + b"\nlast \xe2\x9c")  # the rest of é, then half a ✓
    assert shipper.collect(["a1"], final=False) == [("a1", 7, "é\nlast ", None)]
    # Not confirmed (the transaction failed, or its commit is in doubt): sent again, the same.
    assert shipper.collect(["a1"], final=False) == [("a1", 7, "é\nlast ", None)]
    shipper.confirm(["a1"])
    # The attempt ended: whatever is left goes, a character cut short as `?`s.
    assert shipper.collect(["a1"], final=True) == [("a1", 15, "??", None)]
    shipper.confirm(["a1"], ended=True)
    assert shipper.attempts() == []


def test_a_long_log_is_stored_in_pieces_cut_between_characters(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "CHUNK_BYTES", 10)
    text = "✓ line é\n" * 20
    path = tmp_path / "1.log"
    path.write_text(text)
    shipper = logs.Shipper()
    shipper.add("a1", str(path))
    rows = shipper.collect(["a1"], final=True)
    assert all(0 < len(d.encode()) <= 10 for _, _, d, _ in rows) and len(rows) > 20
    assert "".join(d for _, _, d, _ in rows) == text
    with store.transaction() as tx:
        tx.append_log_chunks(rows)
    assert stored(store, "a1") == text


def test_a_resumed_attempt_goes_on_where_its_shipped_log_ends(store: Store, tmp_path: Path) -> None:
    # It waited after printing on another machine: this one has no file, the store has it.
    with store.transaction() as tx:
        tx.append_log_chunks([("a1", 0, "poke 1 ✓\n", None), ("a1", 11, "poke 2\n", None)])
    path = tmp_path / "run" / "1.log"
    shipper = logs.Shipper()
    shipper.resume(store, "a1", str(path))
    assert path.read_text() == "poke 1 ✓\npoke 2\n"  # the file holds the whole log too
    with path.open("a") as f:
        f.write("poke 3\n")
    ship(store, shipper, ["a1"], final=True)
    assert stored(store, "a1") == "poke 1 ✓\npoke 2\npoke 3\n"
    # Resumed on the machine that has it all already: nothing copied, nothing shipped twice.
    shipper.resume(store, "a1", str(path))
    assert path.read_text() == "poke 1 ✓\npoke 2\npoke 3\n"
    assert shipper.collect(["a1"], final=True) == []


def attempt(state: str) -> AttemptRow:
    return attempt_record(state)


def text_of(*args: Any) -> tuple[str, int, bool]:
    """`read_attempt_log` without times: (text, next offset, complete)."""
    text, next_offset, complete, times = logs.read_attempt_log(*args)
    assert times is None
    return text, next_offset, complete


def test_a_log_is_read_from_its_file_or_else_from_the_store(store: Store, tmp_path: Path) -> None:
    embedded = Settings.from_env({"BATON_HOME": str(tmp_path / "home")})
    cluster = Settings.from_env(
        {"BATON_HOME": str(tmp_path / "home"), "BATON_DATABASE_URL": CLUSTER}
    )
    with store.transaction() as tx:
        tx.append_log_chunks([("a1", 0, "shipped\n", None)])
    read = text_of
    assert read(store, embedded, attempt("running"), "t", 0, 100) == ("", 0, False)
    assert read(store, embedded, attempt("succeeded"), "t", 0, 100) == ("", 0, True)
    assert read(store, cluster, attempt("running"), "t", 0, 100) == ("shipped\n", 8, False)
    assert read(store, cluster, attempt("succeeded"), "t", 0, 100) == ("shipped\n", 8, True)
    assert read(store, cluster, attempt("succeeded"), "t", 0, 3) == ("shi", 3, False)
    path = Path(logs.log_path(cluster, "r1", "t", 1))
    path.parent.mkdir(parents=True)
    path.write_bytes("from the file é".encode()[:-1])
    for settings in (embedded, cluster):  # this machine ran it: its file, the freshest
        assert read(store, settings, attempt("running"), "t", 0, 100) == (
            "from the file ",
            14,
            False,
        )
        assert read(store, settings, attempt("failed"), "t", 0, 100) == (
            "from the file ?",
            15,
            True,
        )


def test_the_store_is_read_when_it_has_more_than_this_machines_file(
    store: Store, tmp_path: Path
) -> None:
    cluster = Settings.from_env({"BATON_HOME": str(tmp_path), "BATON_DATABASE_URL": CLUSTER})
    path = Path(logs.log_path(cluster, "r1", "t", 1))
    path.parent.mkdir(parents=True)
    path.write_text("poke 1\n")  # then it waited, and went on on another machine
    with store.transaction() as tx:
        tx.append_log_chunks([("a1", 0, "poke 1\n", None), ("a1", 7, "poke 2\n", None)])
    read = text_of
    assert read(store, cluster, attempt("succeeded"), "t", 0, 100) == ("poke 1\npoke 2\n", 14, True)
    assert read(store, cluster, attempt("succeeded"), "t", 7, 100) == ("poke 2\n", 14, True)
    # Its worker died before shipping the last line: this machine's file has more.
    path.write_text("poke 1\npoke 2\nlast words\n")
    assert read(store, cluster, attempt("failed"), "t", 7, 100) == (
        "poke 2\nlast words\n",
        25,
        True,
    )


def test_times_go_with_the_pieces_shipped_and_come_back_on_another_machine(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "CHUNK_BYTES", 16)  # lines that span pieces
    clock = Clock(100.0)
    worker = Settings.from_env({"BATON_HOME": str(tmp_path / "w"), "BATON_DATABASE_URL": CLUSTER})
    server = Settings.from_env({"BATON_HOME": str(tmp_path / "s"), "BATON_DATABASE_URL": CLUSTER})
    path = logs.log_path(worker, "r1", "t", 1)
    os.makedirs(os.path.dirname(path))
    shipper = logs.Shipper()
    shipper.add("a1", path)
    f = StampedFile(path, clock=clock)
    for i, line in enumerate([b"first line, a long one\n", b"two\n", b"three", b" and on\nx\n"]):
        f.write(line)
        clock.now += 1
        if i % 2:  # shipped twice while it runs, and once at the end
            ship(store, shipper, ["a1"], final=False)
    f.close()
    ship(store, shipper, ["a1"], final=True)

    def read(settings: Settings, offset: int, limit: int) -> logs.LogRead:
        return logs.read_attempt_log(
            store, settings, attempt("succeeded"), "t", offset, limit, times=True
        )

    local = read(worker, 0, 1000)
    assert local.times == [100_000, 101_000, 102_000, 103_000]
    # The server has no file: the store's pieces, with their times, for any page.
    assert read(server, 0, 1000) == local
    for offset in range(len(local.text)):
        assert read(server, offset, 9) == read(worker, offset, 9), offset
    # The attempt goes on after waiting on a third machine: it gets the times too.
    third = tmp_path / "third" / "1.log"
    logs.Shipper().resume(store, "a1", str(third))
    assert third.read_bytes() == Path(path).read_bytes()
    assert Path(times_path(str(third))).read_bytes() == Path(times_path(path)).read_bytes()
