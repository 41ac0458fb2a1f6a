"""Small server-rendered charts of an asset's history: its numeric metadata over time (one
line chart per key) and a timeline of its materializations.

Drawn here as coordinates for an inline SVG in the template (no script, no library): a few
hundred points per chart at most, so the page stays one request and works without script.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

PLOT_W, PLOT_H = 320.0, 96.0
PAD_X, PAD_Y = 6.0, 10.0
MAX_PLOTS = 12  # numeric keys charted at most (the rest are in the table)
LINE_W, LINE_H = 1000.0, 44.0


def seconds(text: str | None) -> float | None:
    """An ISO time (as the read model writes them) as seconds since the epoch."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def number(value: Any) -> float | None:
    """A metadata value that plots: a finite int or float (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def plots(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One line chart per numeric metadata key of these materializations (newest first, as
    the read model lists them), oldest on the left; a key needs two points to make a line."""
    series: dict[str, list[tuple[float, float, Mapping[str, Any]]]] = {}
    for m in reversed(history):
        at = seconds(m.get("at"))
        meta = m.get("metadata")
        if at is None or not isinstance(meta, Mapping):
            continue
        for key, value in meta.items():
            v = number(value)
            if v is not None:
                series.setdefault(str(key), []).append((at, v, m))
    out = []
    for key in sorted(series, key=lambda k: (-len(series[k]), k))[:MAX_PLOTS]:
        points = series[key]
        if len(points) < 2:
            continue
        out.append(_chart(key, points))
    return sorted(out, key=lambda c: c["key"])


def _chart(key: str, points: list[tuple[float, float, Mapping[str, Any]]]) -> dict[str, Any]:
    t0, t1 = points[0][0], points[-1][0]
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    span_t = (t1 - t0) or 1.0
    span_v = (hi - lo) or 1.0
    inner_w, inner_h = PLOT_W - 2 * PAD_X, PLOT_H - 2 * PAD_Y
    dots = []
    for i, (t, v, m) in enumerate(points):
        # Equal times (a burst of writes) would stack: spread by index instead.
        x = PAD_X + ((t - t0) / span_t if t1 > t0 else i / (len(points) - 1)) * inner_w
        y = PAD_Y + (1 - ((v - lo) / span_v if hi > lo else 0.5)) * inner_h
        dots.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "value": fmt(v),
                "at": m.get("at"),
                "run": m.get("run_id"),
            }
        )
    return {
        "key": key,
        "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "dots": dots,
        "min": fmt(lo),
        "max": fmt(hi),
        "last": fmt(points[-1][1]),
        "count": len(points),
        "w": PLOT_W,
        "h": PLOT_H,
    }


def fmt(v: float) -> str:
    """A number as a chart labels it: whole numbers without a point, others to 4 digits."""
    if v.is_integer() and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.4g}"


def timeline(history: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Ticks for the materializations shown (newest first), placed by time, oldest left."""
    timed = [(t, m) for m in history if (t := seconds(m.get("at"))) is not None]
    if not timed:
        return None
    t0 = min(t for t, _ in timed)
    t1 = max(t for t, _ in timed)
    span = (t1 - t0) or 1.0
    ticks = [
        {
            "x": round(12 + ((t - t0) / span if t1 > t0 else 0.5) * (LINE_W - 24), 1),
            "at": m.get("at"),
            "run": m.get("run_id"),
            "source": m.get("source"),
            "task": m.get("task"),
        }
        for t, m in timed
    ]
    return {
        "w": LINE_W,
        "h": LINE_H,
        "ticks": ticks,
        "first": timed[-1][1].get("at"),
        "last": timed[0][1].get("at"),
    }
