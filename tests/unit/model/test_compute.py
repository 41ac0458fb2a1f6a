"""`compute:`: its one stored form, the backends' table, errors naming the field."""

from __future__ import annotations

import pytest

from baton import flow, task
from baton.errors import DefinitionError
from baton.model.compute import parse_compute, runs_remotely, split_address, with_default
from baton.model.yaml_spec import load_yaml_flow


def test_forms_are_stored_one_way():
    assert parse_compute(None) is None
    assert parse_compute("dask") == {"backend": "dask"}
    assert parse_compute({"backend": "dask", "address": "tcp://h:8786"}) == {
        "backend": "dask",
        "address": "tcp://h:8786",
    }
    assert parse_compute("local") == {"backend": "local"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"backend": "ray", "address": "tcp://h:1"}, "must be a ray address such as ray://"),
        ({"backend": "ray", "address": "ray://h"}, "must be a ray address such as ray://"),
        ({"backend": "dask", "address": "auto"}, "must be a dask address such as tcp://"),
        ("dusk", "did you mean 'dask'?"),
        ({"backend": "dask", "adress": "x"}, "unknown field(s) adress"),
        ({"backend": "dask", "address": "http://h:1"}, "must be a dask address"),
        ({"backend": "dask", "address": "h:99999"}, "must be a dask address"),
        ({"backend": "local", "address": "tcp://h:1"}, "means nothing to the local backend"),
        (3, "must be a backend name"),
    ],
)
def test_bad_values_name_the_field(value, message):
    with pytest.raises(DefinitionError, match="compute") as err:
        parse_compute(value)
    assert message in str(err.value)


def test_addresses():
    assert split_address("tcp://127.0.0.1:8786") == ("127.0.0.1", 8786)
    assert split_address("sched:8786") == ("sched", 8786)
    assert split_address("tls://[::1]:1") == ("::1", 1)
    assert split_address("tcp://nohost") is None
    assert split_address("ray://head:10001", ("ray",)) == ("head", 10001)
    assert split_address("head:10001", ("ray",)) == ("head", 10001)
    assert split_address("tcp://head:10001", ("ray",)) is None


def test_ray_takes_its_addresses_and_auto():
    assert parse_compute({"backend": "ray", "address": "auto"}) == {
        "backend": "ray",
        "address": "auto",
    }
    assert parse_compute({"backend": "ray", "address": "ray://h:10001"})["address"] == (
        "ray://h:10001"
    )
    assert runs_remotely({"compute": {"backend": "ray"}})


def test_a_flow_default_applies_to_python_tasks_that_name_none():
    spec = load_yaml_flow(
        """
name: f
compute: dask
tasks:
  - {key: a, type: python, function: "m:a"}
  - {key: b, type: python, function: "m:b", compute: local}
  - {key: c, type: shell, command: "true"}
""",
        file="f.yaml",
    )
    configs = {t.key: t.config for t in spec.tasks}
    assert configs["a"]["compute"] == {"backend": "dask"}
    assert configs["b"]["compute"] == "local"
    assert "compute" not in configs["c"]
    assert with_default({"compute": "local"}, {"backend": "dask"}) == {"compute": "local"}


def test_decorators_take_compute_on_tasks_and_flows():
    @task(compute={"backend": "dask", "address": "tcp://h:1"})
    def remote(x: int) -> int:
        return x

    @task
    def here() -> int:
        return 1

    @flow(compute="dask")
    def f():
        remote(here())

    configs = {t.key: t.config for t in f.spec.tasks}
    assert configs["remote"]["compute"] == {"backend": "dask", "address": "tcp://h:1"}
    assert configs["here"]["compute"] == {"backend": "dask"}

    with pytest.raises(DefinitionError, match=r"task 'bad'.*'compute\.backend' must be one of"):
        task(name="bad", compute="rya")(here.fn)
    assert task(name="on_ray", compute="ray")(here.fn).compute == {"backend": "ray"}
