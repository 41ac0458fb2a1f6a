"""`spark` tasks: real applications through the installed PySpark's spark-submit, on
`local[2]`, bound to 127.0.0.1. A JVM takes seconds to start: a few tests, each doing much."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

# Lean local runs for tests: the JIT's quick tier and the serial GC start a JVM about 40%
# faster on two cores; no UI. `baton run` may take longer than conftest's default on a
# machine busy with other tests: a JVM or two start per run.
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
LEAN = f'spark.ui.enabled: false, spark.driver.extraJavaOptions: "{JVM_OPTIONS}"'
RUN_TIMEOUT = 90

WORDCOUNT = """
import json
import os
import sys

from pyspark.sql import SparkSession

from tokens import words  # shipped with --py-files

spark = SparkSession.builder.appName("wordcount").getOrCreate()
lines = spark.sparkContext.textFile(sys.argv[1])
pairs = lines.flatMap(words).map(lambda w: (w, 1))
counts = dict(pairs.reduceByKey(lambda a, b: a + b).collect())
print("counted", sorted(counts.items()))
conf = spark.conf
with open(os.environ["BATON_RESULT_FILE"], "w") as f:
    json.dump(
        {
            "counts": counts,
            "greeting": conf.get("spark.baton.greeting"),
            "partitions": conf.get("spark.sql.shuffle.partitions"),
            "driver_host": conf.get("spark.driver.host"),
            "master": spark.sparkContext.master,
            "env": os.environ["GREETING"],
            "local_ip": os.environ["SPARK_LOCAL_IP"],
        },
        f,
    )
spark.stop()
"""

TOKENS = """
def words(line):
    return [w.strip(".,").lower() for w in line.split() if w.strip(".,")]
"""

SAVE = """
import json

def save(value):
    with open("received.json", "w") as f:
        json.dump(value, f)
"""

# Counts the even numbers below its argument with Spark's Java API; writes the result JSON.
COUNT = """
package demo;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;

public class Count {
    public static void main(String[] args) throws Exception {
        SparkSession spark = SparkSession.builder().appName("evens").getOrCreate();
        long evens = spark.range(Long.parseLong(args[0])).filter("id % 2 = 0").count();
        String greeting = spark.conf().get("spark.baton.greeting");
        System.out.println("evens: " + evens);
        Files.writeString(
            Path.of(System.getenv("BATON_RESULT_FILE")),
            "{\\"evens\\": " + evens + ", \\"greeting\\": \\"" + greeting + "\\", \\"master\\": \\""
                + spark.sparkContext().master() + "\\"}");
        spark.stop();
    }
}
"""

# Fails before it starts a SparkContext (fast), after printing a line of its own.
FAIL_JAVA = """
package demo;

public class Fail {
    public static void main(String[] args) {
        System.out.println("checking " + args[0]);
        throw new IllegalStateException("no input for " + args[0]);
    }
}
"""

FAIL_PY = """
import sys

print("loading", sys.argv[1])
raise ValueError("the input " + sys.argv[1] + " is empty")
"""

# Says its pid and process group, then sleeps far past any timeout.
SLEEP_PY = """
import os
import sys
import time

with open(sys.argv[1], "w") as f:
    f.write(f"{os.getpid()} {os.getpgid(0)}\\n")
time.sleep(120)
"""


def _spark_jars() -> str:
    spec = importlib.util.find_spec("pyspark")
    assert spec is not None and spec.submodule_search_locations
    return os.path.join(spec.submodule_search_locations[0], "jars", "*")


@pytest.fixture(scope="session")
def spark_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo.jar: demo.Count (Spark's Java API, compiled against PySpark's jars) and
    demo.Fail, built with javac and `jar cf` (no main class in its manifest)."""
    root = tmp_path_factory.mktemp("spark-java")
    src = root / "src" / "demo"
    src.mkdir(parents=True)
    (src / "Count.java").write_text(COUNT)
    (src / "Fail.java").write_text(FAIL_JAVA)
    classes = root / "classes"
    subprocess.run(
        ["javac", "-cp", _spark_jars(), "-d", str(classes), *map(str, src.iterdir())],
        check=True,
        timeout=120,
    )
    subprocess.run(
        ["jar", "cf", str(root / "demo.jar"), "-C", str(classes), "."], check=True, timeout=60
    )
    return root / "demo.jar"


