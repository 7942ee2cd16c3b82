"""Checks for the build-it-yourself track (labs 12-17): the learner writes the pieces, these test them.

Each check takes the learner's piece (a class or a function written in the notebook), runs it on
several inputs and compares with numpy, central differences or a reference written here, and
raises :class:`~minifw.labs.checks.CheckFailed` with a hint that names the input, the expected
value and what the piece gave.  Where a piece is built from an earlier task's piece, the check
builds its inputs through the piece's *protocol* (the constructor the lab gives) rather than
the learner's earlier code, so a mistake is reported where it is made.

:func:`load_pieces` brings the pieces of labs 13-16 into lab 17 (the capstone): it runs the cells
marked :data:`PIECE` from the learner's own notebooks in a folder, and from minifw's reference
solutions for a lab whose notebook is not there.
"""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path
from typing import Callable

import numpy as np

from minifw.i18n import N_, _

from .checks import CheckFailed, _Exercise, _num

PIECE = "# part of your build: lab 17 runs this cell"
PIECE_LABS = {13: "tape", 14: "session", 15: "fusion", 16: "allreduce"}


class _Task(_Exercise):
    """An exercise whose stub may sit in an earlier task's cell: "not done yet" names the function that still
    raises NotImplementedError (``topo_order``, while checking ``backward``)."""

    def call(self, fn: Callable, *args, where: str = ""):
        try:
            return super().call(fn, *args, where=where)
        except CheckFailed as e:
            if not e.stub or e.__context__ is None:
                raise
            tb = e.__context__.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            code = tb.tb_frame.f_code
            name = getattr(code, "co_qualname", code.co_name).split("<locals>.")[-1]  # 3.11+: Session.run
            if name.startswith("<"):
                raise
            self.fail(_("not done yet: {name}() still raises NotImplementedError; replace the `raise` line in its "
                        "cell with your code and run that cell again").format(name=name), stub=True)


def _arr(x, n: int = 8) -> str:
    return np.array2string(np.asarray(x, dtype=float), precision=4, threshold=n, suppress_small=True)


def _numerical(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place (float64)."""
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        up = f()
        x[k] = old - h
        down = f()
        x[k] = old
        g[k] = (up - down) / (2 * h)
    return g


def _first_bad(got, want, rtol=1e-6, atol=1e-8) -> str:
    got, want = np.asarray(got, float), np.asarray(want, float)
    k = np.unravel_index(int(np.argmax(np.abs(got - want) - rtol * np.abs(want))), want.shape)
    if want.ndim:
        return _(" at index {index} expected {want}, got {got}").format(index=tuple(map(int, k)), want=_num(want[k]),
                                                                        got=_num(got[k]))
    return _(" expected {want}, got {got}").format(want=_num(want[k]), got=_num(got[k]))


def _same(got, want, rtol=1e-6, atol=1e-8) -> bool:
    got = np.asarray(got, float)
    return got.shape == np.shape(want) and bool(np.allclose(got, want, rtol=rtol, atol=atol))


# --- lab 12: dual numbers ---------------------------------------------------------------------
def _dual(ex: _Task, Dual, a, b, where):
    d = ex.call(Dual, a, b, where=where)
    if not (hasattr(d, "primal") and hasattr(d, "tangent")):
        ex.fail(_("{where}: Dual({a}, {b}) should have .primal and .tangent, got {type}").format(
            where=where, a=a, b=b, type=type(d).__name__))
    return d


def _expect_dual(ex, got, p, t, where, tangent_hint=""):
    if not (hasattr(got, "primal") and hasattr(got, "tangent")):
        ex.fail(_("{where}: expected a Dual, got {type} {got!r}").format(
            where=where, type=type(got).__name__, got=got)[:300])
    if not math.isclose(got.primal, p, rel_tol=1e-9, abs_tol=1e-12):
        ex.fail(_("{where}: expected primal {p}, got {primal}").format(where=where, p=_num(p), primal=_num(got.primal)))
    if not math.isclose(got.tangent, t, rel_tol=1e-9, abs_tol=1e-12):
        ex.fail(_("{where}: expected tangent {t}, got {tangent}{tangent_hint}").format(
            where=where, t=_num(t), tangent=_num(got.tangent), tangent_hint=tangent_hint))


def check_dual_arithmetic(Dual) -> bool:
    """Exercise 12.1: ``+``, ``-`` and ``*`` of dual numbers, with plain numbers on either side."""
    ex = _Task("12.1")
    for (a, b), (c, d) in (((2.0, 1.0), (5.0, 0.0)), ((-1.5, 2.0), (0.5, -3.0)), ((3.0, 0.25), (3.0, 4.0))):
        x, y = _dual(ex, Dual, a, b, "making a Dual"), _dual(ex, Dual, c, d, "making a Dual")
        name = f"Dual({a}, {b}) and Dual({c}, {d})"
        _expect_dual(ex, ex.call(lambda x=x, y=y: x + y, where=f"{name}: x + y"), a + c, b + d, f"{name}: x + y")
        _expect_dual(ex, ex.call(lambda x=x, y=y: x - y, where=f"{name}: x - y"), a - c, b - d, f"{name}: x - y")
        prod = ex.call(lambda x=x, y=y: x * y, where=f"{name}: x * y")
        hint = ""
        if hasattr(prod, "tangent") and math.isclose(prod.tangent, a * d, abs_tol=1e-12) and b * c:
            hint = _(" (only a·d: the product rule has two terms, a·d + b·c)")
        elif hasattr(prod, "tangent") and math.isclose(prod.tangent, b * d, abs_tol=1e-12) and b * d:
            hint = _(" (that is b·d, the ε² term, which is 0: the tangent of a product is a·d + b·c)")
        _expect_dual(ex, prod, a * c, a * d + b * c, f"{name}: x * y", hint)
        for expr, fn, p, t in (("3 + x", lambda x=x: 3 + x, 3 + a, b), ("x + 3", lambda x=x: x + 3, a + 3, b),
                               ("2 * x", lambda x=x: 2 * x, 2 * a, 2 * b),
                               ("x * 2", lambda x=x: x * 2, 2 * a, 2 * b), ("1 - x", lambda x=x: 1 - x, 1 - a, -b)):
            where = f"x = Dual({a}, {b}): {expr}"
            hint = _(" -- a plain number is a Dual with tangent 0; define the __r...__ method too") if "x" != expr[0] \
                else _(" -- a plain number is a Dual with tangent 0")
            try:
                got = fn()
            except TypeError as e:
                ex.fail(_("{where} raised TypeError ({e}){hint}").format(where=where, e=e, hint=hint))
            except NotImplementedError:
                ex.call(fn)  # says "not done yet"
            _expect_dual(ex, got, p, t, where)
    return ex.passed(_("sums, differences, products, with numbers on either side"))


def check_dual_functions(sin, exp, log, Dual) -> bool:
    """Exercise 12.2: ``sin``, ``exp`` and ``log`` of a dual: ``g(a + εb) = g(a) + ε b g'(a)``."""
    ex = _Task("12.2")
    rules = (("sin", sin, math.sin, math.cos), ("exp", exp, math.exp, math.exp), ("log", log, math.log,
                                                                                  lambda a: 1 / a))
    for name, fn, g, dg in rules:
        for a, b in ((0.5, 1.0), (2.0, -3.0), (1.25, 0.5)):
            where = f"{name}(Dual({a}, {b}))"
            got = ex.call(fn, _dual(ex, Dual, a, b, where), where=where)
            hint = ""
            if hasattr(got, "tangent") and math.isclose(got.tangent, dg(a), rel_tol=1e-9) and b != 1:
                hint = _(" -- that is {name}'({a}) alone: multiply by the input's tangent b = {b} (the chain "
                         "rule)").format(name=name, a=a, b=b)
            _expect_dual(ex, got, g(a), b * dg(a), where, hint)
        if ex.call(fn, 0.5, where=f"{name}(0.5)") != g(0.5):
            ex.fail(_("{name}(0.5) on a plain float should be math.{name}(0.5) = {want}").format(
                name=name, want=_num(g(0.5))))
    return ex.passed(_("3 rules at 3 points each, and plain floats pass through"))


def check_derivative(derivative, gradient, sin, exp, log) -> bool:
    """Exercise 12.3: ``derivative(f, x)`` seeds one tangent; ``gradient(f, xs)`` runs one pass per input."""
    ex = _Task("12.3")
    one = (("x·sin(x) + exp(x)", lambda x: x * sin(x) + exp(x), 0.7),
           ("log(x)·x - 3", lambda x: log(x) * x - 3, 2.5),
           ("x - exp(-2·sin(4x)·sin(4x))", lambda x: x - exp(-2 * sin(4 * x) * sin(4 * x)), math.pi / 16))
    for name, f, x in one:
        where = _("f(x) = {name} at x = {x}").format(name=name, x=_num(x))
        got = ex.call(derivative, f, x, where=where)
        want = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            ex.fail(_("{where}: expected a float (the tangent of the output), got {type} {got!r}").format(
                where=where, type=type(got).__name__, got=got)[:300])
        if math.isclose(got, f(x), rel_tol=1e-9):
            ex.fail(_("{where}: got f(x) = {got}, the primal; return the output's tangent").format(
                where=where, got=_num(got)))
        if not math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-7):
            ex.fail(_("{where}: expected f'(x) ≈ {want} (central difference), got {got}").format(
                where=where, want=_num(want), got=_num(got))
                    + (_(" -- seed the input's tangent with 1") if got == 0 else ""))
    calls = []

    def f2(x, y, z):
        calls.append(1)
        return x * y + sin(z) * x

    xs = [1.5, -2.0, 0.3]
    where = _("f(x, y, z) = x·y + sin(z)·x at (1.5, -2, 0.3)")
    got = ex.call(gradient, f2, xs, where=where)
    want = [xs[1] + math.sin(xs[2]), xs[0], math.cos(xs[2]) * xs[0]]
    try:
        got = [float(g) for g in got]
    except (TypeError, ValueError):
        ex.fail(_("{where}: expected a list of 3 floats, got {got!r}").format(where=where, got=got)[:300])
    if len(got) != 3 or not np.allclose(got, want, rtol=1e-9):
        ex.fail(_("{where}: expected the gradient {want}, got {got}").format(
            where=where, want=_arr(want), got=_arr(got))
                + (_(" -- seed one input at a time: tangent 1 for input i, 0 for the others") if len(got) == 3
                   and math.isclose(sum(got), sum(want)) is False and all(math.isclose(g, sum(want)) for g in got)
                   else ""))
    if len(calls) != 3:
        ex.fail(_("{where}: f was called {n_calls} times; forward mode needs one pass per input (3 here)").format(
            where=where, n_calls=len(calls)))
    return ex.passed(_("3 derivatives match central differences; the gradient takes one pass per input"))


