"""baton's benchmark suite: whole `baton run FILE` processes, timed from start to exit.

Usage:
    python bench/run.py [WORKLOAD ...] [--reps N] [--profile WORKLOAD]

Each workload gets a fresh BATON_HOME (a temp dir, so a fresh SQLite database), one unmeasured
warm-up run (creates the schema, compiles .pyc files), then N measured runs reusing that
home. Every run must exit 0 and its `--json` output must show the run and all its tasks
succeeded. Prints a table and writes bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
FLOWS = BENCH / "flows"
RESULTS = BENCH / "results"
RUN_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    flow: str  # file under bench/flows/
    tasks: int  # expected task runs, all succeeded
    target_s: float
    args: tuple[str, ...] = ()
    reps: int = 5
    target_rss_mb: float | None = None
    cached: int = 0  # task runs a measured run must serve from the cache (the warm-up fills it)


WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1", "500 no-op tasks + 1 join", "w1_fanout.py", 501, 0.5),
        Workload("W1A", "W1, each task writing an asset", "w1_assets.py", 501, 0.525),
        Workload("W1C", "W1, its 500 tasks cached (hits)", "w1c_cached.py", 501, 0.5, cached=500),
        Workload("W2", "chain of 100 no-op tasks", "w2_chain.py", 100, 0.3),
        Workload(
            "W3", "16 x sleep(0.5), concurrency 8", "w3_sleep.py", 16, 1.15, ("--concurrency", "8")
        ),
        Workload("W4", "one-task flow", "w4_single.py", 1, 0.3),
        Workload(
            "F10k",
            "10,000 no-op tasks + 1 join",
            "f10k_fanout.py",
            10_001,
            5.0,
            reps=3,
            target_rss_mb=300.0,
        ),
    )
}


class RunError(Exception):
    pass


def baton_bin() -> str:
    venv = REPO / ".venv" / "bin" / "baton"
    if venv.exists():
        return str(venv)
    found = shutil.which("baton")
    if found is None:
        sys.exit("bench: no baton executable (run ./dev bench, or create .venv first)")
    return found


def bench_env(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every run compile baton from source (~60 ms):
    # measure what an installed baton does, with the warm-up run writing the .pyc files.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("BATON_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["BATON_HOME"] = str(home)
    return env


def command(w: Workload) -> list[str]:
    return [baton_bin(), "run", str(FLOWS / w.flow), *w.args]


def run_once(w: Workload, home: Path, *, measured: bool = True) -> tuple[float, float]:
    """One `baton run --json`: (wall seconds, peak RSS MB of that process). Raises RunError."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [*command(w), "--json"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=bench_env(home),
            cwd=home,
        )
        killer = threading.Timer(RUN_TIMEOUT_S, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: tell Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if code != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise RunError(f"exit code {code}: {tail}")
    check_result(w, stdout, measured=measured)
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def check_result(w: Workload, stdout: str, *, measured: bool = True) -> None:
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise RunError(f"`baton run --json` printed no JSON ({exc})") from None
    if result.get("state") != "succeeded":
        raise RunError(f"run {result.get('id')} ended {result.get('state')}")
    tasks = result.get("tasks", [])
    bad = [t["key"] for t in tasks if t["state"] != "succeeded"]
    if bad:
        raise RunError(f"{len(bad)} task runs did not succeed, e.g. {bad[:3]}")
    if len(tasks) != w.tasks:
        raise RunError(f"expected {w.tasks} task runs, got {len(tasks)}")
    hits = sum(1 for t in tasks if t.get("cached"))
    if measured and hits != w.cached:
        raise RunError(f"expected {w.cached} task runs served from the cache, got {hits}")


def measure(w: Workload, reps: int | None) -> dict[str, Any]:
    n = reps or w.reps
    with tempfile.TemporaryDirectory(prefix=f"baton-bench-{w.name}-") as tmp:
        home = Path(tmp)
        walls: list[float] = []
        rss: list[float] = []
        try:
            run_once(w, home, measured=False)  # warm-up: schema, .pyc files (and W1C's cache)
            for _ in range(n):
                wall, mb = run_once(w, home)
                walls.append(wall)
                rss.append(mb)
        except RunError as exc:
            return {**describe(w), "error": str(exc), "times_s": walls, "rss_mb": rss}
    median = statistics.median(walls)
    peak = max(rss)
    ok = median <= w.target_s and (w.target_rss_mb is None or peak < w.target_rss_mb)
    return {
        **describe(w),
        "runs": n,
        "median_s": median,
        "min_s": min(walls),
        "max_s": max(walls),
        "peak_rss_mb": peak,
        "times_s": walls,
        "rss_mb": rss,
        "pass": ok,
    }


def describe(w: Workload) -> dict[str, Any]:
    return {
        "workload": w.name,
        "description": w.description,
        "command": ["baton", "run", f"bench/flows/{w.flow}", *w.args],
        "target_s": w.target_s,
        "target_rss_mb": w.target_rss_mb,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ["workload", "description", "median s", "min s", "max s", "target", "result", "RSS MB"]
    lines = []
    for r in rows:
        target = f"<= {r['target_s']:g} s"
        if r["target_rss_mb"] is not None:
            target += f", < {r['target_rss_mb']:g} MB"
        if "error" in r:
            lines.append([r["workload"], r["description"], "-", "-", "-", target, "ERROR", "-"])
            continue
        lines.append(
            [
                r["workload"],
                r["description"],
                f"{r['median_s']:.3f}",
                f"{r['min_s']:.3f}",
                f"{r['max_s']:.3f}",
                target,
                "pass" if r["pass"] else "FAIL",
                f"{r['peak_rss_mb']:.0f}",
            ]
        )
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(header)]
    numeric = {2, 3, 4, 7}

    def fmt(row: list[str]) -> str:
        cells = (
            c.rjust(wd) if i in numeric else c.ljust(wd)
            for i, (c, wd) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    print(fmt(header))
    print("  ".join("-" * wd for wd in widths))
    for row in lines:
        print(fmt(row))
    for r in rows:
        if "error" in r:
            print(f"{r['workload']}: {r['error']}", file=sys.stderr)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def profile(w: Workload) -> Path:
    """Run the workload once (after a warm-up) under pyinstrument; return the report's path."""
    pyinstrument = Path(sys.executable).parent / "pyinstrument"
    if not pyinstrument.exists():
        found = shutil.which("pyinstrument")
        if found is None:
            sys.exit("bench: pyinstrument not found (pip install pyinstrument)")
        pyinstrument = Path(found)
    RESULTS.mkdir(exist_ok=True)
    report = RESULTS / f"{w.name}.txt"
    with tempfile.TemporaryDirectory(prefix=f"baton-bench-{w.name}-") as tmp:
        home = Path(tmp)
        try:
            run_once(w, home, measured=False)
        except RunError as exc:
            sys.exit(f"bench: {w.name} warm-up failed: {exc}")
        proc = subprocess.run(
            [str(pyinstrument), "-r", "text", "-o", str(report), *command(w)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=bench_env(home),
            cwd=home,
            check=False,
        )
    if proc.returncode != 0:
        sys.exit(f"bench: profiling {w.name} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "workloads", nargs="*", metavar="WORKLOAD", help=f"any of {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--reps", type=int, help="measured runs per workload (default 5, F10k 3)")
    parser.add_argument(
        "--profile", metavar="WORKLOAD", help="run WORKLOAD once under pyinstrument instead"
    )
    args = parser.parse_args()
    names = {n.lower(): n for n in WORKLOADS}
    for name in [*args.workloads, *([args.profile] if args.profile else [])]:
        if name.lower() not in names:
            parser.error(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    if args.profile:
        report = profile(WORKLOADS[names[args.profile.lower()]])
        print(f"profile written to {report.relative_to(REPO)}")
        return 0
    selected = [WORKLOADS[names[n.lower()]] for n in args.workloads] or list(WORKLOADS.values())
    rows = [measure(w, args.reps) for w in selected]
    print_table(rows)
    RESULTS.mkdir(exist_ok=True)
    latest = RESULTS / "latest.json"
    latest.write_text(
        json.dumps(
            {
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "commit": git_commit(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "workloads": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nresults written to {latest.relative_to(REPO)}")
    return 0 if all(r.get("pass") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