def test_pyspark_word_count_with_conf_py_files_and_env(baton, write, h, workdir: Path):
    # The application and its helper sit next to the flow file; baton runs from its parent.
    (workdir / "flows").mkdir()
    write("flows/wordcount.py", WORDCOUNT)
    write("flows/tokens.py", TOKENS)
    write("flows/lib.py", SAVE)
    write("words.txt", "The cat. The dog,\nthe END\n")
    path = write(
        "flows/spark.yaml",
        f"""
        name: sparkflow
        tasks:
          - key: count
            type: spark
            application: wordcount.py
            py_files: [tokens.py]
            args: [{workdir / "words.txt"}]
            master: "local[2]"
            conf: {{{LEAN}, spark.sql.shuffle.partitions: 2, spark.baton.greeting: hi}}
            env: {{GREETING: from-env}}
          - key: save
            type: python
            function: "lib:save"
            args: [{{__baton_ref__: count}}]
            depends_on: [count]
        """,
    )
    run = baton.run(path, timeout=RUN_TIMEOUT)
    assert h.states(run) == {"count": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {
        "counts": {"the": 3, "cat": 1, "dog": 1, "end": 1},
        "greeting": "hi",
        "partitions": "2",
        "driver_host": "127.0.0.1",
        "master": "local[2]",
        "env": "from-env",
        "local_ip": "127.0.0.1",
    }
    log = baton("logs", run["id"], "count").stdout
    assert "counted [('cat', 1), ('dog', 1), ('end', 1), ('the', 3)]" in log
    assert "SparkContext" in log  # the driver's own logging, from its stderr


def test_a_jar_by_main_class_from_a_python_flow(baton, write, spark_jar: Path, workdir: Path):
    (workdir / "jobs").mkdir()
    (workdir / "jobs" / "demo.jar").write_bytes(spark_jar.read_bytes())
    path = write(
        "pyspark_flow.py",
        """
        import json
        from baton import flow, spark_task, task

        @task
        def limit() -> int:
            return 10

        @task
        def save(value) -> None:
            with open("received.json", "w") as f:
                json.dump(value, f)

        @flow
        def evens():
            out = spark_task(
                "jobs/demo.jar",
                key="count",
                main_class="demo.Count",
                args=[limit()],
                master="local[2]",
                conf={
                    "spark.ui.enabled": False,
                    "spark.driver.extraJavaOptions": "{JVM_OPTIONS}",
                    "spark.baton.greeting": "hi-jar",
                },
            )
            save(out)
        """.replace("{JVM_OPTIONS}", JVM_OPTIONS),
    )
    run = baton.run(path, timeout=RUN_TIMEOUT)
    assert run["state"] == "succeeded"
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"evens": 5, "greeting": "hi-jar", "master": "local[2]"}
    assert "evens: 5" in baton("logs", run["id"], "count").stdout


def test_a_failed_driver_fails_the_task_with_its_last_lines(
    baton, write, h, spark_jar: Path, workdir: Path
):
    write("fail.py", FAIL_PY)
    path = write(
        "failing.yaml",
        f"""
        name: failing
        tasks:
          - key: py
            type: spark
            application: fail.py
            args: [day-1]
            master: "local[2]"
            conf: {{{LEAN}}}
          - key: jar
            type: spark
            application: {spark_jar}
            main_class: demo.Fail
            args: [day-2]
            master: "local[2]"
            conf: {{{LEAN}}}
        """,
    )
    run = baton.run(path, check=1, timeout=RUN_TIMEOUT)
    py, jar = h.tasks(run)["py"], h.tasks(run)["jar"]
    assert (py["state"], jar["state"]) == ("failed", "failed")
    assert py["error"].startswith("spark-submit exited with code 1; the driver's last lines:\n")
    assert "loading day-1\nTraceback (most recent call last):\n" in py["error"]
    assert py["error"].endswith("\nValueError: the input day-1 is empty"), py["error"]
    assert jar["error"].startswith("spark-submit exited with code 1; the driver's last lines:")
    assert "checking day-2" in jar["error"]
    assert "java.lang.IllegalStateException: no input for day-2" in jar["error"]
    assert "at demo.Fail.main" in jar["error"]
    log = baton("logs", run["id"], "py").stdout
    assert "ValueError: the input day-1 is empty" in log


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(proc.name))
    return found


def test_a_timeout_kills_the_driver_s_process_group(baton, write, h, workdir: Path):
    write("sleep.py", SLEEP_PY)
    marker = f"baton-spark-test-{uuid.uuid4().hex}"
    path = write(
        "slow.yaml",
        f"""
        name: slow
        tasks:
          - key: sleeper
            type: spark
            application: sleep.py
            args: [{workdir / "pid"}, {marker}]
            master: "local[2]"
            conf: {{{LEAN}}}
            timeout: 8
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1, timeout=RUN_TIMEOUT)
    assert time.monotonic() - started < 30
    sleeper = h.tasks(run)["sleeper"]
    assert sleeper["state"] == "failed"
    assert "timed out" in sleeper["error"].lower()
    (line,) = h.lines(workdir / "pid")  # the Python driver got far enough to be worth killing
    pid, pgid = map(int, line.split())
    assert pid != pgid  # the driver runs under spark-submit's JVM, in its group
    h.wait_until(lambda: not _group_members(pgid), timeout=5, what="the driver's group to go")
    assert not h.pid_alive(pid)
    # Nothing else that ran with the job's arguments (the JVM) is left either.
    assert not [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and marker.encode() in _cmdline(p) and h.pid_alive(int(p.name))
    ]


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("{application: job.py, main_class: demo.Main}", "`main_class` goes with a .jar"),
        ("{application: job.py, workers: 3}", "unknown field 'workers'"),
        ("{application: job.txt}", "`application` must be a .py file or a .jar"),
    ],
)
def test_bad_fields_are_definition_errors(definition_error, fields: str, named: str):
    stderr = definition_error("spark", fields[1:-1])
    assert named in stderr, stderr


def test_a_missing_application_fails_at_once_naming_it(baton, write, h, workdir: Path):
    (workdir / "flows").mkdir()
    path = write(
        "flows/missing.yaml",
        """
        name: missing
        tasks:
          - {key: app, type: spark, application: jobs/nowhere.py, retries: 3, retry_delay: 0}
        """,
    )
    run = baton.run(path, check=1)
    app = h.tasks(run)["app"]
    assert app["attempts"] == 1
    assert app["error"] == f"the application {workdir / 'flows/jobs/nowhere.py'} does not exist"