# --- lab 13: a tape and a reverse sweep ---------------------------------------------------------
def _op_cases(ex, Tensor, cases):
    """Each case: (name (English, N_-marked where it has words), build(*tensors) -> Tensor, numpy f(*arrays),
    input arrays)."""
    rng = np.random.default_rng(13)
    for label, build, f, inputs in cases:
        name = _(label)
        ts = [ex.call(Tensor, x.copy(), where=f"Tensor({_arr(x)})") for x in inputs]
        where = _("{name} with inputs of shapes {shapes}").format(name=name, shapes=[x.shape for x in inputs])
        out = ex.call(build, *ts, where=where)
        if not hasattr(out, "data") or not hasattr(out, "parents"):
            ex.fail(_("{where}: expected a Tensor, got {type}").format(where=where, type=type(out).__name__))
        want = f(*inputs)
        if not _same(out.data, want):
            ex.fail(_("{where}: the value").format(where=where) + (_(" has shape {data}, expected {want}").format(
                data=np.shape(out.data), want=np.shape(want))
                                             if np.shape(out.data) != np.shape(want) else _first_bad(out.data, want)))
        if out.vjp is None or len(out.parents) == 0:
            ex.fail(_("{where}: the result has no parents or no vjp: record Tensor(value, parents, vjp)").format(
                where=where))
        g = rng.standard_normal(np.shape(want))
        cots = ex.call(out.vjp, g, where=_("{where}: calling its vjp").format(where=where))
        cots = list(cots) if isinstance(cots, (tuple, list)) else [cots]
        if len(cots) != len(out.parents):
            ex.fail(_("{where}: the vjp returned {n_cots} cotangent(s) for {n_parents} parent(s)").format(
                where=where, n_cots=len(cots), n_parents=len(out.parents)))
        per_input: dict[int, list] = {}
        for p, c in zip(out.parents, cots):  # an input used twice (a * a) gets the sum of its cotangents
            k = next((i for i, t in enumerate(ts) if t is p), None)
            if k is None:
                ex.fail(_("{where}: a parent is not one of the inputs (record the Tensors themselves as "
                          "parents)").format(where=where))
            per_input.setdefault(k, []).append(np.asarray(c, float))
        for k, cs in per_input.items():
            c = cs[0] if len(cs) == 1 or any(x.shape != cs[0].shape for x in cs) else sum(cs)
            x = inputs[k].copy()
            args = list(inputs)
            args[k] = x

            def loss(args=args, g=g, f=f):
                return float(np.sum(f(*args) * g))

            want_c = _numerical(loss, x)
            if c.shape != x.shape:
                extra = (_(" -- numpy broadcast this input; sum the cotangent over the broadcast axes "
                           "(unbroadcast(g, shape))") if c.size > x.size else "")
                ex.fail(_("{where}: the cotangent of input {k} has shape {got}, but the input has shape "
                          "{want}{extra}").format(where=where, k=k, got=c.shape, want=x.shape, extra=extra))
            if not _same(c, want_c, rtol=1e-5, atol=1e-6):
                swapped = False
                if len(inputs) == 2 and inputs[0].shape == inputs[1].shape:
                    other = list(inputs)
                    other[1 - k] = other[1 - k].copy()
                    swapped = _same(c, _numerical(lambda o=other, g=g, f=f: float(np.sum(f(*o) * g)), other[1 - k]),
                                    1e-5, 1e-6)
                ex.fail(_("{where}, cotangent g = {g}: d/d input {k}").format(
                    where=where, g=_arr(g, 4), k=k) + _first_bad(c, want_c, 1e-5, 1e-6)
                        + (_(" -- the other input's cotangent? each input's partial uses the *other* input's "
                             "value")
                           if swapped else ""))


