"""Shipped logs: the pieces of attempts' logs workers store (`log_chunks`)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from baton.store.base import TxBase

# A piece of an attempt's log: (attempt_id, offset, text, times as JSON or None).
LogChunk = tuple[str, int, str, str | None]


class Logs(TxBase):
    """Appending and reading attempts' shipped logs."""

    # -- shipped logs --------------------------------------------------------------------

    def append_log_chunks(self, rows: Sequence[LogChunk]) -> None:
        """Pieces of attempts' logs: (attempt_id, offset, text, times) each, `offset` in bytes
        of the log, `times` when its lines were written (JSON, see `log_chunks`; None: not
        recorded). A piece already there is left as it is: shipping it again changes
        nothing."""
        self._c.executemany(
            'INSERT INTO log_chunks (attempt_id, "offset", data, times) VALUES (?, ?, ?, ?) '
            'ON CONFLICT (attempt_id, "offset") DO NOTHING',
            rows,
        )

    def log_text(self, attempt_id: str, offset: int, limit: int) -> tuple[str, int]:
        """Up to `limit` bytes of an attempt's shipped log from byte `offset`, in whole
        characters, and the offset after them: the pieces that cover the range, one range
        of the primary key."""
        rows = self._all(
            'SELECT "offset", data FROM log_chunks WHERE attempt_id = ? AND "offset" < ? '
            'AND "offset" >= coalesce((SELECT max("offset") FROM log_chunks '
            'WHERE attempt_id = ? AND "offset" <= ?), 0) ORDER BY "offset"',
            (attempt_id, offset + limit, attempt_id, offset),
        )
        if not rows or rows[0]["offset"] > offset:
            return "", offset
        start = rows[0]["offset"]
        pieces: list[bytes] = []
        end = start
        for r in rows:
            if r["offset"] != end:
                break  # a hole (never shipped so): what follows it is not this range's
            piece = r["data"].encode("utf-8")
            pieces.append(piece)
            end += len(piece)
        data = b"".join(pieces)
        # `offset` and `offset + limit` may fall inside a character: keep whole ones only.
        first, last = offset - start, min(offset + limit, end) - start
        while 0 <= first < last and data[first] & 0xC0 == 0x80:
            first += 1
        while first < last < len(data) and data[last] & 0xC0 == 0x80:
            last -= 1
        if first >= last:
            return "", offset
        return data[first:last].decode("utf-8"), start + last

    def log_times(self, attempt_id: str, offset: int, end: int) -> list[tuple[int, int]]:
        """The time records (offset, ms) of an attempt's shipped log that stamp the lines
        starting at `offset`..`end`: those of the pieces that cover the range (each piece's
        first record is the one in effect at its start), in order; [] when none were
        shipped with them."""
        rows = self._all(
            'SELECT times FROM log_chunks WHERE attempt_id = ? AND "offset" <= ? '
            'AND "offset" >= coalesce((SELECT max("offset") FROM log_chunks '
            'WHERE attempt_id = ? AND "offset" <= ?), 0) ORDER BY "offset"',
            (attempt_id, end, attempt_id, offset),
        )
        records: list[tuple[int, int]] = []
        for r in rows:
            for at, ms in json.loads(r["times"] or "[]"):
                if not records or at > records[-1][0]:
                    records.append((at, ms))
        return records

    def log_size(self, attempt_id: str) -> int:
        """How many bytes of an attempt's log are shipped (0: none)."""
        row = self._one(
            'SELECT "offset", data FROM log_chunks WHERE attempt_id = ? '
            'ORDER BY "offset" DESC LIMIT 1',
            (attempt_id,),
        )
        return 0 if row is None else int(row["offset"]) + len(row["data"].encode("utf-8"))
