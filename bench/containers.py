"""What a container task costs over the engine's own start: `baton run` of a one-task flow
whose task runs `echo hello` in a container, against `docker run --rm` of the same image.

Usage:
    python bench/containers.py [--reps N]

The engine is DOCKER_HOST if set, else the tests' own (tests/docker_kit.py starts it and
builds its busybox image: nothing is pulled). Each side gets one unmeasured warm-up, then N
measured runs; the table shows the median and the fastest. Also measured: importing the
Docker SDK in a fresh interpreter (less the interpreter's own start), the part of baton's
cost that is the SDK's, and `baton run` of the same flow with a shell task instead (baton's
own cost). Writes bench/results/containers-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(BENCH.parent / "tests"))

import docker_kit  # noqa: E402 (tests/ is not a package on the path otherwise)

FLOW = f"""
name: container_hello
tasks:
  - key: hello
    type: container
    image: {docker_kit.IMAGE}
    pull: never
    network: none
    command: [echo, hello]
"""

SHELL = """
name: shell_hello
tasks:
  - key: hello
    type: shell
    command: echo hello
"""


def timed(argv: Sequence[str], env: dict[str, str], cwd: str, reps: int) -> list[float]:
    """Seconds of each of `reps` runs of `argv` (after one unmeasured), each exiting 0."""
    times = []
    for i in range(reps + 1):
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True, timeout=120)
        if i:
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    host = os.environ.get("DOCKER_HOST") or docker_kit.engine()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")} | {
        "DOCKER_HOST": host
    }
    baton = shutil.which("baton") or str(Path(sys.executable).parent / "baton")
    docker = shutil.which("docker")
    if docker is None:
        sys.exit("bench/containers.py compares with the docker CLI: apt-get install docker.io")
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "flow.yaml").write_text(FLOW)
        (Path(home) / "shell.yaml").write_text(SHELL)
        env["BATON_HOME"] = os.path.join(home, ".baton")
        rows["baton run (1 container task)"] = timed(
            [baton, "run", "flow.yaml"], env, home, args.reps
        )
        rows["baton run (1 shell task), baseline"] = timed(
            [baton, "run", "shell.yaml"], env, home, args.reps
        )
        run = [docker, "run", "--rm", "--network", "none", docker_kit.IMAGE, "echo", "hello"]
        rows["docker run --rm"] = timed(run, env, home, args.reps)
        python = [sys.executable, "-c", "pass"]
        bare = statistics.median(timed(python, env, home, args.reps))
        sdk = timed([sys.executable, "-c", "import docker"], env, home, args.reps)
        rows["import docker (SDK), less python"] = [t - bare for t in sdk]
    print(f"{'what':<36} {'median s':>9} {'min s':>7}")
    for name, times in rows.items():
        print(f"{name:<36} {statistics.median(times):>9.3f} {min(times):>7.3f}")
    RESULTS.mkdir(exist_ok=True)
    out = {name: {"median_s": statistics.median(t), "min_s": min(t)} for name, t in rows.items()}
    (RESULTS / "containers-latest.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