def check_tape_elementwise(Tensor) -> bool:
    """Exercise 13.1: ``a + b`` and ``a * b`` record their parents and a vjp (broadcasting included)."""
    ex = _Task("13.1")
    rng = np.random.default_rng(1)
    a, b, row = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal(3)
    _op_cases(ex, Tensor, [
        ("a + b", lambda x, y: x + y, np.add, [a, b]),
        ("a * b", lambda x, y: x * y, np.multiply, [a, b]),
        (N_("a + row (a row broadcast over 2 rows)"), lambda x, y: x + y, np.add, [a, row]),
        ("a * row", lambda x, y: x * y, np.multiply, [a, row]),
        ("a * a", lambda x: x * x, lambda x: x * x, [a]),
    ])
    return ex.passed(_("values and vjps of +, * (broadcast too) match central differences"))


def check_tape_ops(Tensor) -> bool:
    """Exercise 13.2: ``a @ b``, ``relu`` and ``sum``."""
    ex = _Task("13.2")
    rng = np.random.default_rng(2)
    a, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    r = np.array([[-1.0, 0.5, 2.0], [0.3, -0.2, -3.0]])
    _op_cases(ex, Tensor, [
        ("a @ w", lambda x, y: x @ y, np.matmul, [a, w]),
        ("relu(a)", lambda x: x.relu(), lambda x: np.maximum(x, 0), [r]),
        ("a.sum()", lambda x: x.sum(), np.sum, [a]),
    ])
    return ex.passed(_("values and vjps of @, relu and sum match central differences"))


def _chain(Tensor, n):
    x = Tensor(np.array(1.0))
    t = x
    for _k in range(n):
        t = Tensor(t.data, (t,), lambda g: (g,))
    return x, t


def check_topo_order(topo_order, Tensor) -> bool:
    """Exercise 13.3: ``topo_order(root)``: every node reachable from ``root`` once, parents before children,
    without recursion (a chain of 3,000 nodes)."""
    ex = _Task("13.3")
    T = Tensor
    x, y = T(np.array(2.0), name="x"), T(np.array(3.0), name="y")
    a = T(np.array(6.0), (x, y), None, name="a")
    b = T(np.array(5.0), (x, y), None, name="b")
    c = T(np.array(30.0), (a, b), None, name="c")
    d = T(np.array(32.0), (c, x), None, name="d")
    unrelated = T(np.array(0.0), (x,), None, name="unrelated")
    chain_x, chain_top = _chain(T, 3000)
    for label, root, nodes in ((N_("the diamond x, y -> a, b -> c -> d (x used three times)"), d,
                                [x, y, a, b, c, d]),
                               (N_("a single leaf"), x, [x]), (N_("a chain of 3,000 nodes"), chain_top, None)):
        name = _(label)
        try:
            order = topo_order(root)
        except RecursionError:
            ex.fail(_("{name}: RecursionError -- walk the graph with an explicit stack, not recursion (Python "
                      "stops at {limit} nested calls)").format(
                          name=name, limit=sys.getrecursionlimit()))
        except NotImplementedError:
            ex.call(topo_order, root)
            raise
        except Exception as e:  # noqa: BLE001  the learner's bug, reported with its input
            ex.fail(_("{name}: your function raised {type}: {e}").format(name=name, type=type(e).__name__, e=e))
        order = list(order)
        ids = [id(t) for t in order]
        if len(set(ids)) != len(ids):
            ex.fail(_("{name}: a node appears {times} times; mark nodes as visited so each comes once").format(
                name=name, times=max(ids.count(i) for i in ids)))
        if unrelated in order:
            ex.fail(_("{name}: the order holds a node that is not an ancestor of the root (it used x, not the "
                      "other way round): walk from the root to its parents").format(name=name))
        want = nodes if nodes is not None else None
        if want is not None and set(map(id, want)) != set(ids):
            names = [getattr(t, "name", "?") for t in order]
            ex.fail(_("{name}: expected the nodes {want} in some order, got {names}").format(
                name=name, want=[t.name for t in want], names=names))
        pos = {i: k for k, i in enumerate(ids)}
        for t in order:
            for p in t.parents:
                if pos.get(id(p), -1) > pos[id(t)]:
                    ex.fail(_("{name}: {parent} comes after its child {child} -- parents first (is the list "
                              "reversed?)").format(
                                  name=name, parent=getattr(p, 'name', '') or 'a parent',
                                  child=getattr(t, 'name', '') or ''))
        if order[-1] is not root:
            ex.fail(_("{name}: the root should come last, after everything it depends on").format(name=name))
        if nodes is None and (len(order) != 3001 or order[0] is not chain_x):
            ex.fail(_("{name}: expected 3,001 nodes from the leaf up, got {n_order}").format(
                name=name, n_order=len(order)))
    return ex.passed(_("the diamond, a leaf, and a chain of 3,000 nodes"))


def check_backward(backward, Tensor) -> bool:
    """Exercise 13.4: ``backward(root)`` seeds ``root.grad`` with ones and sweeps the tape in reverse, adding
    each node's cotangents into its parents' ``.grad``.  Graphs are built here through the Tensor constructor,
    so the check tests the sweep alone."""
    ex = _Task("13.4")
    T = Tensor

    def mul(a, b):
        return T(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data))

    def add(a, b):
        return T(a.data + b.data, (a, b), lambda g: (g, g))

    def total(a):
        return T(a.data.sum(), (a,), lambda g: (np.ones_like(a.data) * g,))

    def sin(a):
        return T(np.sin(a.data), (a,), lambda g: (g * np.cos(a.data),))

    cases = [
        (N_("sum(x·y + x) (x on two paths)"), lambda x, y: total(add(mul(x, y), x)), lambda x, y: np.sum(x * y + x)),
        (N_("sum(sin(x·y)·x + y) (x and y on two paths each)"), lambda x, y: total(add(mul(sin(mul(x, y)), x), y)),
         lambda x, y: np.sum(np.sin(x * y) * x + y)),
        ("sum(x·x·x·y)", lambda x, y: total(mul(mul(mul(x, x), x), y)), lambda x, y: np.sum(x * x * x * y)),
    ]
    rng = np.random.default_rng(4)
    for label, build, f in cases:
        name = _(label)
        xv, yv = rng.standard_normal(3), rng.standard_normal(3)
        x, y = T(xv.copy()), T(yv.copy())
        root = build(x, y)
        where = _("{name} at x = {xv}, y = {yv}").format(name=name, xv=_arr(xv), yv=_arr(yv))
        ex.call(backward, root, where=where)
        for nm, t, k in (("x", x, 0), ("y", y, 1)):
            args = [xv.copy(), yv.copy()]
            want = _numerical(lambda args=args, f=f: float(f(*args)), args[k])
            if t.grad is None:
                ex.fail(_("{where}: {nm}.grad is None; every node the root depends on should get a gradient").format(
                    where=where, nm=nm))
            got = np.asarray(t.grad, float)
            if not _same(got, want, 1e-5, 1e-6):
                hint = ""
                if "two paths" in label:
                    hint = (_(" -- when a node feeds several others, its adjoint is the SUM over those paths: "
                              "add into .grad (p.grad = g if p.grad is None else p.grad + g), do not overwrite "
                              "it"))
                ex.fail(f"{where}: {nm}.grad" + _first_bad(got, want, 1e-5, 1e-6) + hint)
        if not _same(root.grad, np.ones_like(root.data)):
            ex.fail(_("{where}: root.grad should be the seed, ones of the root's shape, got {grad!r}").format(
                where=where, grad=root.grad))
    return ex.passed(_("gradients of 3 functions (shared subexpressions too) match central differences"))


