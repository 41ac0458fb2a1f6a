"""The editor's YAML, written back from a stored definition, defines the same flow: the same
version hash, for every YAML flow of the repository (examples, test fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.model.yaml_dump import to_yaml
from baton.model.yaml_spec import load_yaml_flow

ROOT = Path(__file__).resolve().parents[3]
FLOWS = sorted(
    p
    for folder in ("examples", "tests/fixtures")
    for p in (ROOT / folder).rglob("*.y*ml")
    if "databricks" not in p.parts
)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_flow_written_back_is_the_same_version(path: Path):
    spec = load_yaml_flow(path.read_text(), file=str(path))
    again = load_yaml_flow(to_yaml(spec), file="again.yaml")
    assert again.content_hash() == spec.content_hash(), to_yaml(spec)


RICH = """
name: rich
description: every field the editor writes back
tags: [finance, daily]
owner: data-team@example.com
params:
  zeta: {type: string, default: z, description: last but declared first}
  alpha: {type: integer, required: true}
schedule: {cron: "0 2 * * *", timezone: Europe/Paris}
max_active_runs: 2
notifications:
  - {on: [failure], webhook: "https://example.com/hook"}
tasks:
  - key: extract
    type: shell
    command: echo {{ params.zeta }}
    retries: 3
    retry_delay: 5
    retry_backoff: 2
    max_retry_delay: 60
    retry_jitter: 0.1
    timeout: 30
    queue: heavy
    pool: db
    priority: 5
    group: ingest
    resources: {cpu: 2, memory: 1Gi}
    cache: {ttl: 1h}
  - key: load
    type: shell
    command: "true"
    depends_on: [extract]
    trigger_rule: all_done
    outputs: [warehouse.orders]
"""


def test_every_field_survives():
    spec = load_yaml_flow(RICH, file="rich.yaml")
    text = to_yaml(spec)
    assert load_yaml_flow(text, file="again.yaml").content_hash() == spec.content_hash(), text
    assert text.index("zeta") < text.index("alpha")  # declared order
    again = load_yaml_flow(text, file="again.yaml")
    assert (again.tags, again.owner) == (("finance", "daily"), "data-team@example.com")
