"""`jar` tasks: a tiny jar built with javac/jar at test time, run by `java -jar` or main class."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from baton.tasks import jar
from baton.tasks.base import TaskFailed

pytestmark = pytest.mark.skipif(
    not (shutil.which("javac") and shutil.which("jar") and shutil.which("java")),
    reason="needs a JDK (javac, jar, java)",
)

# Prints its args and an env var, then exits with the code given as its first arg.
MAIN = """
package demo;

public class Main {
    public static void main(String[] args) {
        System.out.println("args: " + String.join(",", args));
        System.out.println("greeting: " + System.getenv("GREETING"));
        System.err.println("to-stderr");
        System.out.println("last " + args[args.length - 1]);
        System.exit(Integer.parseInt(args[0]));
    }
}
"""

# Writes its pid to the file named by its first arg, then sleeps far past any timeout.
SLEEP = """
package demo;

import java.nio.file.Files;
import java.nio.file.Path;

public class Sleep {
    public static void main(String[] args) throws Exception {
        Files.writeString(Path.of(args[0]), ProcessHandle.current().pid() + "\\n");
        Thread.sleep(30_000);
    }
}
"""


@pytest.fixture(scope="session")
def jars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with app.jar (runs demo.Main) and lib/demo.jar (both classes, no main)."""
    root = tmp_path_factory.mktemp("java")
    src = root / "src" / "demo"
    src.mkdir(parents=True)
    (src / "Main.java").write_text(MAIN)
    (src / "Sleep.java").write_text(SLEEP)
    classes = root / "classes"
    subprocess.run(
        ["javac", "-d", str(classes), str(src / "Main.java"), str(src / "Sleep.java")],
        check=True,
        timeout=60,
    )
    (root / "lib").mkdir()
    subprocess.run(
        ["jar", "cfe", str(root / "app.jar"), "demo.Main", "-C", str(classes), "."],
        check=True,
        timeout=60,
    )
    subprocess.run(
        ["jar", "cf", str(root / "lib" / "demo.jar"), "-C", str(classes), "."],
        check=True,
        timeout=60,
    )
    return root


SAVE = """
import json

def save(value):
    with open("received.json", "w") as f:
        json.dump(value, f)
"""


def test_java_jar_with_args_env_and_result_downstream(baton, write, h, jars, workdir: Path):
    # The jar sits next to the flow file, though baton runs from the parent folder.
    (workdir / "flows").mkdir()
    shutil.copy(jars / "app.jar", workdir / "flows" / "app.jar")
    write("flows/lib.py", SAVE)
    path = write(
        "flows/jarflow.yaml",
        """
        name: jarflow
        tasks:
          - key: app
            type: jar
            jar: app.jar
            args: [0, hello, world]
            jvm_args: [-Xmx64m]
            env: {GREETING: hi}
          - key: save
            type: python
            function: "lib:save"
            args: [{__baton_ref__: app}]
            depends_on: [app]
        """,
    )
    run = baton.run(path)
    assert h.states(run) == {"app": "succeeded", "save": "succeeded"}
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"exit_code": 0, "stdout_last_line": "last world"}
    log = baton("logs", run["id"], "app").stdout
    assert "args: 0,hello,world" in log
    assert "greeting: hi" in log
    assert "to-stderr" in log


def test_main_class_with_a_classpath_glob_from_python(baton, write, jars, workdir: Path):
    shutil.copytree(jars / "lib", workdir / "lib")
    path = write(
        "pyjar.py",
        """
        import json
        from baton import flow, task
        from baton.tasks.jar import jar_task

        @task
        def word() -> str:
            return "from-upstream"

        @task
        def save(value) -> None:
            with open("received.json", "w") as f:
                json.dump(value, f)

        @flow
        def pyjar(code: int = 0):
            out = jar_task(
                key="main", main_class="demo.Main", classpath=["lib/*.jar"],
                args=[code, word()],
            )
            save(out)
        """,
    )
    run = baton.run(path)
    assert run["state"] == "succeeded"
    received = json.loads((workdir / "received.json").read_text())
    assert received == {"exit_code": 0, "stdout_last_line": "last from-upstream"}