# --- lab 14: Graph and Session ---------------------------------------------------------------------
def _graph(ns):
    """A small graph built with the lab's given constructors: y = relu(x @ w + b) * s, s = 2 * 3."""
    x, w = ns["placeholder"]("x"), ns["constant"](np.array([[1.0, -2.0], [0.5, 1.0]]), "w")
    b = ns["constant"](np.array([0.25, 0.5]), "b")
    h = ns["relu"](x @ w + b)
    s = ns["constant"](2.0, "two") * ns["constant"](3.0, "three")
    return x, h, h * s, s


def _reference_run(node, feed, OPS, memo=None):
    memo = {} if memo is None else memo
    stack = [(node, False)]
    while stack:
        n, ready = stack.pop()
        if id(n) in memo:
            continue
        if n.op == "placeholder":
            memo[id(n)] = np.asarray(feed[n.name], float)
        elif n.op == "constant":
            memo[id(n)] = np.asarray(n.value, float)
        elif ready:
            memo[id(n)] = OPS[n.op](*(memo[id(i)] for i in n.inputs))
        else:
            stack.append((n, True))
            stack.extend((i, False) for i in n.inputs if id(i) not in memo)
    return memo[id(node)]


def _nodes(roots) -> list:
    seen, stack, out = set(), list(roots), []
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
            stack.extend(n.inputs)
    return out


def check_execution_order(execution_order, ns: dict) -> bool:
    """Exercise 14.1: ``execution_order(fetches)``: the nodes the fetches need, each once, inputs first
    (Kahn's algorithm), and nothing they do not need."""
    ex = _Task("14.1")
    x, h, y, s = _graph(ns)
    unused = ns["relu"](x)  # built, never fetched
    chain = ns["placeholder"]("z")
    for _k in range(3000):
        chain = ns["relu"](chain)
    for label, fetches in ((N_("fetching y = relu(x @ w + b) * (2 * 3)"), [y]),
                           (N_("fetching [h, y, s] (y uses h and s)"), [h, y, s]),
                           (N_("fetching a chain of 3,000 relus"), [chain])):
        name = _(label)
        got = ex.call(execution_order, fetches, where=name)
        try:
            got = list(got)
        except TypeError:
            ex.fail(_("{name}: expected a list of nodes, got {type}").format(name=name, type=type(got).__name__))
        ids = [id(n) for n in got]
        want = _nodes(fetches)
        if len(set(ids)) != len(ids):
            ex.fail(_("{name}: a node appears more than once; each node runs once however many nodes use it").format(
                name=name))
        if unused in got or (set(ids) - set(map(id, want))):
            ex.fail(_("{name}: the order holds a node the fetches do not need (prune: walk back from the "
                      "fetches)").format(name=name))
        if set(ids) != set(map(id, want)):
            ex.fail(_("{name}: expected the {n_want} nodes the fetches depend on, got {n_got}").format(
                name=name, n_want=len(want), n_got=len(got)))
        pos = {i: k for k, i in enumerate(ids)}
        for n in got:
            for i in n.inputs:
                if pos[id(i)] > pos[id(n)]:
                    ex.fail(_("{name}: node {n!r} comes before its input {i!r} -- inputs first (reversed?)").format(
                        name=name, n=n, i=i)[:400])
    return ex.passed(_("right on 3 graphs; unneeded nodes pruned; no recursion limit"))


def _counting(fn, key, calls):
    def counted(*args):
        calls.append(key)
        return fn(*args)

    return counted


def check_session(Session, ns: dict) -> bool:
    """Exercise 14.2: ``Session().run(fetches, feed_dict)`` evaluates in the execution order, each node once per
    run, a single fetch giving an array and a list giving a list, and a missing feed named."""
    ex = _Task("14.2")
    OPS = ns["OPS"]
    x, h, y, s = _graph(ns)
    calls: list[str] = []
    saved = dict(OPS)
    for k, fn in saved.items():
        OPS[k] = _counting(fn, k, calls)
    try:
        sess = ex.call(Session, where="Session()")
        for xv in (np.array([[1.0, 2.0]]), np.array([[-1.0, 0.5], [3.0, -2.0], [0.0, 0.0]])):
            where = f"sess.run(y, {{x: {_arr(xv)}}})"
            calls.clear()
            got = ex.call(sess.run, y, {x: xv}, where=where)
            want = _reference_run(y, {"x": xv}, saved)
            if isinstance(got, (list, tuple)):
                ex.fail(_("{where}: fetching one node should give its array, not a {type}").format(
                    where=where, type=type(got).__name__))
            if not _same(got, want):
                ex.fail(_("{where}: expected {want}, got {got}").format(where=where, want=_arr(want), got=_arr(got)))
            n_ops = len([n for n in _nodes([y]) if n.op not in ("placeholder", "constant")])
            if len(calls) != n_ops:
                ex.fail(_("{where}: {n_calls} ops ran for a graph of {n_ops} op nodes; run each node once, in "
                          "the execution order, keeping its value for the nodes that use it").format(
                              where=where, n_calls=len(calls), n_ops=n_ops))
            where = f"sess.run([h, y, h], {{x: {_arr(xv)}}})"
            calls.clear()
            got = ex.call(sess.run, [h, y, h], {x: xv}, where=where)
            if not isinstance(got, (list, tuple)) or len(got) != 3:
                ex.fail(_("{where}: expected a list of 3 arrays, got {type}").format(
                    where=where, type=type(got).__name__))
            for k, (g, n) in enumerate(zip(got, [h, y, h])):
                if not _same(g, _reference_run(n, {"x": xv}, saved)):
                    ex.fail(_("{where}: fetch {k}: expected {n}, got {g}").format(
                        where=where, k=k, n=_arr(_reference_run(n, {'x': xv}, saved)), g=_arr(g)))
            if len(calls) != n_ops:
                ex.fail(_("{where}: {n_calls} ops ran; fetching h twice (and y, which uses h) should still run "
                          "each of the {n_ops} op nodes once").format(where=where, n_calls=len(calls), n_ops=n_ops))
        where = _("sess.run(y, {}) without feeding x")
        try:
            sess.run(y, {})
        except NotImplementedError:
            ex.call(sess.run, y, {})
        except Exception as e:  # noqa: BLE001  a refusal is what we want; it must name the placeholder
            if "x" not in str(e).replace("exercise", ""):
                ex.fail(_("{where}: the error ({type}: {e}) should name the placeholder 'x' that needs a value").format(
                    where=where, type=type(e).__name__, e=e))
        else:
            ex.fail(_("{where}: expected an error that names the missing placeholder 'x', got a result").format(
                where=where))
    finally:
        OPS.update(saved)
    return ex.passed(_("values right, each node once per run, a missing feed named"))


