"""The partition strip: 50,000 keys in at most 200 cells, each a stack of its statuses in
which a failed key always shows; a range narrows it; a one-key cell lists its runs."""

from __future__ import annotations

from baton.execution.partition_views import PartitionView
from baton.ui import partitions


def views(
    n: int, failed: frozenset[int] = frozenset(), missing: frozenset[int] = frozenset()
) -> list[PartitionView]:
    def status(i: int) -> str:
        return "failed" if i in failed else "missing" if i in missing else "succeeded"

    return [PartitionView(f"k{i:05}", status(i), None, None) for i in range(n)]


def zoom(a: str, b: str) -> str:
    return f"?parts={a}..{b}"


def test_fifty_thousand_keys_are_two_hundred_cells_and_one_failure_shows() -> None:
    s = partitions.strip(views(50_000, failed=frozenset({1234})), flow="f", selected="", zoom=zoom)
    assert len(s["cells"]) == 200
    assert s["per_cell"] == 250
    bad = [c for c in s["cells"] if c["status"] == "failed"]
    assert len(bad) == 1
    assert bad[0]["title"] == "k01000 … k01249: 1 failed, 249 succeeded"
    assert bad[0]["href"] == "?parts=k01000..k01249"
    # One failed key in 250 still takes 30 % of its cell; the rest is green.
    assert bad[0]["stack"] == [("failed", 30), ("succeeded", 70)]
    assert s["counts"] == [("failed", 1, "failed"), ("succeeded", 49_999, "succeeded")]


def test_a_range_narrows_the_strip_and_a_key_links_to_its_runs() -> None:
    s = partitions.strip(
        views(1000, missing=frozenset({3})), flow="my flow", selected="k00002..k00004", zoom=zoom
    )
    assert (s["zoomed"], s["shown"], s["total"], s["per_cell"]) == (True, 3, 1000, 1)
    assert [c["status"] for c in s["cells"]] == ["succeeded", "missing", "succeeded"]
    assert s["cells"][1]["href"] == "/runs?flow=my%20flow&partition=k00003"
    assert s["cells"][1]["stack"] == [("none", 100)]
    # A range that names no keys of these, or runs backwards, shows them all.
    for bad in ("k9..k10", "k00004..k00002", "nonsense"):
        assert partitions.strip(views(10), flow="f", selected=bad, zoom=zoom)["zoomed"] is False
