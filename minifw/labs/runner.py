"""Run a lab notebook headless (nbclient) and read each exercise's result.

Every cell runs even after an error (``allow_errors``), so one unfinished
exercise does not hide the others.  A check that passes leaves a
``application/vnd.minifw.check+json`` record; one that fails leaves a
``CheckFailed`` error whose message is the hint.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from minifw.errors import MinifwError

from .checks import MIME

# a failed check's message (CheckFailed), in English or in Chinese: "exercise 1.2 (title): hint",
# "练习 1.2（title）：hint"
_FAILED = re.compile(r"^(?:exercise|练习) ([^\s(（]+) ?[(（](.*?)[)）][:：] ?(.*)$", re.S)  # a title may hold ( )


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    status: str  # "passed", "failed", "not reached"
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "passed"


@dataclass
class RunReport:
    path: Path
    seconds: float
    exercises: list = field(default_factory=list)  # ExerciseResult, in the lab's order
    errors: list = field(default_factory=list)  # (cell index, "Name: message") other than failed checks
    notebook: dict | None = None

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.exercises) and not self.errors


def _need_nbclient():
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:
        raise MinifwError("running a notebook needs nbclient, nbformat and ipykernel: "
                           "minifw depends on them, so reinstall it: pip install minifw") from None


def run_notebook(path: str | Path, timeout: int = 300, allow_errors: bool = True) -> tuple[dict, float]:
    """Execute the notebook at ``path`` (in its own folder); returns (executed notebook, seconds).
    The file itself is not changed."""
    _need_nbclient()
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    lang = nb.get("metadata", {}).get("minifw", {}).get("lang", "en")  # the checks' hints speak it too
    with tempfile.TemporaryDirectory(prefix="minifw-kernel-") as sockets:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                                kernel_manager_class=_ipc_kernel_manager(sockets, {"MINIFW_LANG": lang}),
                                resources={"metadata": {"path": str(path.parent.resolve())}})
        t0 = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - t0


def _ipc_kernel_manager(folder: str, env: dict):
    """A kernel manager that talks to the kernel over Unix sockets in ``folder``: the kernel is local, so
    TCP buys nothing, and over TCP ipykernel warns on every start that it runs "without encryption".
    ``env`` is added to the kernel's environment."""
    import os

    from jupyter_client.manager import KernelManager

    class IPCKernelManager(KernelManager):
        def __init__(self, **kw):
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", str(Path(folder) / "kernel"))
            super().__init__(**kw)

        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**os.environ, **(kw.get("env") or {}), **env}
            return await super()._async_pre_start_kernel(**kw)

    return IPCKernelManager


def read_results(nb: dict, expected: tuple = ()) -> tuple[list[ExerciseResult], list[tuple[int, str]]]:
    """Exercise results and other errors from an executed notebook."""
    found: dict[str, ExerciseResult] = {}
    errors: list[tuple[int, str]] = []
    for k, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            data = out.get("data", {})
            if MIME in data:
                rec = data[MIME]
                found.setdefault(rec["exercise"], ExerciseResult(rec["exercise"], rec["title"], "passed",
                                                                 rec.get("detail", "")))
            elif out.get("output_type") == "error":
                m = _FAILED.match(out.get("evalue", "")) if out.get("ename") == "CheckFailed" else None
                if m:
                    found.setdefault(m.group(1), ExerciseResult(m.group(1), m.group(2), "failed", m.group(3)))
                else:
                    errors.append((k, f"{out.get('ename')}: {out.get('evalue')}"))
    results = []
    for ex_id, title in expected:
        results.append(found.pop(ex_id, None) or ExerciseResult(
            ex_id, title, "not reached",
            "its check cell did not run to a result" + (f" (first error: cell {errors[0][0]}: {errors[0][1]})"
                                                        if errors else "")))
    results += list(found.values())
    return results, errors


def check(number: int | str, path: str | Path | None = None, timeout: int = 300,
          lang: str | None = None) -> RunReport:
    """Run lab ``number``'s notebook at ``path`` (default: the learner's copy in the
    current folder; ``lang`` picks the English or the Chinese copy) and report each exercise."""
    from . import find_copy, get

    lab = get(number)
    path = find_copy(lab.number, path if path is not None else ".", lang)
    nb, seconds = run_notebook(path, timeout=timeout)
    results, errors = read_results(nb, lab.exercises_in(nb.get("metadata", {}).get("minifw", {}).get("lang", "en")))
    # a stub's NotImplementedError in an exercise cell is expected while a check reports it
    failed = any(not r.ok for r in results)
    errors = [e for e in errors if not (failed and e[1].startswith("NotImplementedError: exercise"))]
    return RunReport(path, seconds, results, errors, nb)


__all__ = ["ExerciseResult", "RunReport", "run_notebook", "read_results", "check"]