def check_fold_constants(fold_constants, ns: dict) -> bool:
    """Exercise 14.3: ``fold_constants(fetches)`` returns new fetches in which every op node whose inputs are all
    constants (after folding) is one constant; placeholders and what depends on them stay; the input graph is
    left alone."""
    ex = _Task("14.3")
    OPS, P, C = ns["OPS"], ns["placeholder"], ns["constant"]
    x = P("x")
    seven = C(2.0) * C(3.0) + C(1.0)
    deep = ns["relu"](C(np.array([-1.0, 2.0])) * C(np.array([3.0, 4.0])) - C(1.0))
    cases = [("y = x * (2 * 3 + 1)", [x * seven], 1), ("y = relu([-1, 2] * [3, 4] - 1) + x", [deep + x], 1),
             (N_("y = x * x (nothing to fold)"), [x * x], 1), (N_("y = 2 * 3 + 1 (all constant)"), [seven], 0)]
    for label, fetches, n_ops_left in cases:
        name = _(label)
        before = [(n, n.op, tuple(n.inputs)) for n in _nodes(fetches)]
        got = ex.call(fold_constants, fetches, where=name)
        try:
            got = list(got)
        except TypeError:
            ex.fail(_("{name}: expected a list of new fetches, got {type}").format(name=name, type=type(got).__name__))
        if len(got) != len(fetches):
            ex.fail(_("{name}: expected {n_fetches} fetch(es) back, got {n_got}").format(
                name=name, n_fetches=len(fetches), n_got=len(got)))
        if any((n.op, tuple(n.inputs)) != (op, ins) for n, op, ins in before):
            ex.fail(_("{name}: the input graph was changed; build new nodes and leave the original as it was").format(
                name=name))
        nodes = _nodes(got)
        for n in nodes:
            if n.op == "placeholder" and n.name == "x" and n is not x:
                ex.fail(_("{name}: the placeholder x was replaced; keep placeholders (they are fed at run "
                          "time)").format(
                    name=name))
            if n.op == "constant" and getattr(n, "value", None) is None:
                ex.fail(_("{name}: a constant without a value: was a placeholder folded? Only nodes whose "
                          "inputs are all constants fold").format(name=name))
            if n.op not in ("placeholder", "constant") and n.inputs and all(i.op == "constant" for i in n.inputs):
                ex.fail(_("{name}: node {op} still has only constant inputs after folding -- fold transitively "
                          "(a node whose inputs *became* constants folds too: visit inputs first)").format(
                              name=name, op=n.op))
        left = [n for n in nodes if n.op not in ("placeholder", "constant")]
        if len(left) != n_ops_left:
            ex.fail(_("{name}: expected {n_ops_left} op node(s) left after folding, got {n_left} ({ops})").format(
                name=name, n_ops_left=n_ops_left, n_left=len(left), ops=[n.op for n in left]))
        for xv in (np.array([1.5, -2.0]),):
            want = _reference_run(fetches[0], {"x": xv}, OPS)
            try:
                val = _reference_run(got[0], {"x": xv}, OPS)
            except (TypeError, ValueError, KeyError) as e:
                ex.fail(_("{name}: the folded graph cannot run ({type}: {e})").format(
                    name=name, type=type(e).__name__, e=e))
            if not _same(val, want):
                ex.fail(_("{name}, x = {xv}: the folded graph gives {val}, the original {want}").format(
                    name=name, xv=_arr(xv), val=_arr(val), want=_arr(want)))
    return ex.passed(_("folds transitively, keeps placeholders, leaves the original graph alone"))


# --- lab 15: fusion into one numba kernel ------------------------------------------------------------
def _expr_cases(ns):
    var, const, relu, exp = ns["var"], ns["const"], ns["relu"], ns["exp"]
    h, b, x, y = var("h"), var("b"), var("x"), var("y")
    return [("relu(h + b)", relu(h + b), ["b", "h"]),
            ("(x * y + 1) * x - y", (x * y + const(1.0)) * x - y, ["x", "y"]),
            ("exp(-x) * x + relu(x - 0.5)", exp(-x) * x + relu(x - const(0.5)), ["x"])]


def _feeds(names, n, seed=15):
    rng = np.random.default_rng(seed)
    return {nm: rng.standard_normal(n) for nm in names}


def check_schedule(schedule, ns: dict) -> bool:
    """Exercise 15.1: ``schedule(out)`` returns ``(inputs, steps)``: the input names, sorted, and the op nodes of
    the chain in an order where each comes after its operands, each once."""
    ex = _Task("15.1")
    for name, out, inputs in _expr_cases(ns):
        got = ex.call(schedule, out, where=name)
        if not (isinstance(got, tuple) and len(got) == 2):
            ex.fail(_("{name}: expected (inputs, steps), got {type}").format(name=name, type=type(got).__name__))
        names, steps = list(got[0]), list(got[1])
        if names != inputs:
            ex.fail(_("{name}: expected the input names {inputs} (sorted, each once), got {names}").format(
                name=name, inputs=inputs, names=names))
        want = [n for n in _nodes([out]) if n.op not in ("var", "const")]
        if len({id(s) for s in steps}) != len(steps):
            ex.fail(_("{name}: a node appears twice in the steps; each op is computed once").format(name=name))
        if {id(s) for s in steps} != {id(n) for n in want}:
            ex.fail(_("{name}: expected the {n_want} op nodes as steps ({want}), got {got} -- inputs and "
                      "constants are not steps").format(
                          name=name, n_want=len(want), want=sorted(n.op for n in want),
                          got=sorted(getattr(s, 'op', '?') for s in steps)))
        pos = {id(s): k for k, s in enumerate(steps)}
        for s in steps:
            for i in s.inputs:
                if id(i) in pos and pos[id(i)] > pos[id(s)]:
                    ex.fail(_("{name}: step {op} comes before its operand {operand} -- operands first").format(
                        name=name, op=s.op, operand=i.op))
        if steps[-1] is not out:
            ex.fail(_("{name}: the last step should be the output node").format(name=name))
    return ex.passed(_("inputs sorted, steps operands-first, on 3 chains"))


def _load_kernel(ex, source, where):
    from minifw.kernels.fusion import load_module

    if not isinstance(source, str):
        ex.fail(_("{where}: expected the kernel's source text (a str), got {type}").format(
            where=where, type=type(source).__name__))
    try:
        mod = load_module(source)
    except SyntaxError as e:
        ex.fail(_("{where}: the source does not parse (line {lineno}: {msg}):\n{source}").format(
            where=where, lineno=e.lineno, msg=e.msg, source=source))
    except Exception as e:  # noqa: BLE001  the generated text is the learner's
        ex.fail(_("{where}: importing the source raised {type}: {e}").format(where=where, type=type(e).__name__, e=e))
    kernel = getattr(mod, "kernel", None)
    if kernel is None:
        ex.fail(_("{where}: the source defines no function named `kernel`").format(where=where))
    return kernel


