"""Checks for the labs' exercises: each says *which input*, *expected* and *got*.

A check returns ``True`` and shows a one-line ``✓`` record when the
exercise is right, and raises :class:`CheckFailed` with a specific hint when
it is not (or when the stub still raises ``NotImplementedError``).  In
Jupyter only the hint is shown, not a traceback.  ``minifw lab check``
reads the same records from the executed notebook.

Hints and titles are in the language spoken when the check runs (:mod:`minifw.i18n`; a Chinese notebook's kernel
has ``MINIFW_LANG=zh``): every text goes through ``_()`` with ``str.format`` fields, the exercise titles come from
``minifw.labs.LABS``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from minifw.i18n import _

MIME = "application/vnd.minifw.check+json"


class CheckFailed(AssertionError):
    """An exercise is not right yet; the message is the hint (in the language spoken when it was raised).
    ``stub``: the exercise's code still raises ``NotImplementedError``."""

    def __init__(self, exercise: str, title: str, hint: str, stub: bool = False):
        self.exercise, self.title, self.hint, self.stub = exercise, title, hint, stub
        # minifw.labs.runner parses this line back (its _FAILED pattern knows both languages' forms)
        super().__init__(_("exercise {exercise} ({title}): {hint}").format(exercise=exercise, title=title, hint=hint))

    def _render_traceback_(self) -> list[str]:  # IPython: show the hint, not a traceback
        return [f"\x1b[31m✗ {self}\x1b[0m"]


def _show(exercise: str, title: str, detail: str = "") -> None:
    text = (_("✓ exercise {exercise} ({title}) passed: {detail}") if detail
            else _("✓ exercise {exercise} ({title}) passed")).format(exercise=exercise, title=title, detail=detail)
    record = {"exercise": exercise, "title": title, "ok": True, "detail": detail}
    try:
        from IPython import get_ipython

        if get_ipython() is not None:
            from IPython.display import display

            display({"text/plain": text, MIME: record}, raw=True)
            return
    except ImportError:
        pass
    print(text)


class _Exercise:
    """One exercise being checked; its title is the lab table's (``minifw.labs.LABS``), in the language spoken."""

    def __init__(self, exercise: str):
        from . import get

        self.exercise = exercise
        self.title = dict(get(exercise.split(".")[0]).exercises_in())[exercise]

    def fail(self, hint: str, stub: bool = False):
        raise CheckFailed(self.exercise, self.title, hint, stub)

    def call(self, fn: Callable, *args, where: str = ""):
        """Call the learner's function; a stub or a crash becomes a hint."""
        if not callable(fn):
            self.fail(_("expected a function, got {type}").format(type=type(fn).__name__))
        try:
            return fn(*args)
        except NotImplementedError:
            self.fail(_("not done yet: the exercise cell still raises NotImplementedError; replace the `raise` "
                        "line with your code and run the cell again"), stub=True)
        except CheckFailed:
            raise
        except Exception as e:  # noqa: BLE001  the learner's bug, reported with its input
            self.fail(_("your function raised {error}: {message}").format(error=type(e).__name__, message=e)
                      + (f" ({where})" if where else ""))

    def passed(self, detail: str = "") -> bool:
        _show(self.exercise, self.title, detail)
        return True


def _num(x) -> str:
    return format(float(x), ".6g")


def _close(a, b, rtol=1e-6, atol=1e-9) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=atol)


def _array(x) -> np.ndarray:
    return np.asarray(x.data if hasattr(x, "data") and not isinstance(x, np.ndarray) else x)


# --- lab 1 ------------------------------------------------------------------------------------
def check_dual_rule(softplus_dual: Callable) -> bool:
    """Exercise 1.2: ``softplus_dual(Dual(a, b))`` must be ``Dual(log(1 + e^a), b·σ(a))``."""
    from minifw.autodiff.dual import Dual

    ex = _Exercise("1.2")
    for a in (-3.0, -0.5, 0.0, 0.7, 4.0):
        for b in (1.0, 2.5):
            where = _("input Dual({a}, {b})").format(a=a, b=b)
            got = ex.call(softplus_dual, Dual(a, b), where=where)
            if not isinstance(got, Dual):
                ex.fail(_("{where}: expected a Dual, got {type} {got!r}; return Dual(primal, tangent)").format(
                    where=where, type=type(got).__name__, got=got))
            p, t = math.log1p(math.exp(a)), b / (1 + math.exp(-a))
            if not _close(got.primal, p):
                ex.fail(_("{where}: expected primal softplus({a}) = {p}, got {primal}").format(
                    where=where, a=a, p=_num(p), primal=_num(got.primal)))
            if not _close(got.tangent, t):
                extra = (_(" (the tangent must be scaled by the input's tangent b)") if _close(got.tangent, t / b)
                         else _(" (the tangent is b · softplus'(a), and softplus' is the sigmoid)"))
                ex.fail(_("{where}: expected tangent {t}, got {tangent}{extra}").format(
                    where=where, t=_num(t), tangent=_num(got.tangent), extra=extra))
    return ex.passed(_("primal and tangent right at 10 points"))


