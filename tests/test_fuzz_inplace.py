"""Fuzz: in-place changes in the middle of random programs (issue: Reliability, item 1 and the fuzz suite).

A program is a few ops on 3x3 float64 values (two leaves that require grad, two that do not), an in-place change
to a value that does not require grad (directly, through a view, through ``+=``) somewhere in the middle, more
ops, and ``backward``.  Two properties:

* without PyTorch: minifw either refuses with :class:`InplaceError` or gives exactly the gradient of the
  computation as it ran (the same program with every operand of a computing op cloned as it is used, so no
  change can reach a saved value; views stay views);
* with PyTorch installed: minifw refuses exactly when PyTorch does, and otherwise gives PyTorch's gradients.

Inputs tried: ``N_PROGRAMS`` programs for the first property, ``N_TORCH`` for the second.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minifw as mf
from minifw.eager.tensor import InplaceError

pytestmark = pytest.mark.slow  # the fuzz suite runs in the full tier (CI): about a minute of generated inputs

N_PROGRAMS = 400
N_TORCH = 400

BINARY = ("add", "sub", "mul", "matmul")
UNARY = ("neg", "t", "flat", "slice")
VIEWS = ("t", "flat", "slice")
UNARY_SAVING = ("exp", "tanh")  # rules that read their values: minifw is stricter than PyTorch there
CHANGES = ("fill", "zero", "setitem", "iadd", "imul", "view_fill")


@st.composite
def programs(draw, unary=UNARY):
    n_before = draw(st.integers(1, 4))
    n_after = draw(st.integers(0, 3))
    ops = []
    size = 4  # w1, w2 (require grad), x1, x2 (do not)
    for _ in range(n_before + n_after):
        if draw(st.booleans()):
            ops.append((draw(st.sampled_from(BINARY)), draw(st.integers(0, size - 1)), draw(st.integers(0, size - 1))))
        else:
            ops.append((draw(st.sampled_from(unary)), draw(st.integers(0, size - 1)), None))
        size += 1
    change = (draw(st.sampled_from(CHANGES)), draw(st.integers(0, 10 ** 6)))
    seed = draw(st.integers(0, 2 ** 16))
    return ops, n_before, change, seed


class _Lib:
    """The program's ops for minifw or PyTorch."""

    def __init__(self, torch=None):
        self.torch = torch

    def leaf(self, a, requires_grad):
        if self.torch is None:
            return mf.tensor(a, requires_grad=requires_grad)
        return self.torch.tensor(a, requires_grad=requires_grad)

    def no_grad(self):
        return mf.no_grad() if self.torch is None else self.torch.no_grad()

    def op(self, name, a, b):
        if name == "add":
            return a + b
        if name == "sub":
            return a - b
        if name == "mul":
            return a * b
        if name == "matmul":
            return a @ b
        if name == "neg":
            return -a
        if name == "t":
            return a.T
        if name == "flat":
            return a.reshape((9,)).reshape((3, 3))
        if name == "slice":
            return a[0:3]
        if name == "exp":
            return a.exp()
        if name == "tanh":
            return a.tanh()
        raise AssertionError(name)


def _run(lib: _Lib, program, clone_operands: bool):
    """Run ``program``; the gradients of the two leaves, or the InplaceError-like exception raised."""
    ops, n_before, (change, pick), seed = program
    rng = np.random.default_rng(seed)
    vals = [lib.leaf(rng.uniform(-1, 1, (3, 3)), True), lib.leaf(rng.uniform(-1, 1, (3, 3)), True),
            lib.leaf(rng.uniform(-1, 1, (3, 3)), False), lib.leaf(rng.uniform(-1, 1, (3, 3)), False)]
    leaves = vals[:2]

    def step(k):
        name, i, j = ops[k]
        a, b = vals[i], None if j is None else vals[j]
        if clone_operands and name not in VIEWS:  # views must stay views: a change through them reaches the base
            a, b = a.clone(), None if b is None else b.clone()
        vals.append(lib.op(name, a, b))

    for k in range(n_before):
        step(k)
    plain = [v for v in vals if not v.requires_grad]
    target = plain[pick % len(plain)]
    if change == "fill":
        target.fill_(0.5)
    elif change == "zero":
        target.zero_()
    elif change == "setitem":
        target[1] = 2.0
    elif change == "iadd":
        target += 1.0
    elif change == "imul":
        target *= 3.0
    else:
        target[1:].fill_(-1.0)
    for k in range(n_before, len(ops)):
        step(k)
    outs = [v for v in vals[4:] if v.requires_grad]
    if not outs:
        return None
    loss = outs[0].sum()
    for v in outs[1:]:
        loss = loss + (v * v).sum()
    try:
        loss.backward()
    except (InplaceError, RuntimeError) as e:
        if lib.torch is None and not isinstance(e, InplaceError):
            raise
        if lib.torch is not None and "inplace" not in str(e):
            raise
        return e
    return [None if w.grad is None else np.array(w.grad.numpy() if lib.torch is None else w.grad.numpy())
            for w in leaves]


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None) == (y is None) or (x is None and not np.any(y)) or (y is None and not np.any(x))
        if x is not None and y is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


@settings(max_examples=N_PROGRAMS, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs(unary=UNARY + UNARY_SAVING))
def test_minifw_refuses_or_gives_the_gradient_of_what_ran(program):
    lib = _Lib()
    got = _run(lib, program, clone_operands=False)
    want = _run(lib, program, clone_operands=True)
    assert not isinstance(want, Exception)  # cloned operands: nothing saved can change
    if got is None or isinstance(got, InplaceError):
        return
    _same(got, want)


@settings(max_examples=N_TORCH, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_minifw_refuses_exactly_when_pytorch_does(program):
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for in-place semantics; it is optional")
    got = _run(_Lib(), program, clone_operands=False)
    want = _run(_Lib(torch), program, clone_operands=False)
    if want is None:
        assert got is None
        return
    assert isinstance(got, Exception) == isinstance(want, Exception), (got, want)
    if not isinstance(want, Exception):
        _same(got, want)


def test_the_generator_reaches_both_outcomes():
    """The fuzz is not vacuous: some programs are refused, some run to a gradient."""
    outcomes = set()
    rng = np.random.default_rng(1)
    for _ in range(200):
        ops = [(("mul", "add")[rng.integers(2)], int(rng.integers(0, 4)), int(rng.integers(0, 4)))
               for _ in range(3)]
        got = _run(_Lib(), (ops, 2, ("fill", int(rng.integers(0, 9))), int(rng.integers(0, 99))), False)
        outcomes.add("none" if got is None else "refused" if isinstance(got, Exception) else "gradient")
    assert {"refused", "gradient"} <= outcomes
