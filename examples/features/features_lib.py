"""The real work behind the `features` example flows: plain functions, stdlib only.

Both `pipeline.py` (Python API) and `pipeline.yaml` call these. YAML flows bind arguments by
parameter name, so a parameter named after an upstream task key (`clicks_ingest`,
`build_features`, ...) receives that task's result and one named after a flow param (`seed`,
`out_dir`, ...) receives the param's value.

The data is synthetic but not random noise: every user has a hidden purchase intent that
drives both how they browse (clicks come in the 28-day window) and whether they buy in the
7 days after it (orders), so features built from clicks predict orders.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

Row = dict[str, Any]

WINDOW_START = datetime(2024, 1, 1, tzinfo=UTC)
CLICK_DAYS = 28  # clicks happen in [start, start + 28d)
ORDER_DAYS = 7  # orders happen in the week after: the label is "bought next week"
WINDOW_END = WINDOW_START + timedelta(days=CLICK_DAYS)
PAGES = ("home", "search", "category", "product", "reviews", "cart", "checkout", "help")
# How strongly each page attracts a user with high intent (positive) or low intent (negative).
PAGE_INTENT = (-0.6, 0.0, 0.2, 0.8, 0.6, 1.6, 2.0, -0.4)
FEATURES = ("n_clicks", "distinct_pages", "cart_views", "product_views", "recency_days")
CSV_NAME = "features.csv"
EPOCHS = 150
LEARNING_RATE = 0.5


def _users(n_rows: int, seed: int) -> list[float]:
    """Hidden purchase intent in (0, 1) per user id; both ingests derive from the same users."""
    rng = random.Random(f"{seed}:users")
    n_users = max(1, n_rows // 5)
    return [rng.betavariate(1.2, 2.0) for _ in range(n_users)]


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _sigmoid(z: float) -> float:
    if z < -30:
        return 0.0
    if z > 30:
        return 1.0
    return 1.0 / (1.0 + math.exp(-z))


def clicks_ingest(n_rows: int, seed: int) -> list[Row]:
    """Generate `n_rows` page clicks from the users' (hidden) intent, oldest first."""
    start = time.perf_counter()
    intent = _users(n_rows, seed)
    rng = random.Random(f"{seed}:clicks")
    # Keen users browse more, and more recently.
    activity = [0.3 + 2.0 * p for p in intent]
    user_ids = rng.choices(range(len(intent)), weights=activity, k=n_rows)
    page_weights = [[math.exp(w * 4.0 * (p - 0.3)) for w in PAGE_INTENT] for p in intent]
    clicks = []
    for i, user in enumerate(user_ids):
        # Recent days are likelier for keen users: the offset is skewed towards the window end.
        day = CLICK_DAYS * rng.random() ** (1.5 - 1.2 * intent[user])
        ts = WINDOW_START + timedelta(seconds=int(day * 86400))
        page = rng.choices(PAGES, weights=page_weights[user])[0]
        clicks.append({"click_id": i, "user_id": user, "ts": _iso(ts), "page": page})
    clicks.sort(key=lambda c: (c["ts"], c["click_id"]))
    users = len(set(user_ids))
    print(f"clicks_ingest: {len(clicks)} clicks from {users} users")
    log.info("clicks_ingest n_rows=%d seed=%d in %.3fs", n_rows, seed, time.perf_counter() - start)
    return clicks


def orders_ingest(n_rows: int, seed: int) -> list[Row]:
    """Generate the orders placed in the week after the click window by the same users.

    `n_rows` is the size of the click stream (as for `clicks_ingest`): it fixes the user base,
    so both ingests agree on who is who without seeing each other's output.
    """
    start = time.perf_counter()
    intent = _users(n_rows, seed)
    rng = random.Random(f"{seed}:orders")
    orders = []
    for user, p in enumerate(intent):
        if rng.random() >= _sigmoid(16.0 * (p - 0.45)):
            continue
        for _ in range(1 + int(rng.random() * 3 * p)):
            ts = WINDOW_END + timedelta(seconds=int(rng.random() * ORDER_DAYS * 86400))
            amount = round(rng.lognormvariate(3.0 + p, 0.5), 2)
            orders.append({"user_id": user, "ts": _iso(ts), "amount": amount})
    orders.sort(key=lambda o: (o["ts"], o["user_id"]))
    for i, order in enumerate(orders):
        order["order_id"] = i
    buyers = len({o["user_id"] for o in orders})
    print(f"orders_ingest: {len(orders)} orders from {buyers} buyers")
    log.info("orders_ingest n_rows=%d seed=%d in %.3fs", n_rows, seed, time.perf_counter() - start)
    return orders


def match(clicks_ingest: list[Row], orders_ingest: list[Row]) -> list[Row]:
    """Join clicks and orders per user (outer join), ordered by user id."""
    users: dict[int, Row] = {}

    def user(uid: int) -> Row:
        return users.setdefault(uid, {"user_id": uid, "clicks": [], "orders": []})

    for c in clicks_ingest:
        user(c["user_id"])["clicks"].append({"ts": c["ts"], "page": c["page"]})
    for o in orders_ingest:
        user(o["user_id"])["orders"].append({"ts": o["ts"], "amount": o["amount"]})
    rows = [users[uid] for uid in sorted(users)]
    both = sum(1 for r in rows if r["clicks"] and r["orders"])
    print(f"match: {len(rows)} users, {both} with both clicks and orders")
    log.info("match: %d clicks, %d orders", len(clicks_ingest), len(orders_ingest))
    return rows