# --- a column of an evaluation trace, filled in by hand (exercises 1.1 and 2.1) ----------------------
def _paths(t, start: str, end: str) -> list[tuple[list[str], float]]:
    """Every path ``start -> ... -> end`` through the trace's rows, with the product of its local partials."""
    out_edges: dict = {}
    for r in t.operations:
        for a, p in zip(r.args, r.partials):
            if isinstance(a, str):
                out_edges.setdefault(a, []).append((r.name, p))
    found = []

    def walk(node, names, weight):
        if node == end:
            found.append((names, weight))
            return
        for nxt, p in out_edges.get(node, []):
            walk(nxt, names + [nxt], weight * p)

    walk(start, [start], 1.0)
    return found


def _missing_paths(paths: list, got: float, name) -> str:
    """When ``got`` is the sum over some of several paths, the ones left out, in words."""
    from itertools import combinations

    if len(paths) < 2:
        return ""
    for k in range(len(paths) - 1, 0, -1):
        for kept in combinations(range(len(paths)), k):
            if _close(got, sum(paths[i][1] for i in kept), rtol=1e-4, atol=1e-6):
                left = [" → ".join(map(name, paths[i][0])) for i in range(len(paths)) if i not in kept]
                return _(" -- that counts {k} of the {n} paths; it misses {left}: where several paths join two "
                         "rows, their contributions add").format(k=k, n=len(paths), left=_(" and ").join(left))
    return ""


def _check_column(ex, got, t, column: str, label, name) -> None:
    """``got``: the learner's numbers for ``column`` ("tangent" or "adjoint"), one per row of trace ``t`` in
    its order; checked row by row in the order the sweep computes them."""
    rows = t.rows
    try:
        got = [float(v) for v in got]
    except (TypeError, ValueError):
        ex.fail(_("expected a list of {n_rows} numbers ({rows}), got {got!r}").format(
            n_rows=len(rows), rows=', '.join(label(r) for r in rows), got=got)[:300])
    if len(got) != len(rows):
        ex.fail(_("expected {n_rows} numbers, one per row ({rows}), got {n_got}").format(
            n_rows=len(rows), rows=', '.join(label(r) for r in rows), n_got=len(got)))
    order = list(range(len(rows))) if column == "tangent" else list(reversed(range(len(rows))))
    for i in order:
        r, g = rows[i], got[i]
        want = getattr(r, column)
        if _close(g, want, rtol=1e-4, atol=1e-6):
            continue
        if column == "tangent":  # paths from the inputs (seeded with 1) down to the row
            paths = [p for x in t.inputs for p in _paths(t, x.name, r.name)]
            rule = r.tangent_formula()
        else:  # paths from the row up to the output
            paths = _paths(t, r.name, t.output)
            rule = "; ".join(s.formula() for s in t.reverse_steps if s.target == r.name) or _("it is the output: ȳ = 1")
        ex.fail(_("row {r} ({name} = {expression} = {value}): expected {want}, got {g}{paths}. The rule: "
                  "{rule}").format(
            r=label(r), name=name(r.name), expression=r.expression(), value=_num(r.value), want=_num(want), g=_num(g),
            paths=_missing_paths(paths, g, name), rule=rule))


CS207 = ("x - exp(-2*sin(4*x)**2)", {"x": "pi/16"})  # the course notes' forward-mode example (Harvard CS207)


def check_tangents(tangents) -> bool:
    """Exercise 1.1: the tangent column ``[v̇_0, ..., v̇_6]`` of ``x - exp(-2 sin²(4x))`` at π/16 (seed ẋ = 1),
    predicted before minifw's forward trace is shown; compared with that trace row by row."""
    from minifw.expr import trace

    ex = _Exercise("1.1")
    if callable(tangents):
        tangents = ex.call(tangents)
    t = trace(CS207[0], CS207[1], mode="forward")
    _check_column(ex, tangents, t, "tangent", lambda r: "v̇" + r.name[1:], lambda n: n)
    return ex.passed(_("all {n_rows} tangents right; ẏ = f'(π/16) = {tangent}").format(
        n_rows=len(t.rows), tangent=_num(t.tangent)))


# --- lab 2 ------------------------------------------------------------------------------------
def swish_primitive(vjp_rule: Callable):
    """A one-off (unregistered) ``swish`` primitive whose vjp is ``vjp_rule(g, out, x)``."""
    from minifw.registry import Primitive

    def impl(x):
        x = np.asarray(x)
        return x / (1 + np.exp(-x))

    return Primitive(name="swish", kind="unary", nin=1, impl=impl, shape_rule=lambda s, d, **p: (s[0], d[0]),
                     vjps=[vjp_rule], notation="swish {0}")


