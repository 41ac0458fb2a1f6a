"""`baton materialize FILE ASSET... [--upstream]`: a run of just the tasks producing some
assets, reusing what they need from the latest run where it succeeded."""

from __future__ import annotations

from pathlib import Path

from baton.store.records import MaterializationRow
from baton.store.store import Store

# Three assets in a chain; each task counts its runs in a file named after it.
CHAIN = """
from baton.model.asset_decorators import asset, asset_flow

def count(name: str) -> None:
    with open(name + ".txt", "a") as f:
        f.write("ran\\n")

@asset(name="shop.raw")
def raw(n: int = 3) -> set:
    count("raw")
    return set(range(1, n + 1))  # not JSON: stored by pickle, read back by a later run

@asset(name="shop.clean")
def clean(raw: set) -> list:
    count("clean")
    assert type(raw) is set, type(raw)
    return sorted(x * 10 for x in raw)

@asset(name="shop.report")
def report(clean: list) -> int:
    count("report")
    with open("report.out", "w") as f:
        f.write(str(sum(clean)))
    return sum(clean)

shop = asset_flow("shop", [raw, clean, report])
"""

LIB = """
import os

def extract(rows):
    with open("extract.txt", "a") as f:
        f.write("ran\\n")
    return list(range(rows))

def transform(extract):
    if os.path.exists("fail_transform"):
        raise RuntimeError("transform fails on purpose")
    with open("transform.txt", "a") as f:
        f.write(str(len(extract)) + "\\n")
    return len(extract)
"""

YAML = """
name: etl
params:
  rows: {type: integer, default: 2}
tasks:
  - {key: extract, type: python, function: "lib:extract", outputs: [etl.extract]}
  - key: transform
    type: python
    function: "lib:transform"
    depends_on: [extract]
    outputs: [etl.transformed]
  - key: publish
    type: shell
    command: "echo published >> publish.txt"
    depends_on: [transform]
    outputs: [etl.published]
"""


def history(workdir: Path, asset: str) -> list[MaterializationRow]:
    s = Store(f"sqlite:///{workdir / '.baton' / 'baton.db'}")
    try:
        return s.read().materializations(asset)
    finally:
        s.close()


def test_one_asset_reuses_its_upstream_from_an_earlier_run(baton, write, h, workdir: Path):
    path = write("shop.py", CHAIN)
    first = baton.run(path)
    assert first["state"] == "succeeded"

    run = baton.json("materialize", path, "shop.clean")
    assert run["state"] == "succeeded"
    assert run["trigger"] == "materialize"
    assert run["trigger_detail"] == "shop.clean"
    assert run["trigger_info"] == {
        "type": "materialize",
        "assets": ["shop.clean"],
        "upstream": False,
        "selected": ["shop.clean"],
        "reused": {"shop.raw": first["id"]},
    }
    # Only the selected task ran; its upstream's result (a pickled set) was passed on.
    assert h.states(run) == {"shop.raw": "succeeded", "shop.clean": "succeeded"}
    tasks = h.tasks(run)
    assert tasks["shop.raw"]["attempts"] == 0
    assert tasks["shop.clean"]["attempts"] == 1
    assert h.lines(workdir / "raw.txt") == ["ran"]
    assert h.lines(workdir / "clean.txt") == ["ran", "ran"]
    assert h.lines(workdir / "report.txt") == ["ran"]

    # Materializations: the selected asset's only.
    assert [m.run_id for m in history(workdir, "shop.clean")] == [run["id"], first["id"]]
    assert [m.run_id for m in history(workdir, "shop.raw")] == [first["id"]]
    assert [m.run_id for m in history(workdir, "shop.report")] == [first["id"]]

    # `baton runs show` and `runs list` show what the run was for.
    shown = baton.json("runs", "show", run["id"])
    assert shown["trigger"] == "materialize"
    assert shown["trigger_info"]["selected"] == ["shop.clean"]
    assert set(h.states(shown)) == {"shop.raw", "shop.clean"}
    listed = baton("runs", "list").stdout
    assert "materialize: shop.clean" in listed


