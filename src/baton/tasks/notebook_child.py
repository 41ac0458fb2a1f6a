"""Entry point of a `notebook` task: executes the notebook in a process the task can kill.

    python -m baton.tasks.notebook_child JOB

JOB is a JSON file: {path, output, parameters, kernel, cell_timeout, cwd, status}. The
executed notebook is written to `output` (with what ran so far when a cell fails), and a JSON
status to `status`: {"ok": true, "result": ...}, or {"ok": false, "retryable": ..., "error":
...} with, for a failing cell, "cell" (1-based position in the executed notebook),
"source" (its first line), "ename" and "evalue".
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import traceback
import uuid
from typing import Any

import nbformat
import zmq
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
RESULT_TAG = "result"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class GroupProvisioner(LocalProvisioner):
    """Starts the kernel in this process's group.

    jupyter_client gives a kernel a session of its own, which a timeout that kills the task's
    process group would miss: the kernel (and whatever a cell started) would outlive it.
    """

    kernel: subprocess.Popen[bytes] | None = None  # kept after shutdown, for its exit code

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        kwargs = self._scrub_kwargs(kwargs)
        env = dict(kwargs.pop("env", None) or os.environ)
        env["JPY_PARENT_PID"] = str(os.getpid())  # the kernel also exits if we die alone
        self.process = self.kernel = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, env=env, **kwargs
        )
        self.pid = self.process.pid
        self.pgid = None  # signal the kernel only: its group is ours
        self.cwd = kwargs.get("cwd")
        return self.connection_info


def inject(nb: NotebookNode, parameters: dict[str, Any]) -> None:
    """Papermill's convention: a cell tagged `injected-parameters` with the values, right
    after the cell tagged `parameters` (at the top without one), replacing an earlier one."""
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    tags = {"tags": [INJECTED_TAG]}
    cell = nbformat.v4.new_code_cell(source, metadata=tags)  # type: ignore[no-untyped-call]
    at = next((i + 1 for i, c in enumerate(nb.cells) if PARAMETERS_TAG in _tags(c)), 0)
    nb.cells.insert(at, cell)


def glued_result(nb: NotebookNode) -> Any:
    """The last output of the last cell tagged `result`: its JSON, else its text as a Python
    literal, else the text; None without such a cell."""
    cells = [c for c in nb.cells if c.cell_type == "code" and RESULT_TAG in _tags(c)]
    if not cells:
        return None
    for output in reversed(cells[-1].get("outputs", [])):
        if output.get("output_type") not in ("execute_result", "display_data"):
            continue
        data = output.get("data", {})
        if "application/json" in data:
            return data["application/json"]
        if "text/plain" in data:
            return _literal(data["text/plain"])
    return None


def _literal(text: str) -> Any:
    try:
        value = ast.literal_eval(text)
        json.dumps(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    return value


def _tags(cell: NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def first_line(cell: NotebookNode) -> str:
    line = next((s.strip() for s in cell.source.splitlines() if s.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def execute(job: dict[str, Any]) -> dict[str, Any]:
    try:
        nb = nbformat.read(job["path"], as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:  # nbformat raises many kinds for a file that is not a notebook
        return _failure(f"cannot read the notebook {job['path']}: {exc}", retryable=False)
    if job["parameters"]:
        inject(nb, job["parameters"])
    current = [-1]
    total = len(nb.cells)

    def on_cell_execute(cell: NotebookNode, cell_index: int) -> None:
        current[0] = cell_index
        print(f"executing cell {cell_index + 1}/{total}", flush=True)

    # Our kernel manager, not nbclient's: on SIGTERM nbclient shuts down the kernel it owns
    # and then fails an assertion as it shuts it down a second time.
    km = AsyncKernelManager(
        kernel_name=job["kernel"],
        # Encrypted sockets when possible: nothing to read on the loopback, no warning.
        transport_encryption="auto" if zmq.has("curve") else "disabled",
        kernel_id=str(uuid.uuid4()),
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=job["cell_timeout"],
        resources={"metadata": {"path": job["cwd"]}},
        on_cell_execute=on_cell_execute,
        on_cell_executed=_echo,
    )
    provisioner = None
    try:
        provisioner = GroupProvisioner(
            kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km
        )
        km.provisioner = provisioner
        asyncio.run(_run(client, km))
    except NoSuchKernel:
        return _failure(f"no Jupyter kernel named '{job['kernel']}'", retryable=False)
    except CellExecutionError as exc:
        return _cell_failure(nb, current[0], exc.ename, exc.evalue)
    except CellTimeoutError:
        after = f"{job['cell_timeout']} s (cell_timeout)"
        return _cell_failure(nb, current[0], "CellTimeoutError", f"timed out after {after}")
    except DeadKernelError:
        kernel = provisioner.kernel if provisioner else None
        return _cell_failure(nb, current[0], "DeadKernelError", _death(kernel))
    finally:
        os.makedirs(os.path.dirname(job["output"]) or ".", exist_ok=True)
        nbformat.write(nb, job["output"])  # type: ignore[no-untyped-call]
        print(f"executed notebook saved to {job['output']}", flush=True)
    return {"ok": True, "result": glued_result(nb)}


async def _run(client: NotebookClient, km: AsyncKernelManager) -> None:
    try:
        await client.async_execute()
    finally:
        if km.has_kernel:
            await km.shutdown_kernel()


def _death(kernel: subprocess.Popen[bytes] | None) -> str:
    code = None if kernel is None else kernel.poll()
    if code is None:
        return "the kernel died"
    if code < 0:
        return f"the kernel died (killed by {signal.Signals(-code).name})"
    return f"the kernel died (exit code {code})"


def _echo(cell: NotebookNode, cell_index: int, execute_reply: Any) -> None:
    """A cell's printed output and error into the task's log."""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            stream = sys.stderr if output.name == "stderr" else sys.stdout
            stream.write(output.text)
            stream.flush()
        elif output.output_type == "error":
            print(_ANSI.sub("", "\n".join(output.traceback)), file=sys.stderr, flush=True)


def _cell_failure(nb: NotebookNode, index: int, ename: str, evalue: str) -> dict[str, Any]:
    cell = nb.cells[index] if 0 <= index < len(nb.cells) else None
    if cell is None:
        return _failure(f"{ename}: {evalue}", retryable=True)
    return {
        "ok": False,
        "retryable": True,
        "cell": index + 1,
        "source": first_line(cell),
        "ename": ename,
        "evalue": evalue,
    }


def _failure(message: str, *, retryable: bool) -> dict[str, Any]:
    return {"ok": False, "retryable": retryable, "error": message}


def main(argv: list[str]) -> int:
    (job_path,) = argv
    with open(job_path) as f:
        job = json.load(f)
    try:
        status = execute(job)
    except Exception as exc:
        traceback.print_exc()
        status = _failure(f"{type(exc).__name__}: {exc}", retryable=True)
    with open(job["status"], "w") as f:
        json.dump(status, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