def check_vjp(swish_vjp: Callable) -> bool:
    """Exercise 2.2: the vjp rule of ``swish(x) = x·σ(x)``: ``g · (σ + x·σ·(1 - σ))``.

    The rule is installed on a one-off primitive; reverse mode through it is
    compared with central differences (``minifw.testing.gradcheck``)."""
    import minifw as mf
    from minifw import functional as F
    from minifw.testing import gradcheck, numerical_grad

    ex = _Exercise("2.2")
    prim = swish_primitive(swish_vjp)
    rng = np.random.default_rng(0)
    cases = [np.array([0.0, 1.0, -2.0]), np.linspace(-4, 4, 9), rng.standard_normal((3, 4))]
    for x in cases:
        where = _("input x = {x}").format(x=np.array2string(x, precision=3, threshold=12))
        cot = np.linspace(0.5, 1.5, x.size).reshape(x.shape)
        xt = mf.tensor(x, dtype=mf.float64, requires_grad=True)
        y = F.bind(prim, xt)
        ex.call(lambda y=y, cot=cot: y.backward(mf.tensor(cot)), where=where)
        if xt.grad is None:
            ex.fail(_("{where}: no gradient reached x; the rule must return the cotangent of x").format(where=where))
        got = _array(xt.grad)
        if got.shape != x.shape:
            ex.fail(_("{where}: the cotangent has shape {got}, but x has shape {x_shape}").format(
                where=where, got=got.shape, x_shape=x.shape))
        want = numerical_grad(lambda a, c=cot: float(np.sum(prim.impl(a) * c)), [x], 0)
        bad = np.flatnonzero(~np.isclose(got, want, rtol=1e-4, atol=1e-6))
        if bad.size:
            k = int(bad[0])
            hint = ""
            if np.allclose(got, want / cot, rtol=1e-4, atol=1e-6):
                hint = _(" (did you forget to multiply by the incoming cotangent g?)")
            ex.fail(_("{where}, cotangent g = {g}: at x = {x} expected {want}, got {got}{hint}").format(
                where=where, g=_num(cot.reshape(-1)[k]), x=_num(x.reshape(-1)[k]),
                want=_num(want.reshape(-1)[k]), got=_num(got.reshape(-1)[k]), hint=hint))
    try:
        gradcheck(lambda t: F.bind(prim, t), [cases[2]])
    except AssertionError as e:
        ex.fail(str(e))
    return ex.passed(_("matches central differences on 3 inputs; gradcheck passes"))


NOTES_REVERSE = ("x1*x2 + exp(x1*x2)", {"x1": 1.0, "x2": 2.0})  # the course notes' reverse-mode example


def notes_names(t) -> dict:
    """minifw's row names → the notes' numbering x1, x2, x3, ... (inputs first, then operations in order)."""
    return {r.name: f"x{k}" for k, r in enumerate(t.rows, start=1)}


def check_adjoints(adjoints) -> bool:
    """Exercise 2.1: the adjoint column ``[x̄1, ..., x̄5]`` of ``f = x1·x2 + exp(x1·x2)`` at (1, 2) in the notes'
    numbering (x3 = x1·x2, x4 = exp(x3), x5 = x3 + x4), checked against minifw's reverse trace row by row, from
    x̄5 back to x̄1; a wrong row that is the sum over some of its paths is told which path it misses."""
    from minifw.expr import trace

    ex = _Exercise("2.1")
    if callable(adjoints):
        adjoints = ex.call(adjoints)
    t = trace(NOTES_REVERSE[0], NOTES_REVERSE[1], mode="reverse")
    names = notes_names(t)
    _check_column(ex, adjoints, t, "adjoint", lambda r: "x̄" + names[r.name][1:],
                  lambda n: f"{names[n]} ({n})")
    return ex.passed(_("all {n_rows} adjoints right: ∂f/∂x1 = {dx1}, ∂f/∂x2 = {dx2}").format(
        n_rows=len(t.rows), dx1=_num(t.gradient['x1']), dx2=_num(t.gradient['x2'])))


# --- lab 3 ------------------------------------------------------------------------------------
class _counting_jvp:
    """While active, ``minifw.jvp`` (what ``mf.jvp`` finds) counts its calls into ``calls[0]``; ``mf.jacfwd``
    uses the function underneath, so its passes are not counted."""

    def __enter__(self):
        import minifw
        from minifw.autodiff import forward

        self.calls = [0]

        def jvp(*args, **kwargs):
            self.calls[0] += 1
            return forward.jvp(*args, **kwargs)

        self.before = minifw.__dict__.get("jvp")
        minifw.jvp = jvp
        return self.calls

    def __exit__(self, *exc):
        import minifw

        if self.before is None:
            del minifw.jvp
        else:
            minifw.jvp = self.before
        return False


def check_jacfwd(my_jacfwd: Callable) -> bool:
    """Exercise 3.1: ``my_jacfwd(f, x)`` builds the (n, m) Jacobian from m jvps."""
    import minifw as mf

    ex = _Exercise("3.1")
    W = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]])
    cases = [
        ("f(x) = sin(W @ x), R^3 -> R^2", lambda x: mf.sin(W @ x), np.array([0.1, 0.2, 0.3]),
         lambda x: np.cos(W @ x)[:, None] * W),
        ("f(x) = x * x.sum(), R^4 -> R^4", lambda x: x * mf.sum(x), np.array([1.0, -2.0, 0.5, 3.0]),
         lambda x: np.diag(np.full(4, x.sum())) + x[:, None]),
    ]
    for name, f, x, jac in cases:
        where = _("{name} at x = {x}").format(name=name, x=x.tolist())
        with _counting_jvp() as calls:
            got = _array(ex.call(my_jacfwd, f, x, where=where))
        want = jac(x)
        if got.shape != want.shape:
            ex.fail(_("{where}: expected shape {want} (outputs, inputs), got {got}").format(
                where=where, want=want.shape, got=got.shape)
                    + (_(" -- transposed? row i is output i, column j is input j") if got.shape == want.T.shape
                       else ""))
        bad = np.argwhere(~np.isclose(got, want, rtol=1e-8, atol=1e-10))
        if bad.size:
            i, j = map(int, bad[0])
            ex.fail(_("{where}: J[{i}, {j}] = d out_{i} / d x_{j} expected {want}, got {got}").format(
                where=where, i=i, j=j, want=_num(want[i, j]), got=_num(got[i, j])))
        if calls[0] != x.size:
            ex.fail(_("{where}: the Jacobian is right, but mf.jvp was called {calls} times; build it from "
                      "exactly one mf.jvp per input ({size} here), one column each").format(
                          where=where, calls=calls[0], size=x.size)
                    + (_(" -- mf.jacfwd and mf.jacrev build the whole Jacobian for you; the exercise is to do "
                         "what jacfwd does, with mf.jvp (called as mf.jvp)") if calls[0] == 0 else ""))
    return ex.passed(_("both Jacobians right, one jvp per input"))


