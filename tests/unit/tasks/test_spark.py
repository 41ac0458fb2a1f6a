"""`spark` tasks without a JVM: fields, the spark-submit command line, its environment, and
the error of a failed driver. tests/integration/test_task_spark.py runs real applications."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from baton import tasks
from baton.errors import DefinitionError
from baton.model.spec import TaskSpec
from baton.tasks import spark
from baton.tasks.base import TaskFailed


def config(**fields: object) -> spark.SparkConfig:
    found = tasks.config_of(TaskSpec(key="t", type="spark", config=fields))
    assert isinstance(found, spark.SparkConfig)
    return found


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"application": "job.py", "main_class": "demo.Main"}, "`main_class` goes with a .jar"),
        ({"application": "job.py", "mian_class": "demo.Main"}, "unknown field 'mian_class'"),
        ({"main_class": "demo.Main"}, "missing required field 'application'"),
        ({"application": "job.R"}, "`application` must be a .py file or a .jar"),
        ({"application": "job.jar", "py_files": ["lib.py"]}, "`py_files` go with a .py"),
        ({"application": "job.py", "deploy_mode": "cluster"}, "`deploy_mode` cluster needs"),
        ({"application": "job.py", "deploy_mode": "remote"}, "'deploy_mode'"),
        ({"application": "job.jar", "main_class": "not a class"}, "main_class"),
        ({"application": "job.py", "conf": {"a=b": "c"}}, "conf"),
        ({"application": "job.py", "args": "--day"}, "args"),
        ({"application": "job.py", "master": ""}, "master"),
    ],
)
def test_bad_fields_are_definition_errors_naming_the_field(
    fields: dict[str, object], named: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        config(**fields)
    assert caught.value.task == "t"
    assert named in caught.value.message, caught.value.message


@pytest.mark.parametrize(
    ("master", "local"),
    [
        ("local", True),
        ("local[2]", True),
        ("local[*]", True),
        ("local[4,2]", True),
        ("local-cluster[2,1,1024]", True),
        ("spark://host:7077", False),
        ("yarn", False),
        ("k8s://https://api:6443", False),
        ("localhost", False),
    ],
)
def test_which_masters_are_local(master: str, local: bool) -> None:
    assert spark.is_local(master) is local


def test_the_command_line_with_paths_from_the_flow_folder(tmp_path: Path, task_context) -> None:
    for name in ("job.py", "helpers.py", "deps.zip", "extra.jar"):
        (tmp_path / name).touch()
    cfg = config(
        application="job.py",
        args=["--day", 3, 1.5],
        conf={"spark.sql.shuffle.partitions": 2, "spark.ui.enabled": False, "a.b": "x=y"},
        master="local[2]",
        py_files=["helpers.py", "deps.zip", "hdfs://nn/lib/more.py"],
        jars=["extra.jar", "local:/opt/jars/x.jar"],
    )
    assert spark.submit_args(task_context(), cfg) == [
        "--master",
        "local[2]",
        "--py-files",
        f"{tmp_path / 'helpers.py'},{tmp_path / 'deps.zip'},hdfs://nn/lib/more.py",
        "--jars",
        f"{tmp_path / 'extra.jar'},local:/opt/jars/x.jar",
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "a.b=x=y",
        str(tmp_path / "job.py"),
        "--day",
        "3",
        "1.5",
    ]


def test_a_jar_on_a_cluster_gets_no_loopback_defaults(task_context) -> None:
    cfg = config(
        application="s3a://bucket/etl.jar",
        main_class="org.example.Etl",
        master="yarn",
        deploy_mode="cluster",
        conf={"spark.executor.memory": "2g"},
    )
    assert spark.submit_args(task_context(), cfg) == [
        "--master",
        "yarn",
        "--deploy-mode",
        "cluster",
        "--class",
        "org.example.Etl",
        "--conf",
        "spark.executor.memory=2g",
        "s3a://bucket/etl.jar",
    ]
    assert "SPARK_LOCAL_IP" not in spark.submit_env(cfg, "/spark")


def test_the_task_s_own_bind_settings_win(task_context, tmp_path: Path) -> None:
    (tmp_path / "job.py").touch()
    cfg = config(
        application="job.py",
        conf={"spark.driver.host": "10.0.0.5"},
        env={"SPARK_LOCAL_IP": "10.0.0.5", "PYSPARK_PYTHON": "/opt/py/bin/python"},
    )
    assert "spark.driver.host=10.0.0.5" in spark.submit_args(task_context(), cfg)
    assert "spark.driver.host=127.0.0.1" not in spark.submit_args(task_context(), cfg)
    env = spark.submit_env(cfg, "/spark")
    assert env == {
        "SPARK_HOME": "/spark",
        "SPARK_LOCAL_IP": "10.0.0.5",
        "PYSPARK_PYTHON": "/opt/py/bin/python",
    }


def test_a_local_master_binds_to_loopback_and_runs_baton_s_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    env = spark.submit_env(config(application="job.py"), "/spark")
    assert env == {
        "SPARK_HOME": "/spark",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def test_a_missing_local_file_fails_at_once_naming_it(tmp_path: Path, task_context) -> None:
    (tmp_path / "job.py").touch()
    with pytest.raises(TaskFailed) as caught:
        spark.submit_args(task_context(), config(application="job.py", py_files=["nope.py"]))
    assert str(caught.value) == f"the py_files entry {tmp_path / 'nope.py'} does not exist"
    assert caught.value.retryable is False
    with pytest.raises(TaskFailed, match=r"the application .*/gone\.jar does not exist"):
        spark.submit_args(task_context(), config(application="gone.jar"))


def test_spark_submit_comes_from_spark_home_else_the_pyspark_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARK_HOME", raising=False)
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.submodule_search_locations
    package = spec.submodule_search_locations[0]
    cfg = config(application="job.py")
    assert spark.spark_submit(cfg) == ([os.path.join(package, "bin", "spark-submit")], package)

    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "spark-submit").write_text("#!/bin/sh\n")
    monkeypatch.setenv("SPARK_HOME", str(home))
    # Not executable: run by bash, as spark-submit is a bash script.
    assert spark.spark_submit(cfg) == (["bash", str(home / "bin" / "spark-submit")], str(home))
    (home / "bin" / "spark-submit").chmod(0o755)
    assert spark.spark_submit(cfg) == ([str(home / "bin" / "spark-submit")], str(home))

    in_task = config(application="job.py", env={"SPARK_HOME": str(tmp_path)})
    with pytest.raises(TaskFailed, match=f"spark-submit was not found in SPARK_HOME {tmp_path}"):
        spark.spark_submit(in_task)


def test_a_failure_shows_the_driver_s_last_lines_without_spark_s_info_logging() -> None:
    lines = [
        "26/12/05 16:13:13 INFO DAGScheduler: Job 1 finished",
        "Traceback (most recent call last):",
        '  File "/flows/job.py", line 4, in <module>',
        "ValueError: boom",
        "26/12/05 16:13:13 INFO SparkContext: Invoking stop() from shutdown hook",
        "26/12/05 16:13:13 WARN Utils: something worth a look",
    ]
    assert spark.failure(1, lines) == (
        "spark-submit exited with code 1; the driver's last lines:\n"
        "Traceback (most recent call last):\n"
        '  File "/flows/job.py", line 4, in <module>\n'
        "ValueError: boom\n"
        "26/12/05 16:13:13 WARN Utils: something worth a look"
    )
    many = [f"line {i}" for i in range(30)]
    assert spark.failure(2, many).splitlines()[1:] == many[-spark.LAST_LINES :]
    assert spark.failure(3, lines[:1]).endswith("\n" + lines[0])  # nothing but INFO: kept
    assert spark.failure(4, []) == "spark-submit exited with code 4"


def test_the_type_needs_pyspark_and_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = tasks.task_type("spark")
    assert (kind.requires, kind.extra, tasks.icon("spark")) == (("pyspark",), "spark", "spark")
    monkeypatch.setattr(tasks, "_importable", lambda module: module != "pyspark")
    with pytest.raises(DefinitionError) as caught:
        tasks.check_installed(TaskSpec(key="count", type="spark", config={"application": "a.py"}))
    assert caught.value.message == (
        "spark tasks need pyspark, which is not installed: pip install 'baton[spark]'"
    )


def test_a_local_application_is_the_code_of_cached_results(tmp_path: Path, task_context) -> None:
    ctx = task_context()
    assert spark.code(ctx, {"application": "jobs/a.py"}) == ("script", str(tmp_path / "jobs/a.py"))
    assert spark.code(ctx, {"application": "hdfs://nn/a.jar"}) is None
