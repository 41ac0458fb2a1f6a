"""Shipped logs (cluster mode): pieces of attempts' logs by byte offset, on every backend."""

from __future__ import annotations

from baton.store.store import Store

TEXT = "line one\nnaïve café ✓\n" + "🎉 party\n" * 3 + "the end\n"


def pieces(text: str, size: int) -> list[tuple[int, str]]:
    """`text` cut into pieces of about `size` bytes, never inside a character."""
    out: list[tuple[int, str]] = []
    offset, current = 0, ""
    for ch in text:
        if current and len((current + ch).encode()) > size:
            out.append((offset, current))
            offset += len(current.encode())
            current = ""
        current += ch
    out.append((offset, current))
    return out


def ship(store: Store, attempt_id: str, text: str, size: int) -> None:
    with store.transaction() as tx:
        tx.append_log_chunks([(attempt_id, o, d, None) for o, d in pieces(text, size)])


def test_pieces_read_back_as_the_text_they_were_cut_from(store: Store) -> None:
    ship(store, "a1", TEXT, 7)
    ship(store, "a2", "another attempt\n", 4)
    read = store.read()
    whole = TEXT.encode()
    assert read.log_size("a1") == len(whole)
    assert read.log_text("a1", 0, 1 << 20) == (TEXT, len(whole))
    assert read.log_text("a2", 0, 100) == ("another attempt\n", 16)
    assert read.log_size("nothing") == 0
    assert read.log_text("nothing", 0, 100) == ("", 0)
    assert read.log_text("a1", len(whole), 100) == ("", len(whole))  # at the end
    assert read.log_text("a1", len(whole) + 5, 100) == ("", len(whole) + 5)  # past it


def test_any_range_is_the_bytes_it_covers_in_whole_characters(store: Store) -> None:
    ship(store, "a1", TEXT, 10)
    whole = TEXT.encode()
    read = store.read()
    for start in range(len(whole)):
        if whole[start] & 0xC0 == 0x80:
            continue  # the middle of a character: see the next test
        for limit in (1, 4, 9, 33):
            text, after = read.log_text("a1", start, limit)
            end = min(start + limit, len(whole))
            while end < len(whole) and whole[end] & 0xC0 == 0x80:
                end -= 1  # a character cut short is left for the next read
            expected = whole[start:end].decode() if end > start else ""
            assert (text, after) == (expected, max(end, start))


def test_pages_of_an_odd_size_join_up_to_the_whole_log(store: Store) -> None:
    ship(store, "a1", TEXT * 50, 1000)
    texts, offset = [], 0
    for _ in range(1000):
        text, offset = store.read().log_text("a1", offset, 37)
        if not text:
            break
        texts.append(text)
    assert "".join(texts) == TEXT * 50
    assert offset == store.read().log_size("a1")


def test_a_range_starting_inside_a_character_starts_at_the_next_one(store: Store) -> None:
    ship(store, "a1", "é✓x", 100)  # é: 2 bytes, ✓: 3 bytes
    assert store.read().log_text("a1", 1, 100) == ("✓x", 6)
    assert store.read().log_text("a1", 3, 100) == ("x", 6)
    assert store.read().log_text("a1", 0, 4) == ("é", 2)  # ✓ does not fit: left for next


def test_shipping_a_piece_again_changes_nothing(store: Store) -> None:
    ship(store, "a1", TEXT, 8)
    ship(store, "a1", TEXT, 8)  # a transaction repeated after its commit was in doubt
    with store.transaction() as tx:
        tx.append_log_chunks([("a1", 0, "something else", None)])
    assert store.read().log_text("a1", 0, 1 << 20) == (TEXT, len(TEXT.encode()))
    rows = store.read()._all("SELECT count(*) AS n FROM log_chunks")
    assert rows[0]["n"] == len(pieces(TEXT, 8))


def test_the_times_of_the_pieces_that_cover_a_range(store: Store) -> None:
    # Three pieces of 10 bytes; the second starts inside a line begun in the first, so its
    # first record is the one in effect there (also the first piece's last).
    with store.transaction() as tx:
        tx.append_log_chunks(
            [
                ("a1", 0, "one\ntwo an", "[[0,5],[4,6]]"),
                ("a1", 10, "d more\nthr", "[[4,6],[17,9]]"),
                ("a1", 20, "ee\n", "[[17,9]]"),
                ("a2", 0, "no times\n", None),  # shipped before times were
            ]
        )
    read = store.read()
    assert read.log_times("a1", 0, 22) == [(0, 5), (4, 6), (17, 9)]
    assert read.log_times("a1", 12, 17) == [(4, 6), (17, 9)]
    assert read.log_times("a1", 21, 21) == [(17, 9)]
    assert read.log_times("a2", 0, 5) == []
    assert read.log_times("nothing", 0, 5) == []
    assert read.log_text("a1", 0, 100) == ("one\ntwo and more\nthree\n", 23)