# --- lab 4 ------------------------------------------------------------------------------------
def check_toy_graph(build: Callable) -> bool:
    """Exercise 4.1: ``build()`` returns ``(graph, a, b, result)`` for result = a·b / (a + b)."""
    from minifw import static

    ex = _Exercise("4.1")
    got = ex.call(build)
    if not (isinstance(got, tuple) and len(got) == 4):
        ex.fail(_("expected build() to return (graph, a, b, result), got {type} {got!r}").format(
            type=type(got).__name__, got=got)[:300])
    g, a, b, result = got
    if not isinstance(g, static.Graph):
        ex.fail(_("the first item should be the static.Graph, got {type}").format(type=type(g).__name__))
    for s, nm in ((a, "a"), (b, "b")):
        if getattr(s, "op", None) != "placeholder":
            ex.fail(_("{nm} should be a static.placeholder (fed at run time), got {got}").format(
                nm=nm, got=getattr(s, 'op', type(s).__name__)))
    with static.Session(g) as sess:
        for av, bv in ((15.0, 5.0), (2.0, 2.0), (1.0, 3.0)):
            out = ex.call(lambda av=av, bv=bv: sess.run(result, {a: av, b: bv}),
                          where=_("feeding a = {av}, b = {bv}").format(av=av, bv=bv))
            want = av * bv / (av + bv)
            if not _close(np.asarray(out).reshape(()), want, rtol=1e-5):
                ex.fail(_("feeding a = {av}, b = {bv}: expected result = a·b/(a+b) = {want}, got {got}").format(
                    av=av, bv=bv, want=_num(want), got=_num(np.asarray(out).reshape(()))))
    return ex.passed(_("3.75 at (15, 5), and right at two more feeds"))


# --- lab 5 ------------------------------------------------------------------------------------
def check_keras_mlp(model: Any) -> bool:
    """Exercise 5.1: a Keras ``Sequential`` 64 -> 32 (relu) -> 10 (softmax)."""
    import minifw as mf

    ex = _Exercise("5.1")
    if callable(model) and not hasattr(model, "add"):
        model = ex.call(model)
    if not hasattr(model, "count_params") and not hasattr(model, "num_parameters"):
        ex.fail(_("expected a keras.Sequential model, got {type}").format(type=type(model).__name__))
    n = model.count_params() if hasattr(model, "count_params") else model.num_parameters()
    want = 64 * 32 + 32 + 32 * 10 + 10
    if n != want:
        ex.fail(_("expected {want:,} parameters (64·32 + 32 weights and biases, then 32·10 + 10), got {n:,}: "
                  "are the layer widths 32 and 10?").format(want=want, n=n))
    x = np.linspace(-1, 1, 5 * 64, dtype=np.float32).reshape(5, 64)
    out = ex.call(lambda: model.predict(x) if hasattr(model, "predict") else model(mf.tensor(x)),
                  where=_("predicting on 5 rows of 64"))
    out = _array(out)
    if out.shape != (5, 10):
        ex.fail(_("predicting on 5 rows of 64: expected output shape (5, 10), got {shape}").format(shape=out.shape))
    if not np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
        ex.fail(_("predicting on 5 rows of 64: each row should be probabilities summing to 1 (softmax output), "
                  "row 0 sums to {sum}").format(sum=_num(out[0].sum())))
    if not hasattr(model, "get_weights"):
        ex.fail(_("expected a keras.Sequential model (with get_weights), got {type}").format(type=type(model).__name__))
    w1, b1, w2, b2 = (np.asarray(w, np.float64) for w in model.get_weights())
    w1, w2 = (w if w.shape[0] == k else w.T for w, k in ((w1, 64), (w2, 32)))  # (in, out), whatever the layout

    def through(act):
        z = act(x.astype(np.float64) @ w1 + b1) @ w2 + b2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    hidden = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh, "sigmoid": lambda h: 1 / (1 + np.exp(-h)),
              "none (linear)": lambda h: h}
    if not np.allclose(out, through(hidden["relu"]), rtol=1e-3, atol=1e-5):
        seen = next((k for k, act in hidden.items() if np.allclose(out, through(act), rtol=1e-3, atol=1e-5)), None)
        ex.fail(_("predicting on 5 rows of 64 (values from -1 to 1): the outputs are not softmax(relu(x W1 + "
                  "b1) W2 + b2) with your model's own weights: ")
                + (_("the hidden layer's activation is {seen}, and the exercise asks for relu "
                     "(activation=\"relu\")").format(seen=seen) if seen
                   else _("is the hidden layer a relu Dense layer?")))
    return ex.passed(_("{n:,} parameters, relu hidden layer, softmax outputs").format(n=n))


