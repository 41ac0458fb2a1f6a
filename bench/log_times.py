"""What recording each log line's time costs (issue #18, item 5): writing, and reading a page.

Usage:
    python bench/log_times.py [--lines N] [--pages N]

Writing: N `print()`s (two writes each, as print makes them) routed to an attempt's log,
in-process, into a plain unbuffered file (what a log was before line times) and into the
attempt log (`logs.open_attempt_log`: masking and a times record per millisecond). Reading:
pages of 64 KiB at random offsets of the log just written, through `read_attempt_log` with
and without `times=True` (the API's `?times=true`), and the same with a record per line (the
worst case: every line written in its own millisecond). Writes bench/results/log-times.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from baton.execution import logs
from baton.execution.log_times import RECORD, StampedFile, open_log_file, times_path
from baton.execution.secrets import Secrets
from baton.settings import Settings
from baton.store.records import AttemptRow
from baton.store.store import Store

RESULTS = Path(__file__).resolve().parent / "results"
PAGE = 65536
TARGET_PAGE_MS = 5.0  # a page with times, p95
TARGET_WRITE_US = 3.0  # extra per print over a plain file


def write(opener: Callable[[], IO[bytes]], lines: int) -> float:
    """Seconds for `lines` prints into the log `opener` gives."""
    logs.install()
    log = opener()
    start = time.perf_counter()
    with logs.capture(lambda: log):
        for n in range(lines):
            print(f"line {n} of the log, a little text to make it a usual length")
    took = time.perf_counter() - start
    log.close()
    return took


def read_pages(
    store: Store, settings: Settings, attempt: AttemptRow, size: int, n: int, times: bool
) -> list[float]:
    rng = random.Random(7)
    took = []
    for _ in range(n):
        offset = rng.randrange(0, max(size - PAGE, 1))
        start = time.perf_counter()
        logs.read_attempt_log(store, settings, attempt, "t", offset, PAGE, times=times)
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"BATON_HOME": home})
        store = Store(f"sqlite:///{home}/baton.db")
        attempt = AttemptRow("a1", 1, "r1", 1, "w", "succeeded", 0.0, 1.0, 0.0, None, None, None)
        path = logs.log_path(settings, "r1", "t", 1)
        Path(path).parent.mkdir(parents=True)
        plain = write(lambda: open_log_file(f"{home}/plain.log"), args.lines)
        stamped = write(lambda: logs.open_attempt_log(Secrets.empty(), path), args.lines)
        size = Path(path).stat().st_size
        records = Path(times_path(path)).stat().st_size // RECORD.size
        rows = [
            ("pages, no times", read_pages(store, settings, attempt, size, args.pages, False)),
            ("pages, times", read_pages(store, settings, attempt, size, args.pages, True)),
        ]
        # The worst case: a record for every line (each in a millisecond of its own).
        tick = iter(range(10**9))
        with StampedFile(path + ".worst", clock=lambda: next(tick) / 1000) as f:
            for n in range(args.lines):
                f.write(f"line {n} of the log, a little text to make it a usual length\n".encode())
        Path(path + ".worst").replace(path)
        Path(times_path(path + ".worst")).replace(times_path(path))
        worst = read_pages(store, settings, attempt, size, args.pages, True)
        rows.append(("pages, times, a record per line", worst))
        store.close()
    extra_us = (stamped - plain) / args.lines * 1e6
    print(f"{args.lines:,} prints: plain file {plain:.2f} s, attempt log {stamped:.2f} s")
    print(f"  +{extra_us:.2f} us per print (target <= {TARGET_WRITE_US} us)")
    print(f"  log {size / 1e6:.1f} MB, {records:,} time records ({records * RECORD.size:,} bytes)")
    print(f"{'64 KiB page at a random offset':36} {'p50':>8} {'p95':>8} {'max':>8}")
    ok = extra_us <= TARGET_WRITE_US
    out = []
    for label, took in rows:
        p95 = statistics.quantiles(took, n=20)[-1]
        print(f"{label:36} {statistics.median(took):7.2f}ms {p95:7.2f}ms {max(took):7.2f}ms")
        out.append({"case": label, "p50": statistics.median(took), "p95": p95, "max": max(took)})
        ok = ok and (label == "pages, no times" or p95 <= TARGET_PAGE_MS)
    RESULTS.mkdir(exist_ok=True)
    result = {"prints": args.lines, "plain_s": plain, "stamped_s": stamped, "pages": out}
    (RESULTS / "log-times.json").write_text(json.dumps(result, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