def test_exit_code_fails_and_is_retried(baton, write, h, jars):
    path = write(
        "failing.yaml",
        f"""
        name: failing
        tasks:
          - key: app
            type: jar
            jar: {jars / "app.jar"}
            args: [3, oops]
            retries: 1
            retry_delay: 0
        """,
    )
    run = baton.run(path, check=1)
    app = h.tasks(run)["app"]
    assert app["state"] == "failed"
    assert app["attempts"] == 2
    assert "java exited with code 3" in app["error"]


def test_missing_jar_fails_at_once(baton, write, h, workdir: Path):
    path = write(
        "missing.yaml",
        """
        name: missing
        tasks:
          - {key: app, type: jar, jar: nowhere.jar, retries: 3, retry_delay: 0}
        """,
    )
    run = baton.run(path, check=1)
    app = h.tasks(run)["app"]
    assert app["attempts"] == 1
    assert str(workdir / "nowhere.jar") in app["error"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ("{args: [a]}", "`jar` and `main_class`"),
        ("{jar: a.jar, main_class: demo.Main}", "`jar` and `main_class`"),
        ("{jar: a.jar, classpath: [lib]}", "classpath"),
        ("{main_class: demo.Main, jvm_args: -Xmx1g}", "jvm_args"),
        ("{main_class: 'not a class'}", "main_class"),
    ],
)
def test_bad_fields_are_definition_errors(definition_error, fields: str, named: str):
    stderr = definition_error("jar", fields[1:-1])
    assert named in stderr, stderr


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line holds `marker`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def test_timeout_kills_the_jvm(baton, write, h, jars, workdir: Path):
    marker = f"baton-jar-test-{uuid.uuid4().hex}"
    path = write(
        "slow.yaml",
        f"""
        name: slow
        tasks:
          - key: sleeper
            type: jar
            main_class: demo.Sleep
            classpath: [{jars / "lib" / "demo.jar"}]
            args: [pid, {marker}]
            timeout: 1.5
        """,
    )
    started = time.monotonic()
    run = baton.run(path, check=1)
    assert time.monotonic() - started < 8
    sleeper = h.tasks(run)["sleeper"]
    assert sleeper["state"] == "failed"
    assert "timed out" in sleeper["error"].lower()
    # The JVM got far enough to be worth killing.
    assert h.lines(workdir / "pid"), "the JVM never started"
    h.wait_until(lambda: not processes_with(marker), timeout=3, what="the JVM to be gone")


def test_classpath_expands_globs_and_rejects_missing_entries(tmp_path: Path, task_context):
    (tmp_path / "lib").mkdir()
    for name in ("b.jar", "a.jar"):
        (tmp_path / "lib" / name).touch()
    (tmp_path / "classes").mkdir()
    ctx = task_context()
    assert jar.classpath(ctx, ["lib/*.jar", "classes"]).split(os.pathsep) == [
        str(tmp_path / "lib" / "a.jar"),
        str(tmp_path / "lib" / "b.jar"),
        str(tmp_path / "classes"),
    ]
    with pytest.raises(TaskFailed, match=r"nothing/\*\.jar matches no file"):
        jar.classpath(ctx, ["nothing/*.jar"])
    with pytest.raises(TaskFailed, match="does not exist"):
        jar.classpath(ctx, ["absent"])


def test_java_comes_from_java_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task_context):
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(home))
    ctx = task_context()
    cfg = jar.JarConfig(jar="a.jar")
    assert jar.java_command(ctx, cfg) == str(home / "bin" / "java")
    with pytest.raises(TaskFailed, match="java was not found"):
        jar.java_command(ctx, jar.JarConfig(jar="a.jar", java="./no-java"))