# --- lab 6 ------------------------------------------------------------------------------------
def unfused_chain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The chain the fused kernel must reproduce: four numpy passes, three temporaries."""
    a = x * y
    b = a + 1.0
    c = b * x
    return c - y


def check_fused_kernel(fused: Callable, n_time: int = 1_000_000, repeats: int = 7) -> bool:
    """Exercise 6.1: ``fused(x, y, out)`` writes ``(x·y + 1)·x - y`` in one pass.

    Right values are not enough: on ``n_time`` elements the kernel is timed against the unfused numpy chain,
    interleaved, and must beat it (median of ``repeats``), without allocating temporaries the size of the
    arrays (a numpy expression does; fusion is what removes them)."""
    ex = _Exercise("6.1")
    rng = np.random.default_rng(0)
    for n in (1, 7, 1000):
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        out = np.full(n, np.nan, np.float32)
        ex.call(fused, x, y, out, where=_("n = {n} float32 elements").format(n=n))
        want = unfused_chain(x, y)
        bad = np.flatnonzero(~np.isclose(out, want, rtol=1e-5, atol=1e-5))
        if bad.size:
            k = int(bad[0])
            unset = _(" (never written: does your loop cover every element?)") if np.isnan(out[k]) else ""
            ex.fail(_("n = {n}: at index {k} (x = {x}, y = {y}) expected {want}, got {out}{unset}").format(
                n=n, k=k, x=_num(x[k]), y=_num(y[k]), want=_num(want[k]), out=_num(out[k]), unset=unset))
    x = rng.standard_normal(n_time).astype(np.float32)
    y = rng.standard_normal(n_time).astype(np.float32)
    out = np.empty_like(x)
    t_fused, t_chain = _interleaved(lambda: fused(x, y, out), lambda: unfused_chain(x, y), repeats)
    ratio = t_chain / max(t_fused, 1e-12)
    times = (_("at {n_time:,} elements, median of {runs} interleaved runs: yours {t_fused:.3g} ms, the "
               "unfused chain {t_chain:.3g} ms ({ratio:.2f}x)").format(
                   n_time=n_time, runs=len(_TIMES), t_fused=t_fused * 1e3, t_chain=t_chain * 1e3, ratio=ratio))
    temp = _temporaries(fused, x, y, out)
    if temp:
        ex.fail(_("right values, but your function allocated {temp:.3g} MB of temporary arrays: that is numpy "
                  "evaluating the chain one operation at a time, not one fused pass. Write the loop (`for i in "
                  "prange(x.shape[0]): out[i] = ...`) under @njit(parallel=True); {times}").format(
                      temp=temp / 1e6, times=times))
    if ratio <= 1.0:
        ex.fail(_("right values, but not faster than the unfused chain: {times}. A fused kernel must beat it: "
                  "is it compiled (@njit(parallel=True), the loop over prange)?").format(times=times))
    return ex.passed(_("right on 3 sizes; {times}").format(times=times))


_TIMES: list = []


def _interleaved(fn: Callable, ref: Callable, repeats: int) -> tuple[float, float]:
    """Median seconds of ``fn()`` and ``ref()`` timed alternately (so both see the same machine load); one
    warm-up call each, and a single round when ``fn`` is clearly the slower (a Python loop)."""
    fn(), ref()
    t_fn, t_ref = [], []
    for k in range(repeats):
        for f, ts in ((fn, t_fn), (ref, t_ref)):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        if k == 0 and t_fn[0] > 10 * t_ref[0]:
            break
    _TIMES[:] = t_fn
    return float(np.median(t_fn)), float(np.median(t_ref))


def _temporaries(fused: Callable, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> int:
    """Bytes of array-sized temporaries ``fused`` allocates (numpy reports its buffers to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fused(x, y, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak if peak >= x.nbytes // 2 else 0


# --- lab 7 ------------------------------------------------------------------------------------
def check_confusion_matrix(confusion_matrix: Callable) -> bool:
    """Exercise 7.1: ``confusion_matrix(y_true, y_pred, n_classes)[i, j]`` counts class i predicted as j."""
    ex = _Exercise("7.1")
    rng = np.random.default_rng(1)
    cases = [(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), 3),
             (np.array([1, 1, 1]), np.array([0, 0, 1]), 2),
             (rng.integers(0, 10, 200), rng.integers(0, 10, 200), 10)]
    for yt, yp, k in cases:
        where = f"y_true = {yt.tolist()[:8]}{'...' if len(yt) > 8 else ''}, " \
                f"y_pred = {yp.tolist()[:8]}{'...' if len(yp) > 8 else ''}, n_classes = {k}"
        got = _array(ex.call(confusion_matrix, yt, yp, k, where=where))
        want = np.zeros((k, k), np.int64)
        np.add.at(want, (yt, yp), 1)
        if got.shape != want.shape:
            ex.fail(_("{where}: expected a {k}x{k} matrix, got shape {shape}").format(
                where=where, k=k, shape=got.shape))
        if np.array_equal(got, want.T) and not np.array_equal(got, want):
            ex.fail(_("{where}: your matrix is transposed; row i is the true class, column j the prediction").format(
                where=where))
        bad = np.argwhere(got != want)
        if bad.size:
            i, j = map(int, bad[0])
            ex.fail(_("{where}: entry [{i}, {j}] (true {i} predicted as {j}) expected {want}, got {got}").format(
                where=where, i=i, j=j, want=want[i, j], got=got[i, j]))
    return ex.passed(_("right on 3 cases"))


# --- lab 8 ------------------------------------------------------------------------------------
def branchy(x):
    """The eager reference: a Python branch on a value."""
    import minifw as mf

    return x * 2.0 if float(mf.sum(x)) > 0 else -x


def check_jit_friendly(fn: Callable) -> bool:
    """Exercise 8.1: ``fn`` computes :func:`branchy` without a Python branch, so ``mf.jit(fn)`` is right
    for inputs on both sides of the branch, with one trace per shape."""
    import minifw as mf
    from minifw.static import TracingError

    ex = _Exercise("8.1")
    jitted = mf.jit(fn)
    cases = [np.array([1.0, 2.0, -0.5], np.float32), np.array([-1.0, -2.0, 0.5], np.float32),
             np.array([3.0, -3.5, 0.25], np.float32)]
    for x in cases:
        where = _("x = {x} (sum {sum:g})").format(x=x.tolist(), sum=float(x.sum()))
        try:
            got = _array(jitted(x))
        except TracingError as e:
            ex.fail(_("{where}: tracing failed ({e}); a Python `if` needs a value the graph does not have yet: "
                      "compute both branches and choose with mf.where(condition, a, b)").format(where=where, e=e))
        except NotImplementedError:
            ex.call(fn, x)
            raise
        except Exception as e:  # noqa: BLE001
            ex.fail(_("{where}: mf.jit(fn) raised {type}: {e}").format(where=where, type=type(e).__name__, e=e))
        want = _array(branchy(mf.tensor(x)))
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6):
            ex.fail(_("{where}: expected {want}, got {got}").format(
                where=where, want=want.tolist(), got=got.tolist())
                    + (_(" -- the branch was frozen at trace time") if np.allclose(got, -want) else ""))
    if jitted.trace_count != 1:
        ex.fail(_("expected one trace for one input shape, got {trace_count}").format(trace_count=jitted.trace_count))
    return ex.passed(_("right on both sides of the branch, traced once"))