def check_kernel_source(kernel_source, ns: dict) -> bool:
    """Exercise 15.2: ``kernel_source(out)``: the text of ``def kernel(<inputs>, out)`` with ONE loop over the
    elements whose body computes every step into a scalar temporary.  The plain Python function is run here
    (its ``py_func`` when the text asks numba to compile it), so no compile is needed to check it."""
    ex = _Task("15.2")
    for name, out, inputs in _expr_cases(ns):
        src = ex.call(kernel_source, out, where=name)
        kernel = _load_kernel(ex, src, name)
        py = getattr(kernel, "py_func", kernel)
        loops = src.count("for ")
        if loops != 1:
            ex.fail(_("{name}: the source has {loops} loops; a fused kernel makes ONE pass over the elements, "
                      "computing the whole chain per element:\n{src}").format(name=name, loops=loops, src=src))
        feeds = _feeds(inputs, 7)
        res = np.full(7, np.nan)
        try:
            py(*[feeds[k] for k in inputs], res)
        except Exception as e:  # noqa: BLE001
            ex.fail(_("{name}: kernel({inputs}, out) raised {type}: {e}\n{src}").format(
                name=name, inputs=', '.join(inputs), type=type(e).__name__, e=e, src=src))
        want = ns["evaluate"](out, feeds)
        if not _same(res, want, 1e-9, 1e-12):
            unset = _(" (never written: store into out[i] for every i)") if np.isnan(res).any() else ""
            ex.fail(_("{name} on inputs {feeds}:").format(
                name=name, feeds=', '.join(f'{k} = {_arr(v, 4)}' for k, v in feeds.items()))
                    + _first_bad(res, want, 1e-9, 1e-12) + unset + f"\n{src}")
    return ex.passed(_("one loop per chain, right on 3 chains"))


def check_fuse(fuse, ns: dict) -> bool:
    """Exercise 15.3: ``fuse(out)`` returns a callable ``f(**arrays)`` whose ``.kernel`` is ONE numba-compiled
    kernel, which it runs once per call."""
    ex = _Task("15.3")
    from numba.core.dispatcher import Dispatcher

    for name, out, inputs in _expr_cases(ns)[:2]:
        f = ex.call(fuse, out, where=name)
        kernel = getattr(f, "kernel", None)
        if not isinstance(kernel, Dispatcher):
            ex.fail(_("{name}: fuse(out).kernel should be the numba-compiled kernel (a numba Dispatcher), got "
                      "{type}: compile kernel_source(out) with numba, not a numpy function").format(
                          name=name, type=type(kernel).__name__))
        for n in (1, 1000):
            feeds = _feeds(inputs, n, seed=n)
            got = ex.call(lambda feeds=feeds, f=f: f(**feeds), where=_("{name} on {n} elements").format(name=name, n=n))
            want = ns["evaluate"](out, feeds)
            if not _same(got, want, 1e-9, 1e-12):
                ex.fail(_("{name} on {n} elements:").format(name=name, n=n) + _first_bad(got, want, 1e-9, 1e-12))
        feeds = _feeds(inputs, 6, seed=1)
        shaped = {k: v.reshape(2, 3) for k, v in feeds.items()}
        got = ex.call(lambda f=f, shaped=shaped: f(**shaped), where=_("{name} on (2, 3) arrays").format(name=name))
        if np.shape(got) != (2, 3):
            ex.fail(_("{name} on (2, 3) arrays: expected a (2, 3) result, got shape {got} (flatten the inputs "
                      "for the kernel, reshape its output)").format(name=name, got=np.shape(got)))
        if not kernel.signatures:
            ex.fail(_("{name}: the numba kernel was never called; f(**arrays) must run it").format(name=name))
    return ex.passed(_("each chain is one numba kernel, right on 1 and 1,000 elements and on 2-D arrays"))


# --- lab 16: all-reduce ------------------------------------------------------------------------------
class _Wire:
    """The simulated network: counts what each rank sends to whom."""

    def __init__(self):
        self.sent: list[tuple[int, int, int]] = []

    def __call__(self, src: int, dst: int, data):
        data = np.array(data, dtype=float, copy=True)
        self.sent.append((int(src), int(dst), data.size))
        return data


def check_ring_allreduce(ring_allreduce) -> bool:
    """Exercise 16.1: ``ring_allreduce(buffers, send)``: every rank ends with the elementwise sum, only by
    sending chunks to its right-hand neighbour; each rank sends about 2(W-1)/W of the buffer."""
    ex = _Task("16.1")
    rng = np.random.default_rng(16)
    for world, n in ((2, 8), (3, 10), (4, 7), (1, 5), (5, 23)):
        bufs = [rng.standard_normal(n) for _ in range(world)]
        copies = [b.copy() for b in bufs]
        wire = _Wire()
        where = _("{world} ranks, buffers of {n} elements").format(world=world, n=n)
        got = ex.call(ring_allreduce, copies, wire, where=where)
        if not isinstance(got, (list, tuple)) or len(got) != world:
            ex.fail(_("{where}: expected a list of {world} arrays (what each rank holds), got {type}").format(
                where=where, world=world, type=type(got).__name__))
        want = np.sum(bufs, axis=0)
        for r, g in enumerate(got):
            if not _same(g, want, 1e-9, 1e-12):
                ex.fail(_("{where}: rank {r} holds {g}, expected the sum {want}").format(
                    where=where, r=r, g=_arr(g, 6), want=_arr(want, 6))
                        + (_(" -- that is the mean: an all-reduce sums") if _same(g, want / world, 1e-9, 1e-12)
                           else ""))
        if any(not np.array_equal(c, b) for c, b in zip(copies, bufs)):
            ex.fail(_("{where}: the input buffers were changed; work on copies").format(where=where))
        if world > 1:
            if not wire.sent:
                ex.fail(_("{where}: nothing was sent: a rank sees another's data only through send(src, dst, "
                          "chunk)").format(where=where))
            for src, dst, _size in wire.sent:
                if dst != (src + 1) % world:
                    ex.fail(_("{where}: rank {src} sent to rank {dst}; in a ring each rank sends only to the "
                              "next, rank (r + 1) % {world}").format(where=where, src=src, dst=dst, world=world))
            per_rank = [sum(s for a, _, s in wire.sent if a == r) for r in range(world)]
            bound = 2 * (world - 1) * math.ceil(n / world)
            if max(per_rank) > bound:
                ex.fail(_("{where}: a rank sent {per_rank} numbers; a ring sends 2(W-1) chunks of about n/W "
                          "(at most {bound} here) -- send chunks, not whole buffers").format(
                              where=where, per_rank=max(per_rank), bound=bound))
    return ex.passed(_("every rank holds the sum on 1-5 ranks; neighbours only, 2(W-1)/W of the data each"))


def _replicas(Replica, world, rng):
    shapes = ((3, 2), (2,))
    return [Replica([np.ones(s) for s in shapes], [rng.standard_normal(s) for s in shapes]) for _ in range(world)]


