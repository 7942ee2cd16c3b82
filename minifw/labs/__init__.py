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
from minifw.i18n import N_, gettext

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
    exercises: tuple  # ((id, English title), ...); exercises_in(lang) gives them translated
    title_zh: str = ""
    langs: tuple = ("en",)  # the languages its source is complete in (labs/build.py --check holds it to that)

    @property
    def filename(self) -> str:
        return self.file("en")

    @property
    def path(self) -> Path:
        """The (English) solution notebook inside the installed package."""
        return NOTEBOOK_DIR / self.filename

    def file(self, lang: str = "en") -> str:
        """The notebook's file name in ``lang``: ``01_dual_numbers.ipynb``, ``01_dual_numbers.zh.ipynb``."""
        return f"{self.number:02d}_{self.slug}" + ("" if lang == "en" else f".{lang}") + ".ipynb"

    def solution_path(self, lang: str = "en") -> Path:
        return NOTEBOOK_DIR / self.file(lang)

    def title_in(self, lang: str) -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title

    def exercises_in(self, lang: str | None = None) -> tuple:
        """``((id, title), ...)`` with the titles in ``lang`` (default: the current language)."""
        return tuple((ex_id, gettext(title, lang)) for ex_id, title in self.exercises)


LABS: tuple[Lab, ...] = (
    Lab(1, "dual_numbers", "Derivatives by hand and by dual numbers", "20-30",
        (("1.1", N_("the tangent column, predicted")), ("1.2", N_("the dual rule for softplus"))), "手算导数与对偶数",
        langs=("en", "zh")),
    Lab(2, "reverse_mode", "Reverse mode and adjoints", "25-35",
        (("2.1", N_("the adjoint column, by hand")), ("2.2", N_("a vjp rule for swish, checked by gradcheck"))),
        "反向模式与伴随",
        langs=("en", "zh")),
    Lab(3, "forward_vs_reverse", "Forward vs reverse cost: Jacobians and the crossover", "20-30",
        (("3.1", N_("a Jacobian from one jvp per input")),), "前向与反向的代价：雅可比矩阵与交叉点",
        langs=("en", "zh")),
    Lab(4, "eager_vs_static", "Eager vs static: a tape, a graph, the passes, the benchmark", "30-40",
        (("4.1", N_("the toy graph in TensorFlow-1 style")),), "动态图与静态图：记录带、计算图、编译遍与基准测试",
        langs=("en", "zh")),
    Lab(5, "five_frameworks", "Five frameworks, one network", "25-35",
        (("5.1", N_("a Keras-style 64-32-10 network")),), "五个框架，同一个网络",
        langs=("en", "zh")),
    Lab(6, "kernels", "Kernels: a Python loop, a numba CPU kernel, a CUDA kernel", "30-40",
        (("6.1", N_("a fused kernel for (x*y + 1)*x - y")),), "内核：Python 循环、numba CPU 内核、CUDA 内核",
        langs=("en", "zh")),
    Lab(7, "training_digits", "Training on handwritten digits, with pictures", "25-35",
        (("7.1", N_("a confusion matrix")),), "在手写数字上训练，配图",
        langs=("en", "zh")),
    Lab(8, "jit_pitfalls", "jit and its pitfalls: tracing, caching by shape, what gets frozen", "20-30",
        (("8.1", N_("a branch that survives jit")),), "jit 及其陷阱：追踪、按形状缓存、被冻结的东西",
        langs=("en", "zh")),
    Lab(9, "deploy", "Deploy: ONNX and TensorFlow Serving's REST API", "25-35",
        (("9.1", N_("a predict request and its labels")),), "部署：ONNX 与 TensorFlow Serving 的 REST API",
        langs=("en", "zh")),
    Lab(10, "distributed", "Distributed training: PyTorch's DDP vs TF's manual placement", "30-40",
        (("10.1", N_("averaging gradients by hand")),), "分布式训练：PyTorch 的 DDP 与 TF 的手动放置",
        langs=("en", "zh")),
    Lab(11, "tensorboard", "Seeing training: TensorBoard vs Visdom", "25-35",
        (("11.1", N_("per-class test accuracy as scalars")),), "看见训练：TensorBoard 与 Visdom",
        langs=("en", "zh")),
    # the build-it-yourself track: the learner writes the pieces, lab 17 trains the digits with them
    Lab(12, "build_dual", "Build it yourself: dual numbers", "30-40",
        (("12.1", N_("dual arithmetic: + - * with the product rule")),
         ("12.2", N_("sin, exp and log of a dual number")),
         ("12.3", N_("derivatives and gradients by seeding tangents"))), "自己动手：对偶数", ("en", "zh")),
    Lab(13, "build_tape", "Build it yourself: a tape and a reverse sweep", "35-45",
        (("13.1", N_("add and mul on the tape, with broadcasting")), ("13.2", N_("matmul, relu and sum on the tape")),
         ("13.3", N_("a topological order of the tape")), ("13.4", N_("the reverse sweep"))),
        "自己动手：记录带与反向扫描", ("en", "zh")),
    Lab(14, "build_session", "Build it yourself: a Graph and a Session", "35-45",
        (("14.1", N_("the execution order: inputs first, only what is needed")),
         ("14.2", N_("Session.run: feed, execute in order, fetch")), ("14.3", N_("constant folding"))),
        "自己动手：计算图与会话", ("en", "zh")),
    Lab(15, "build_fusion", "Build it yourself: kernel fusion", "30-40",
        (("15.1", N_("the fusion pass's schedule: inputs and steps")), ("15.2", N_("the text of one fused kernel")),
         ("15.3", N_("fuse: one numba kernel per chain"))), "自己动手：算子融合", ("en", "zh")),
    Lab(16, "build_allreduce", "Build it yourself: all-reduce and data parallelism", "30-40",
        (("16.1", N_("ring all-reduce")), ("16.2", N_("average the replicas' gradients")),
         ("16.3", N_("a data-parallel SGD step"))), "自己动手：全归约与数据并行", ("en", "zh")),
    Lab(17, "build_capstone", "Build it yourself: your pieces train the digits network", "30-40",
        (("17.1", N_("bias + ReLU: a tape op run by your fused kernel")),
         ("17.2", N_("predict through your Session")), ("17.3", N_("your pieces train the digits MLP to >= 95%"))),
        "自己动手：用你的部件训练手写数字网络", ("en", "zh")),
)