# --- lab 11 -----------------------------------------------------------------------------------
def read_scalar_series(logdir) -> dict:
    """Every scalar curve under ``logdir``, read back by TensorBoard's own ``EventAccumulator``:
    ``{"run/tag": [(step, value), ...]}`` (``add_scalars`` writes one run, a subfolder, per curve)."""
    import os

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = {}
    for folder, _dirs, files in os.walk(str(logdir)):
        if not any("tfevents" in f for f in files):
            continue
        acc = EventAccumulator(folder, size_guidance={"scalars": 0})
        acc.Reload()
        run = os.path.relpath(folder, str(logdir))
        for tag in acc.Tags().get("scalars", []):
            out[f"{run}/{tag}"] = [(e.step, e.value) for e in acc.Scalars(tag)]
    return out


class _Constant:
    """A stand-in model that answers ``digit`` for every input (its per-class accuracy is 1 there, 0 elsewhere)."""

    training = False

    def __init__(self, digit: int):
        self.digit = digit

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def __call__(self, x):
        import minifw as mf

        n = len(_array(x))
        logits = np.zeros((n, 10), np.float32)
        logits[:, self.digit] = 1.0
        return mf.tensor(logits)


def check_class_accuracy(log_class_accuracy: Callable, model: Any, x: np.ndarray, y: np.ndarray) -> bool:
    """Exercise 11.1: ``log_class_accuracy(writer, model, x, y, step)`` logs, for each digit d, the fraction of the
    examples of true class d that ``model`` classifies right, as scalars at ``step``.

    The learner's function writes into a fresh folder; the event files are read back with TensorBoard's reader
    and each curve is compared with the model's true per-class accuracy (the trained model on all of ``x``, on
    half of it, and a model that always answers 3)."""
    import re
    import tempfile

    from minifw.tensorboard import SummaryWriter
    from minifw.tensorboard.callbacks import predict_classes

    ex = _Exercise("11.1")
    x, y = np.asarray(x), np.asarray(y)
    half = len(y) // 2
    cases = [(1, model, x, y, _("the trained model on the test set")),
             (2, model, x[:half], y[:half], _("the trained model on the first {n} test examples").format(n=half)),
             (3, _Constant(3), x, y, _("a model that always answers 3"))]
    want: dict[int, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as logdir:
        writer = SummaryWriter(logdir)
        try:
            for step, m, xs, ys, what in cases:
                ex.call(log_class_accuracy, writer, m, xs, ys, step, where=_("step {step}, {what}").format(
                    step=step, what=what))
                pred = np.asarray(predict_classes(m, xs)) if m is model else np.full(len(ys), 3)
                want[step] = {d: float(np.mean(pred[ys == d] == d)) for d in range(10)}
        finally:
            writer.close()
        series = read_scalar_series(logdir)
    if not series:
        ex.fail(_("the event files hold no scalars: log each class with writer.add_scalar(tag, value, step) "
                  "(or writer.add_scalars(main_tag, {digit: value}, step))"))
    by_digit: dict[int, list] = {}
    for name, points in series.items():
        digits = re.findall(r"\d+", name.split("/", 1)[1] if name.startswith("./") else name)
        if digits and 0 <= int(digits[-1]) <= 9:
            by_digit.setdefault(int(digits[-1]), []).append((name, points))
    if sorted(by_digit) != list(range(10)):
        ex.fail(_("expected one curve per digit 0-9 (a tag or add_scalars key ending in the digit), found the "
                  "curves {series}").format(series=sorted(series)[:12]))
    for d, found in sorted(by_digit.items()):
        if len(found) > 1:
            ex.fail(_("digit {d} has several curves ({curves}); log exactly one scalar per class").format(
                d=d, curves=[n for n, _points in found]))
        name, points = found[0]
        got = dict(points)
        if sorted(got) != sorted(want):
            ex.fail(_("curve {name!r}: expected one point at each step {want} (the step argument), got steps "
                      "{got}").format(name=name, want=sorted(want), got=sorted(got)))
        for step, _model, xs, ys, what in cases:
            w = want[step][d]
            if not _close(got[step], w, rtol=1e-5, atol=1e-6):
                pred = (np.asarray(predict_classes(model, xs)) if step < 3 else np.full(len(ys), 3))
                overall = float(np.mean(pred == ys))
                precision = float(np.mean(ys[pred == d] == d)) if np.any(pred == d) else float("nan")
                why = (_(" -- that is the overall accuracy, not class d's") if _close(got[step], overall, 1e-5, 1e-6)
                       else _(" -- that is the precision (right among those *predicted* d); the accuracy of "
                              "class d counts the examples whose *true* label is d")
                       if _close(got[step], precision, 1e-5, 1e-6) else "")
                ex.fail(_("curve {name!r} at step {step} ({what}): expected the accuracy on true class {d} = "
                          "{w}, got {got}{why}").format(
                              name=name, step=step, what=what, d=d, w=_num(w), got=_num(got[step]), why=why))
    return ex.passed(_("10 curves read back from the event files, right at 3 steps (30 values)"))


# --- lab 10 -----------------------------------------------------------------------------------
def _rank_gradients():
    """Gradients of the lab-5 MLP on the two halves of a batch of 32 digits (a simulated 2-rank step) and on
    the whole batch: their average must be the whole batch's gradient."""
    import minifw as mf
    from minifw.compat.styles import MLP, digits_for
    from minifw.nn import functional as NF

    (x, y), _ = digits_for("mlp")
    mf.manual_seed(0)
    net = MLP()

    def grads(lo, hi):
        net.zero_grad()
        NF.cross_entropy(net(mf.tensor(x[lo:hi])), mf.tensor(y[lo:hi])).backward()
        return [p.grad.numpy().astype(np.float64) for p in net.parameters()]

    return [grads(0, 16), grads(16, 32)], grads(0, 32)


def check_average_gradients(average_gradients: Callable) -> bool:
    """Exercise 10.1: ``average_gradients(rank_grads)`` returns, for each parameter, the mean over the ranks
    of their gradients (an allreduce-sum, then a division by the number of ranks), leaving the input alone."""
    ex = _Exercise("10.1")
    rng = np.random.default_rng(10)
    halves, whole = _rank_gradients()
    three = [[rng.normal(size=s) for s in ((3, 2), (2,), (4,))] for _ in range(3)]
    cases = [(_("the MLP's gradients on the two halves of a batch of 32 (2 ranks)"), halves, whole, 1e-5),
             (_("3 ranks, random gradients of shapes (3, 2), (2,), (4,)"), three, None, 1e-12),
             (_("1 rank"), three[:1], None, 1e-12)]
    for where, rank_grads, truth, tol in cases:
        world = len(rank_grads)
        want = [np.mean([g[i] for g in rank_grads], axis=0) for i in range(len(rank_grads[0]))]
        if truth is not None:  # the point of averaging: the mean of the halves' gradients is the whole batch's
            assert all(np.allclose(w, t, atol=1e-5) for w, t in zip(want, truth))
        copies = [[g.copy() for g in grads] for grads in rank_grads]
        got = ex.call(average_gradients, copies, where=where)
        if isinstance(got, (list, tuple)) and got and all(isinstance(g, (list, tuple)) for g in got):
            ex.fail(_("{where}: expected one list of gradients, got {n_got} lists (one list per rank?); return "
                      "the gradients every rank holds after the allreduce, one array per parameter").format(
                          where=where, n_got=len(got)))
        try:
            got = [np.asarray(g, dtype=np.float64) for g in got]
        except (TypeError, ValueError):
            ex.fail(_("{where}: expected a list of numpy arrays (one per parameter), got {type}").format(
                where=where, type=type(got).__name__))
        if len(got) != len(want):
            ex.fail(_("{where}: expected {n_want} gradients (one per parameter), got {n_got}").format(
                where=where, n_want=len(want), n_got=len(got)))
        for i, (g, w) in enumerate(zip(got, want)):
            if g.shape != w.shape:
                ex.fail(_("{where}: gradient {i} should have shape {want}, got {got}").format(
                    where=where, i=i, want=w.shape, got=g.shape))
            if not np.allclose(g, w, rtol=tol, atol=tol):
                summed = w * world
                if world > 1 and np.allclose(g, summed, rtol=tol, atol=tol):
                    ex.fail(_("{where}: gradient {i} is the SUM over the {world} ranks, not the mean; an "
                              "allreduce sums, so divide by the number of ranks ({world}) afterwards").format(
                                  where=where, i=i, world=world))
                k = np.unravel_index(np.argmax(np.abs(g - w)), w.shape)
                ex.fail(_("{where}: gradient {i} at {index} expected {w}, got {g}").format(
                    where=where, i=i, index=tuple(map(int, k)), w=_num(w[k]), g=_num(g[k])))
        if any(not np.array_equal(c, r) for cs, rs in zip(copies, rank_grads) for c, r in zip(cs, rs)):
            ex.fail(_("{where}: your function changed the ranks' input gradients (an in-place += on rank 0's "
                      "arrays?); sum into new arrays").format(where=where))
    return ex.passed(_("the mean over 2, 3 and 1 ranks; on 2 ranks it is the whole batch's gradient"))


__all__ = ["CheckFailed", "MIME", "check_dual_rule", "check_tangents", "check_adjoints", "CS207", "NOTES_REVERSE",
           "notes_names", "check_vjp", "check_jacfwd", "check_toy_graph",
           "check_keras_mlp", "check_fused_kernel", "check_confusion_matrix", "check_jit_friendly",
           "swish_primitive", "unfused_chain", "branchy", "check_class_accuracy", "read_scalar_series",
           "check_average_gradients"]


# --- lab 9 ------------------------------------------------------------------------------------
def check_predict_request(request_body: Callable, labels: Callable, url: str, model: Any, images: np.ndarray) -> bool:
    """Exercise 9.1: ``request_body(images)`` is a row-format predict request that the server at ``url`` (a
    ``...:predict`` URL serving ``model``) accepts, and ``labels(answer)`` reads the class labels from its answer;
    they must equal ``model``'s own predictions on those images."""
    import httpx

    import minifw as mf

    ex = _Exercise("9.1")
    images = np.asarray(images, np.float32)
    for picks in (slice(0, 5), slice(7, 8), slice(20, 37)):
        x = images[picks]
        n = len(x)
        where = _("images[{start}:{stop}], shape {shape}").format(start=picks.start, stop=picks.stop, shape=x.shape)
        body = ex.call(request_body, x, where=where)
        if not isinstance(body, dict):
            ex.fail(_("{where}: request_body should return a dict (the JSON object), got {type}").format(
                where=where, type=type(body).__name__))
        if "instances" not in body:
            ex.fail(_("{where}: expected the row format {{\"instances\": [...]}}, got keys {body}").format(
                where=where, body=sorted(body))
                    + (_("; {\"inputs\": ...} is the columnar format") if "inputs" in body else ""))
        inst = body["instances"]
        if not isinstance(inst, list):
            ex.fail(_("{where}: \"instances\" should be a list (JSON has no numpy arrays: use .tolist()), got "
                      "{type}").format(where=where, type=type(inst).__name__))
        if len(inst) != n:
            ex.fail(_("{where}: expected {n} instances (one per image), got {n_inst}").format(
                where=where, n=n, n_inst=len(inst)))
        try:
            r = httpx.post(url, json=body, timeout=30)
        except TypeError as e:
            ex.fail(_("{where}: the body is not JSON ({e}); convert numpy arrays and numbers with .tolist()").format(
                where=where, e=e))
        if r.status_code != 200:
            ex.fail(_("{where}: the server answered {status_code}: {text}").format(
                where=where, status_code=r.status_code, text=r.text[:300]))
        got = _array(ex.call(labels, r.json(), where=_("the server's answer to {where}").format(where=where)))
        with mf.no_grad():
            want = np.asarray(model(mf.tensor(x.reshape(n, -1))).numpy()).argmax(1)
        if got.ndim == 2 and got.shape[0] == n and got.shape[1] > 1:
            ex.fail(_("{where}: labels returned an array of shape {shape}: those are the scores; a label is "
                      "the index of the largest score in each row").format(where=where, shape=got.shape))
        if got.shape != want.shape:
            ex.fail(_("{where}: expected {n} labels, got an array of shape {shape}").format(
                where=where, n=n, shape=got.shape))
        if not np.array_equal(got, want):
            k = int(np.flatnonzero(got != want)[0])
            ex.fail(_("{where}: image {k} of these: the model predicts {predicted}, your labels say {label!r} "
                      "(expected {want}, got {got})").format(
                          where=where, k=k, predicted=int(want[k]), label=got.tolist()[k], want=want.tolist(),
                          got=got.tolist()))
    return ex.passed(_("the server's labels equal the model's own predictions on 3 sets of images"))



__all__ += ["check_predict_request"]