def check_average_gradients(average_gradients, Replica) -> bool:
    """Exercise 16.2: ``average_gradients(replicas, send)`` sets every replica's ``grads`` to the mean over the
    replicas, through one ring all-reduce of a flat buffer."""
    ex = _Task("16.2")
    rng = np.random.default_rng(2)
    for world in (2, 3, 1):
        reps = ex.call(lambda w=world: _replicas(Replica, w, rng), where="Replica(params, grads)")
        want = [np.mean([r.grads[i] for r in reps], axis=0) for i in range(2)]
        wire = _Wire()
        where = _("{world} replicas, gradients of shapes (3, 2) and (2,)").format(world=world)
        ex.call(average_gradients, reps, wire, where=where)
        for k, rep in enumerate(reps):
            for i, (g, w) in enumerate(zip(rep.grads, want)):
                if np.shape(g) != w.shape:
                    ex.fail(_("{where}: replica {k} gradient {i} has shape {g}, expected {shape}").format(
                        where=where, k=k, i=i, g=np.shape(g), shape=w.shape))
                if not _same(g, w, 1e-9, 1e-12):
                    hint = ""
                    if _same(g, w * world, 1e-9, 1e-12):
                        hint = _(" -- that is the SUM; divide by the world size ({world}) to average").format(
                            world=world)
                    elif k > 0:
                        hint = _(" -- every replica must get the averaged gradients, not only rank 0")
                    ex.fail(_("{where}: replica {k} gradient {i}").format(
                        where=where, k=k, i=i) + _first_bad(g, w, 1e-9, 1e-12) + hint)
        if world > 1 and not wire.sent:
            ex.fail(_("{where}: nothing was sent between ranks: average through ring_allreduce(buffers, send)").format(
                where=where))
    return ex.passed(_("every replica holds the mean over 2, 3 and 1 ranks"))


def _mse_grad(params, x, y):
    w, b = params
    err = x @ w + b - y
    return [2 * x.T @ err / len(x), 2 * err.mean(axis=0)]


def check_data_parallel_step(data_parallel_step, Replica) -> bool:
    """Exercise 16.3: one data-parallel SGD step equals one step on the whole batch, and leaves the replicas
    identical."""
    ex = _Task("16.3")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    p0 = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    want = [p - 0.1 * g for p, g in zip(p0, _mse_grad(p0, x, y))]
    for world in (2, 3, 4):
        reps = ex.call(lambda w=world: [Replica([p.copy() for p in p0], [np.zeros_like(p) for p in p0])
                                        for _k in range(w)], where="Replica(params, grads)")
        where = _("{world} replicas, a batch of 12, lr 0.1, mean squared error").format(world=world)
        ex.call(data_parallel_step, reps, x, y, _mse_grad, 0.1, _Wire(), where=where)
        for k, rep in enumerate(reps):
            for i, (p, w) in enumerate(zip(rep.params, want)):
                if not _same(p, w, 1e-9, 1e-12):
                    step = p0[i] - np.asarray(p, float)
                    hint = ""
                    if _same(step, world * (p0[i] - w), 1e-9, 1e-12):
                        hint = _(" -- the step is {world}x too large: average the gradients (divide the sum by "
                                 "{world})").format(world=world)
                    elif _same(p, p0[i]):
                        hint = _(" -- this replica did not move: every replica applies the same averaged step")
                    ex.fail(_("{where}: replica {k} parameter {i} after the step").format(
                        where=where, k=k, i=i) + _first_bad(p, w, 1e-9, 1e-12)
                            + hint + _(" (expected: one SGD step on the whole batch)"))
    return ex.passed(_("on 2, 3 and 4 replicas: one step on the whole batch, replicas identical"))


# --- lab 17: the capstone -------------------------------------------------------------------------------
def _run_piece_cells(name: str, cells: list[str], origin: str) -> types.ModuleType:
    """A module made by running ``cells`` in order (the way a notebook's kernel runs them)."""
    mod = types.ModuleType(f"build_{name}")
    mod.__dict__["__origin__"] = origin
    for k, src in enumerate(cells):
        exec(compile(src, f"<{origin}, piece cell {k + 1}>", "exec"), mod.__dict__)  # noqa: S102  notebook code
    return mod


def load_pieces(folder: str | Path | None = ".", quiet: bool = False) -> types.SimpleNamespace:
    """The pieces of labs 13-16 as ``pieces.tape``, ``.session``, ``.fusion``, ``.allreduce`` (modules).

    Each is made from the cells marked :data:`PIECE` of that lab's notebook in ``folder`` (the learner's own,
    English or Chinese copy, as saved); for a lab whose notebook is not there (or ``folder=None``) from
    minifw's reference solution, and ``pieces.origin`` says which."""
    from . import get, notebooks, solution

    out = types.SimpleNamespace(origin={})
    for number, name in PIECE_LABS.items():
        lab = get(number)
        nb, origin = None, f"minifw's reference solution of lab {number}"
        if folder is not None:
            for lang in lab.langs:
                path = Path(folder) / lab.file(lang)
                if path.exists():
                    nb, origin = notebooks.read(path), f"your {path.name}"
                    break
        if nb is None:
            nb = solution(number, "en")
        cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                 and "".join(c["source"]).lstrip().startswith(PIECE)]
        setattr(out, name, _run_piece_cells(name, cells, origin))
        out.origin[name] = origin
        if not quiet:
            print(f"{name:9s} from {origin}")
    return out


class _Counter:
    def __init__(self):
        self.n = 0


def _count(owner, attr, counter):
    """Wrap ``owner.attr`` to count its calls; returns the original (to put back)."""
    fn = getattr(owner, attr)

    def counted(*a, **k):
        counter.n += 1
        return fn(*a, **k)

    setattr(owner, attr, counted)
    return fn


def _fused_of(ex: _Task, bias_relu):
    fused = getattr(bias_relu, "fused", None)
    if fused is None:
        ex.fail(_("bias_relu.fused is not set: did the cell that makes it with your fuse(relu(var('h') + "
                  "var('b'))) fail? Finish lab 15's tasks (or move its notebook out of this folder to use "
                  "minifw's reference)"))
    return fused


def check_bias_relu(bias_relu, pieces) -> bool:
    """Exercise 17.1: ``bias_relu(h, b)``: a tape op (your Tensor) whose value comes from your fused kernel
    ``bias_relu.fused`` (made by your ``fuse``) and whose vjp gives ``(g·mask, sum over rows of g·mask)``."""
    from numba.core.dispatcher import Dispatcher

    ex = _Task("17.1")
    fused = _fused_of(ex, bias_relu)
    if not isinstance(getattr(fused, "kernel", None), Dispatcher):
        ex.fail(_("bias_relu.fused should be what your fuse(relu(var('h') + var('b'))) returns, its .kernel a "
                  "numba kernel; got a {type} whose .kernel is {kernel_type}").format(
                      type=type(fused).__name__, kernel_type=type(getattr(fused, 'kernel', None)).__name__))
    T = pieces.tape.Tensor
    rng = np.random.default_rng(17)
    calls = _Counter()
    _count(bias_relu, "fused", calls)
    try:
        for n, k in ((4, 3), (1, 5), (32, 16)):
            hv, bv = rng.standard_normal((n, k)), rng.standard_normal(k)
            h, b = T(hv.copy()), T(bv.copy())
            where = _("h of shape {h_shape}, b of shape {b_shape}").format(h_shape=(n, k), b_shape=(k,))
            out = ex.call(bias_relu, h, b, where=where)
            want = np.maximum(hv + bv, 0)
            got = np.asarray(getattr(out, "data", None), dtype=float)
            if not _same(got, want):
                ex.fail(_("{where}: the value").format(where=where) + (_first_bad(got, want) if got.shape == want.shape
                                                 else _(" has shape {got}, expected {want}").format(
                                                     got=got.shape, want=want.shape)))
            if [id(p) for p in getattr(out, "parents", ())] != [id(h), id(b)]:
                ex.fail(_("{where}: the result's parents should be (h, b), so the sweep reaches both").format(
                    where=where))
            g = rng.standard_normal((n, k))
            cots = ex.call(out.vjp, g, where=_("{where}: its vjp").format(where=where))
            mask = (hv + bv) > 0
            for nm, c, w in (("h", cots[0], g * mask), ("b", cots[1], (g * mask).sum(axis=0))):
                if not _same(c, w):
                    ex.fail(_("{where}: the cotangent of {nm}").format(
                        where=where, nm=nm) + (_first_bad(c, w) if np.shape(c) == w.shape else
                                                                  _(" has shape {c}, expected {shape}").format(
                                                                      c=np.shape(c), shape=w.shape)))
    finally:
        bias_relu.fused = fused
    if calls.n == 0:
        ex.fail(_("bias_relu never called bias_relu.fused: compute the value with your fused kernel"))
    return ex.passed(_("value from your fused kernel; vjp right on 3 shapes"))


