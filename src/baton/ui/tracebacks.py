"""A traceback as a task's page shows it: the user's frames in view, baton's own frames
(the runner, the worker, the task type calling the user's function) folded, since they
say nothing about the user's bug and push its frames out of sight."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BATON_DIR = str(Path(__file__).resolve().parents[1])  # the installed baton package
FRAME = '  File "'


@dataclass(frozen=True, slots=True)
class Part:
    """Lines of a traceback: plain text (the header, the exception), or a run of frames,
    `internal` when they are all baton's own."""

    text: str
    frames: int = 0
    internal: bool = False


def parts(traceback: str, baton_dir: str = BATON_DIR) -> list[Part]:
    """The traceback cut into text and runs of frames, each run user or internal."""
    groups: list[tuple[str, list[str]]] = []  # ("text" | "user" | "internal", lines)
    for line in traceback.splitlines():
        if line.startswith(FRAME):
            path = line[len(FRAME) :].split('"', 1)[0]
            kind = "internal" if _is_baton(path, baton_dir) else "user"
        elif line.startswith("    ") and groups and groups[-1][0] != "text":
            kind = groups[-1][0]  # a frame's source line or its ^^^ marks
        else:
            kind = "text"
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(line)
        else:
            groups.append((kind, [line]))
    return [
        Part(
            "\n".join(lines),
            frames=sum(1 for x in lines if x.startswith(FRAME)),
            internal=kind == "internal",
        )
        for kind, lines in groups
    ]


def _is_baton(path: str, baton_dir: str) -> bool:
    return path.startswith(baton_dir + "/") or "/site-packages/baton/" in path