def test_upstream_runs_the_chain(baton, write, h, workdir: Path):
    path = write("shop.py", CHAIN)
    proc = baton("materialize", path, "shop.report", "--upstream", "-p", "n=4")
    assert "of shop: succeeded" in proc.stdout
    runs = baton.json("runs", "list")
    assert len(runs) == 1
    assert runs[0]["trigger"] == "materialize"
    assert runs[0]["trigger_detail"] == "shop.report and upstream"
    run = baton.json("runs", "show", runs[0]["id"])
    assert run["params"] == {"n": 4}
    assert h.states(run) == {
        "shop.raw": "succeeded",
        "shop.clean": "succeeded",
        "shop.report": "succeeded",
    }
    assert (workdir / "report.out").read_text() == "100"  # 10 + 20 + 30 + 40
    for name in ("raw", "clean", "report"):
        assert h.lines(workdir / f"{name}.txt") == ["ran"]
    for asset in ("shop.raw", "shop.clean", "shop.report"):
        assert [m.run_id for m in history(workdir, asset)] == [run["id"]]


def test_an_unknown_asset_is_bad_input_with_a_did_you_mean(baton, write):
    path = write("shop.py", CHAIN)
    proc = baton("materialize", path, "shop.claen", check=2)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("error: no task of flow 'shop' produces the asset 'shop.claen'")
    assert "(did you mean 'shop.clean'" in message
    assert "its assets are: shop.clean, shop.raw, shop.report" in message
    assert baton.json("runs", "list") == []


def test_an_upstream_that_never_succeeded_is_bad_input(baton, write, workdir: Path):
    path = write("shop.py", CHAIN)
    proc = baton("materialize", path, "shop.report", check=2)
    assert "Traceback" not in proc.stderr
    assert "upstream task shop.clean of flow 'shop' never succeeded" in proc.stderr
    assert "--upstream" in proc.stderr
    assert baton.json("runs", "list") == []
    assert not (workdir / "report.txt").exists()


def test_a_yaml_flow_with_params_and_a_failing_selected_task(baton, write, h, workdir: Path):
    write("lib.py", LIB)
    path = write("etl.yaml", YAML)
    first = baton.run(path, "-p", "rows=5")
    assert first["state"] == "succeeded"

    (workdir / "fail_transform").touch()
    failed = baton.json("materialize", path, "etl.transformed", check=1)
    assert failed["state"] == "failed"
    # The run failed although `publish`, the flow's last task, is not in it.
    assert h.states(failed) == {"extract": "succeeded", "transform": "failed"}

    (workdir / "fail_transform").unlink()
    run = baton.json("materialize", path, "etl.transformed", "-p", "rows=9")
    assert run["state"] == "succeeded"
    assert run["params"] == {"rows": 9}
    assert run["trigger_info"]["reused"] == {"extract": first["id"]}
    assert h.states(run) == {"extract": "succeeded", "transform": "succeeded"}
    # The reused extract result is the first run's (rows=5): it did not run again.
    assert h.lines(workdir / "extract.txt") == ["ran"]
    assert h.lines(workdir / "transform.txt") == ["5", "5"]
    assert h.lines(workdir / "publish.txt") == ["published"]
    assert [m.run_id for m in history(workdir, "etl.transformed")] == [run["id"], first["id"]]
    assert [m.run_id for m in history(workdir, "etl.published")] == [first["id"]]


def test_bad_params_are_bad_input(baton, write):
    path = write("shop.py", CHAIN)
    proc = baton("materialize", path, "shop.raw", "-p", "n=lots", check=2)
    assert "Traceback" not in proc.stderr
    assert "n" in proc.stderr
    assert baton.json("runs", "list") == []