def build_features(match: list[Row]) -> list[Row]:
    """One feature row per user from their clicks; label and spend from their orders."""
    rows = []
    for m in match:
        pages = [c["page"] for c in m["clicks"]]
        if m["clicks"]:
            last = max(_parse(c["ts"]) for c in m["clicks"])
            recency = round((WINDOW_END - last).total_seconds() / 86400, 3)
        else:
            recency = float(CLICK_DAYS)
        spend = round(sum(o["amount"] for o in m["orders"]), 2)
        rows.append(
            {
                "user_id": m["user_id"],
                "n_clicks": len(pages),
                "distinct_pages": len(set(pages)),
                "cart_views": sum(p in ("cart", "checkout") for p in pages),
                "product_views": sum(p in ("product", "reviews") for p in pages),
                "recency_days": recency,
                "label": int(bool(m["orders"])),
                "spend": spend,
            }
        )
    rate = sum(r["label"] for r in rows) / len(rows) if rows else 0.0
    print(f"build_features: {len(rows)} rows, {len(FEATURES)} features, {rate:.1%} bought")
    log.info("build_features: features=%s", ",".join(FEATURES))
    return rows


def persist_features(build_features: list[Row], out_dir: str) -> Row:
    """Write the feature rows to `<out_dir>/features.csv` (atomically: rerunning is safe)."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.abspath(os.path.join(out_dir, CSV_NAME))
    columns = list(build_features[0]) if build_features else ["user_id", *FEATURES, "label"]
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(build_features)
    os.replace(tmp, path)
    print(f"persist_features: wrote {len(build_features)} rows to {path}")
    log.info("persist_features: columns=%s", ",".join(columns))
    return {"path": path, "rows": len(build_features)}


def _standardise(train: list[list[float]], rows: list[list[float]]) -> list[list[float]]:
    """Scale columns by the train split's mean and deviation (never the test split's)."""
    n = len(train)
    means = [sum(col) / n for col in zip(*train, strict=True)]
    stds = [
        math.sqrt(sum((x - m) ** 2 for x in col) / n) or 1.0
        for col, m in zip(zip(*train, strict=True), means, strict=True)
    ]
    return [[(x - m) / s for x, m, s in zip(r, means, stds, strict=True)] for r in rows]


def _vector(row: Row) -> list[float]:
    # Counts are heavy-tailed: log1p keeps one very busy user from dominating the gradient.
    return [math.log1p(float(row[f])) for f in FEATURES]


def train(build_features: list[Row], seed: int) -> Row:
    """Fit a logistic regression (full-batch gradient descent) on 75%, score the other 25%.

    The split is stratified (a quarter of buyers and a quarter of non-buyers go to test), so
    the test set has the overall base rate and the accuracy is comparable across seeds.
    """
    start = time.perf_counter()
    rng = random.Random(f"{seed}:split")
    train_rows: list[Row] = []
    test_rows: list[Row] = []
    for label in (0, 1):
        group = [r for r in build_features if r["label"] == label]
        rng.shuffle(group)
        test_rows += group[: len(group) // 4]
        train_rows += group[len(group) // 4 :]
    if not test_rows or not train_rows:
        raise ValueError(f"too few feature rows to train and test: {len(build_features)}")
    rows = train_rows + test_rows
    cut = len(train_rows)
    raw = [_vector(r) for r in rows]
    x = _standardise(raw[:cut], raw)
    y = [r["label"] for r in rows]
    x_train, y_train, x_test, y_test = x[:cut], y[:cut], x[cut:], y[cut:]

    weights = [0.0] * len(FEATURES)
    bias = 0.0
    for _ in range(EPOCHS):
        grad_w = [0.0] * len(weights)
        grad_b = 0.0
        for xi, yi in zip(x_train, y_train, strict=True):
            err = _sigmoid(bias + sum(w * v for w, v in zip(weights, xi, strict=True))) - yi
            grad_b += err
            for j, v in enumerate(xi):
                grad_w[j] += err * v
        bias -= LEARNING_RATE * grad_b / cut
        weights = [w - LEARNING_RATE * g / cut for w, g in zip(weights, grad_w, strict=True)]

    def predict(xi: list[float]) -> int:
        return int(bias + sum(w * v for w, v in zip(weights, xi, strict=True)) > 0)

    correct = sum(predict(xi) == yi for xi, yi in zip(x_test, y_test, strict=True))
    accuracy = round(correct / len(y_test), 4)
    base = max(sum(y_test), len(y_test) - sum(y_test)) / len(y_test)
    print(f"train: test accuracy {accuracy:.3f} (majority-class baseline {base:.3f})")
    coefs = ", ".join(f"{f}={w:+.2f}" for f, w in zip(FEATURES, weights, strict=True))
    log.info("train: %d epochs in %.3fs; weights %s", EPOCHS, time.perf_counter() - start, coefs)
    return {"accuracy": accuracy, "n_train": cut, "n_test": len(y_test)}
