"""The eager tape is invisible to Python's cyclic garbage collector.

A graph of N recorded ops must add O(1) objects for the collector to track
and scan, not O(N): otherwise every full collection rescans the whole tape,
and eager code with grad slows down as the process grows (BENCHMARKS.md,
"Garbage collection on big graphs"; W5g).  These are counts, not timings.
"""

from __future__ import annotations

import gc

import numpy as np

import minifw as mf
from minifw.eager.backward import tape


def _tracked_after(build):
    """(objects the collector tracks while ``build()``'s result is alive) minus (before), and the result."""
    gc.collect()
    before = len(gc.get_objects())
    out = build()
    gc.collect()  # garbage only: what is left is what the result keeps alive
    return len(gc.get_objects()) - before, out


def _chain(x, b, n):
    for i in range(n):
        x = x * b if i & 1 else x + b
    return x


def test_a_long_chain_adds_a_constant_number_of_tracked_objects():
    x = mf.tensor(np.ones((4, 4), np.float32), requires_grad=True)
    b = mf.tensor(np.full((4, 4), 0.5, np.float32))
    grown, out_large = _tracked_after(lambda: _chain(x, b, 2000))
    assert len(tape([out_large])) == 2001  # the whole chain is on the tape (and the leaf)
    assert grown < 100, grown  # O(1), not ~3 objects per op as when the tape held tensors
    out_large.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((4, 4), 0.5 ** 1000, np.float32), rtol=1e-5)


def test_every_kind_of_record_is_untracked():
    """Unary, binary with a constant array, reductions with params, matmul, indexing, a leaf input."""
    x = mf.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = mf.tensor(np.ones((3, 2)), requires_grad=True)
    outs = [mf.sin(x), x * 2.0, x + np.ones((2, 3)), x.sum(dim=1, keepdim=True), x.mean(), x @ w,
            x.reshape(3, 2), x[0], x[:, 1:], x.transpose(0, 1), mf.maximum(x, 1.0), (x * x).sum(), 2.0 * x,
            x.to("cpu") * 1.0]
    for y in outs:  # untracked as they are made, not at some later collection
        assert y.requires_grad and not y.is_leaf
        assert not gc.is_tracked(y._node), (y.grad_fn, y._node)
    assert not any(gc.is_tracked(n) for n in tape(outs))


def test_scalar_nodes_are_untracked_too():
    """W4's engine: a 15,000-node scalar graph leaves nothing for the collector to rescan."""
    import minifw.functional as F
    from minifw.autodiff.scalar import Scalar

    y, z = Scalar(1.0001), Scalar(0.01)

    def chain(n):
        x = Scalar(0.5)
        for _ in range(n):
            x = F.relu(x * y + z)
        return x

    grown, out = _tracked_after(lambda: chain(5_000))
    assert grown < 100, grown  # 15,000 nodes: O(1) tracked objects, not one per node
    out.backward()
    assert y.grad > 0 and z.grad > 0


def test_intermediate_tensors_die_with_their_names():
    """The tape keeps values, never the tensors: a dropped intermediate is freed at once."""
    import weakref

    x = mf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    ref = weakref.ref(h)
    y = mf.exp(h).sum()
    del h
    assert ref() is None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * np.exp(3.0 * np.array([1.0, 2.0])), rtol=1e-6)


def test_a_copied_leaf_is_a_new_leaf():
    """Records name leaves by key: a deep copy (or an unpickled tensor) must get a key of its own, so its
    gradients never land in the original."""
    import copy
    import pickle

    p = mf.nn.Parameter(mf.zeros(3))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert q.requires_grad and q.is_leaf and q._node != p._node
        (q * 2.0).sum().backward()
        np.testing.assert_allclose(q.grad.numpy(), [2.0, 2.0, 2.0])
    assert p.grad is None
