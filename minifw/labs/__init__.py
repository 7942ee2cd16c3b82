"""``minifw.labs``: the Jupyter lessons, their learner copies and their checks.

The notebooks shipped in ``minifw/labs/notebooks/`` are the *solutions* (built
from ``labs/*.py`` by ``python labs/build.py``).  A learner works on a copy
with the solution blocks replaced by stubs (:func:`new`); :func:`check` runs a
notebook headless and reports each exercise.

>>> [lab.number for lab in LABS][:3]
[1, 2, 3]
>>> LABS[0].exercises[0][0]
'1.1'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minifw.errors import MinifwError

from . import notebooks
from .checks import CheckFailed


class LabError(MinifwError):
    """A lab that does not exist, or a learner's copy that is missing or would be overwritten."""


class NoSuchLabError(LabError, ValueError):
    pass


class LabFileError(LabError, FileNotFoundError):
    pass


class LabExistsError(LabError, FileExistsError):
    pass

NOTEBOOK_DIR = Path(__file__).parent / "notebooks"


@dataclass(frozen=True)
class Lab:
    number: int
    slug: str
    title: str
    minutes: str
    exercises: tuple  # ((id, title), ...)

    @property
    def filename(self) -> str:
        return f"{self.number:02d}_{self.slug}.ipynb"

    @property
    def path(self) -> Path:
        """The solution notebook inside the installed package."""
        return NOTEBOOK_DIR / self.filename


LABS: tuple[Lab, ...] = (
    Lab(1, "dual_numbers", "Derivatives by hand and by dual numbers", "20-30",
        (("1.1", "the dual rule for softplus"),)),
    Lab(2, "reverse_mode", "Reverse mode and adjoints", "25-35",
        (("2.1", "a vjp rule for swish, checked by gradcheck"),)),
    Lab(3, "forward_vs_reverse", "Forward vs reverse cost: Jacobians and the crossover", "20-30",
        (("3.1", "a Jacobian from one jvp per input"),)),
    Lab(4, "eager_vs_static", "Eager vs static: a tape, a graph, the passes, the benchmark", "30-40",
        (("4.1", "the toy graph in TensorFlow-1 style"),)),
    Lab(5, "five_frameworks", "Five frameworks, one network", "25-35",
        (("5.1", "a Keras-style 64-32-10 network"),)),
    Lab(6, "kernels", "Kernels: a Python loop, a numba CPU kernel, a CUDA kernel", "30-40",
        (("6.1", "a fused kernel for (x*y + 1)*x - y"),)),
    Lab(7, "training_digits", "Training on handwritten digits, with pictures", "25-35",
        (("7.1", "a confusion matrix"),)),
    Lab(8, "jit_pitfalls", "jit and its pitfalls: tracing, caching by shape, what gets frozen", "20-30",
        (("8.1", "a branch that survives jit"),)),
    Lab(9, "deploy", "Deploy: ONNX and TensorFlow Serving's REST API", "25-35",
        (("9.1", "a predict request and its labels"),)),
    Lab(10, "distributed", "Distributed training: PyTorch's DDP vs TF's manual placement", "30-40",
        (("10.1", "averaging gradients by hand"),)),
    Lab(11, "tensorboard", "Seeing training: TensorBoard vs Visdom", "25-35",
        (("11.1", "per-class test accuracy as scalars"),)),
)


def get(number: int | str) -> Lab:
    """A lab by number (``3``, ``"3"``, ``"03"``) or slug."""
    for lab in LABS:
        if str(number).lstrip("0") == str(lab.number) or str(number) == lab.slug:
            return lab
    raise NoSuchLabError(f"no lab {number!r}; labs are {', '.join(str(lab.number) for lab in LABS)} "
                     "(see `minifw lab list`)")


def solution(number: int | str) -> dict:
    """The solution notebook (JSON as a dict)."""
    lab = get(number)
    if not lab.path.exists():
        raise LabFileError(f"lab {lab.number}'s notebook is missing from this install ({lab.path})")
    return notebooks.read(lab.path)


def learner(number: int | str) -> dict:
    """The learner's notebook: solution blocks replaced by stubs."""
    return notebooks.learner_copy(solution(number))


def new(number: int | str, directory: str | Path = ".", overwrite: bool = False) -> Path:
    """Write a fresh learner copy of lab ``number`` into ``directory``; returns its path.

    Refuses to overwrite an existing copy (a learner's work) unless ``overwrite``."""
    lab = get(number)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / lab.filename
    if path.exists() and not overwrite:
        raise LabExistsError(f"{path} already exists (your work?); pass a different directory, or overwrite "
                              f"it on purpose (`minifw lab new {lab.number} {directory} --force`, or overwrite=True)")
    return notebooks.write(learner(number), path)


def find_copy(number: int | str, directory: str | Path = ".") -> Path:
    """The learner's copy of lab ``number`` in ``directory`` (or a notebook path given directly)."""
    lab = get(number)
    p = Path(directory)
    if p.suffix == ".ipynb":
        if not p.exists():
            raise LabFileError(f"no notebook at {p}")
        return p
    path = p / lab.filename
    if not path.exists():
        raise LabFileError(f"no {lab.filename} in {p.resolve()}; make one with `minifw lab new "
                                f"{lab.number} {p}`")
    return path


from .runner import ExerciseResult, check, run_notebook  # noqa: E402

__all__ = ["LABS", "Lab", "get", "solution", "learner", "new", "find_copy", "check", "run_notebook",
           "ExerciseResult", "CheckFailed", "notebooks", "LabError", "NoSuchLabError", "LabFileError",
           "LabExistsError"]