def get(number: int | str) -> Lab:
    """A lab by number (``3``, ``"3"``, ``"03"``) or slug."""
    for lab in LABS:
        if str(number).lstrip("0") == str(lab.number) or str(number) == lab.slug:
            return lab
    raise NoSuchLabError(f"no lab {number!r}; labs are {', '.join(str(lab.number) for lab in LABS)} "
                     "(see `minifw lab list`)")


def lang_for(lab: Lab, lang: str | None = None) -> str:
    """The language to use for ``lab``: ``lang`` if given (refused if the lab is not written in it yet), else
    the environment's (:func:`minifw.i18n.current`), falling back to English where the lab has no such copy."""
    from minifw import i18n

    if lang is not None:
        lang = i18n.normalize(lang, strict=True)
        if lang not in lab.langs:
            raise LabError(f"lab {lab.number} is not written in {lang!r} yet; it is in {', '.join(lab.langs)}")
        return lang
    env = i18n.current()
    return env if env in lab.langs else "en"


def solution(number: int | str, lang: str | None = "en") -> dict:
    """The solution notebook (JSON as a dict), in ``lang`` (``None``: the environment's language)."""
    lab = get(number)
    path = lab.solution_path(lang_for(lab, lang))
    if not path.exists():
        raise LabFileError(f"lab {lab.number}'s notebook is missing from this install ({path})")
    return notebooks.read(path)


def learner(number: int | str, lang: str | None = "en") -> dict:
    """The learner's notebook: solution blocks replaced by stubs."""
    return notebooks.learner_copy(solution(number, lang))


def new(number: int | str, directory: str | Path = ".", overwrite: bool = False, lang: str | None = None) -> Path:
    """Write a fresh learner copy of lab ``number`` into ``directory``; returns its path.

    Refuses to overwrite an existing copy (a learner's work) unless ``overwrite``.  ``lang`` (``"en"`` or
    ``"zh"``; default: the environment's) picks the language; the Chinese copy is ``NN_slug.zh.ipynb``."""
    lab = get(number)
    lang = lang_for(lab, lang)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / lab.file(lang)
    if path.exists() and not overwrite:
        raise LabExistsError(f"{path} already exists (your work?); pass a different directory, or overwrite "
                             f"it on purpose (`minifw lab new {lab.number} {directory} --force`, or overwrite=True)")
    return notebooks.write(learner(number, lang), path)


def find_copy(number: int | str, directory: str | Path = ".", lang: str | None = None) -> Path:
    """The learner's copy of lab ``number`` in ``directory`` (or a notebook path given directly): the one in
    ``lang`` if given, else the environment's language's, else whichever exists."""
    lab = get(number)
    p = Path(directory)
    if p.suffix == ".ipynb":
        if not p.exists():
            raise LabFileError(f"no notebook at {p}")
        return p
    order = [lang_for(lab, lang)] if lang is not None else list(dict.fromkeys([lang_for(lab), *lab.langs]))
    for candidate in order:
        if (p / lab.file(candidate)).exists():
            return p / lab.file(candidate)
    raise LabFileError(f"no {lab.file(order[0])} in {p.resolve()}; make one with `minifw lab new "
                       f"{lab.number} {p}`")


from .runner import ExerciseResult, check, run_notebook  # noqa: E402

__all__ = ["LABS", "Lab", "get", "solution", "learner", "new", "find_copy", "check", "run_notebook",
           "ExerciseResult", "CheckFailed", "notebooks", "LabError", "NoSuchLabError", "LabFileError",
           "LabExistsError", "lang_for"]