def check_predict(predict, pieces) -> bool:
    """Exercise 17.2: ``predict(params, pixels)`` takes raw pixel counts (0-16) and runs
    ``relu(pixels @ (W1 · 1/16) + b1) @ W2 + b2`` through your graph, your constant folding (which turns
    ``W1 · 1/16`` into one constant) and your Session, returning the argmax of each row."""
    ex = _Task("17.2")
    prng = np.random.default_rng(172)  # biases too: with zero biases, scaling the input would not change a class
    params = [prng.standard_normal((64, 32)) * 0.2, prng.standard_normal(32), prng.standard_normal((32, 10)),
              prng.standard_normal(10)]
    W1, b1, W2, b2 = params
    runs, folds, ops, in_run = _Counter(), _Counter(), [], []
    sess_mod = pieces.session
    saved, run0 = dict(sess_mod.OPS), sess_mod.Session.run

    def run(self, *args, **kwargs):  # count the Session's calls, and the ops it runs (not the folding pass's)
        runs.n += 1
        in_run.append(1)
        try:
            return run0(self, *args, **kwargs)
        finally:
            in_run.pop()

    def op_counter(fn, key):
        def counted(*args):
            if in_run:
                ops.append(key)
            return fn(*args)

        return counted

    sess_mod.Session.run = run
    sess_mod.OPS.update({k: op_counter(fn, k) for k, fn in saved.items()})
    undo = [(sess_mod.Session, "run", run0), (sess_mod, "fold_constants", _count(sess_mod, "fold_constants", folds))]
    try:
        rng = np.random.default_rng(5)
        for n in (1, 7, 50):
            x = rng.integers(0, 17, (n, W1.shape[0])).astype(np.float64)
            where = _("pixel counts of shape {shape}").format(shape=x.shape)
            runs_before, ops[:] = runs.n, []
            got = np.asarray(ex.call(predict, params, x, where=where))
            want = (np.maximum(x / 16 @ W1 + b1, 0) @ W2 + b2).argmax(axis=1)
            if got.shape != want.shape or not np.array_equal(got, want):
                unscaled = (np.maximum(x @ W1 + b1, 0) @ W2 + b2).argmax(axis=1)
                ex.fail(_("{where}: expected the classes {want}, got {got}").format(
                    where=where, want=want.tolist()[:10], got=got.tolist()[:10])
                        + (_(" -- those are the scores; take the argmax of each row") if got.ndim == 2 else
                           _(" -- the network was trained on pixels / 16: scale W1 by 1/16 in the graph")
                           if np.array_equal(got, unscaled) and not np.array_equal(want, unscaled) else ""))
            per_run = len(ops) / max(runs.n - runs_before, 1)
            if runs.n > runs_before and per_run > 5:
                ex.fail(_("{where}: Session.run ran {per_run:g} ops per call ({ops}); after folding it should "
                          "run 5 (matmul, add, relu, matmul, add): scale the weights, W1 * constant(1/16), not "
                          "the fed pixels, so that fold_constants can compute the product once").format(
                              where=where, per_run=per_run, ops=', '.join(ops[:8])))
    finally:
        sess_mod.OPS.update(saved)
        for owner, attr, fn in undo:
            setattr(owner, attr, fn)
    if runs.n == 0:
        ex.fail(_("predict never called Session.run: build the graph and run it with your Session"))
    if folds.n == 0:
        ex.fail(_("predict never called fold_constants: run your folding pass before the Session"))
    return ex.passed(_("right on 3 batches; W1 · 1/16 folded; Session.run called {n} times, 5 ops each").format(
        n=runs.n))


def check_capstone(train, predict, bias_relu, pieces, epochs: int = 20) -> bool:
    """Exercise 17.3: ``train(x, y, epochs)`` trains the 64-32-10 MLP on the digits (pixels / 16) with your
    pieces (the tape's backward, the fused bias+ReLU, the all-reduce over the replicas) and ``predict`` (your
    Session, on the raw pixel counts) scores >= 95% on the 360 test digits.  Each piece's calls are counted:
    all must have run."""
    from minifw.data import load_digits

    ex = _Task("17.3")
    _fused_of(ex, bias_relu)
    counters = {k: _Counter() for k in ("backward", "the fused kernel", "average_gradients", "Session.run")}
    undo = [(owner, attr, _count(owner, attr, counters[key])) for owner, attr, key in (
        (pieces.tape, "backward", "backward"), (bias_relu, "fused", "the fused kernel"),
        (pieces.allreduce, "average_gradients", "average_gradients"),
        (pieces.session.Session, "run", "Session.run"))]
    try:
        (x, y), (xt, yt) = load_digits("train", flatten=True), load_digits("test", flatten=True, normalize=False)
        params = ex.call(train, x.astype(np.float64), y, epochs, where=f"train(x, y, epochs={epochs})")
        pred = np.asarray(ex.call(predict, params, xt.astype(np.float64), where=_("predict(params, test pixels)")))
    finally:
        for owner, attr, fn in undo:
            setattr(owner, attr, fn)
    unused = [k for k, c in counters.items() if c.n == 0]
    if unused:
        ex.fail(_("your pieces were not all used: {unused} never ran; train with loss.backward(), bias_relu, "
                  "average_gradients over the replicas, and predict with your Session").format(
                      unused=', '.join(unused)))
    if pred.shape != yt.shape:
        ex.fail(_("predict(params, test pixels) should give {n} classes, got shape {shape}").format(
            n=len(yt), shape=pred.shape))
    acc = float(np.mean(pred == yt))
    if acc < 0.95:
        ex.fail(_("test accuracy {acc:.1%} after {epochs} epochs; expected >= 95% (the learning rate? "
                  "gradients averaged, not summed? every replica updated?)").format(acc=acc, epochs=epochs))
    counts = ", ".join(f"{k} {c.n}x" for k, c in counters.items())
    return ex.passed(_("test accuracy {acc:.1%} on 360 digits; ran {counts}").format(acc=acc, counts=counts))


__all__ = ["CheckFailed", "PIECE", "load_pieces", "check_dual_arithmetic", "check_dual_functions",
           "check_derivative", "check_tape_elementwise", "check_tape_ops", "check_topo_order", "check_backward",
           "check_execution_order", "check_session", "check_fold_constants", "check_schedule", "check_kernel_source",
           "check_fuse", "check_ring_allreduce", "check_average_gradients", "check_data_parallel_step",
           "check_bias_relu", "check_predict", "check_capstone"]

