"""Write N random orders to OUT_DIR/orders.csv (run by the `script` task).

python make_orders.py N OUT_DIR
"""

from __future__ import annotations

import json
import os
import random
import sys

PRODUCTS = ["widget", "gadget", "doohickey", "gizmo"]


def main(n: int, out_dir: str) -> None:
    rng = random.Random(42)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "orders.csv")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("id,product,qty\n")
        for i in range(n):
            f.write(f"{i},{rng.choice(PRODUCTS)},{rng.randint(1, 9)}\n")
    os.replace(tmp, path)  # the sensor sees the whole file or none
    print(f"wrote {n} orders to {path}")
    result = os.environ.get("BATON_RESULT_FILE")
    if result:
        with open(result, "w", encoding="utf-8") as f:
            json.dump({"csv": os.path.abspath(path), "orders": n}, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
