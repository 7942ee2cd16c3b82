"""CPU == CUDA for every primitive in the registry, forward and backward (tiny shapes, simulator)."""

import numpy as np
import pytest
from helpers import close

import minifw as mf
from minifw import functional as F
from minifw.registry import all_primitives, get

rng = np.random.default_rng(7)


def pos(*shape):
    return rng.uniform(0.5, 1.5, shape).astype(np.float32)


def sym(*shape):
    return rng.uniform(-1.0, 1.0, shape).astype(np.float32)


CONV = dict(kernel=(2, 2), stride=(1, 2), padding=((1, 0), (0, 1)))
CONV_STRIDE_PAD = {k: v for k, v in CONV.items() if k != "kernel"}
# name -> list of (inputs, params); the inputs of elementwise binaries broadcast
CASES = {
    **{n: [([pos(2, 3)], {})] for n in ("exp", "log", "sqrt", "reciprocal")},
    **{n: [([sym(2, 3)], {})] for n in ("neg", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs", "square",
                                        "step", "sign")},
    **{n: [([sym(2, 3), sym(3)], {}), ([sym(4), 0.5], {})] for n in ("add", "sub", "mul", "maximum", "minimum",
                                                                      "lt", "le", "gt", "ge", "eq", "ne")},
    "div": [([sym(2, 3), pos(3)], {})],
    "pow": [([pos(2, 3), sym(1, 3)], {})],
    "where": [([sym(2, 3) > 0, sym(2, 3), sym(3)], {})],
    "cast": [([sym(2, 3)], {"dtype": np.dtype(np.float64)})],
    "matmul": [([sym(2, 3), sym(3, 4)], {}), ([sym(2, 2, 3), sym(3, 2)], {}), ([sym(3), sym(3, 2)], {})],
    "reshape": [([sym(2, 3)], {"shape": (3, 2)})],
    "transpose": [([sym(2, 3, 2)], {"axes": (2, 0, 1)})],
    "broadcast_to": [([sym(3)], {"shape": (2, 3)})],
    "concatenate": [([sym(2, 3), sym(1, 3)], {"axis": 0})],
    "getitem": [([sym(3, 4)], {"index": (slice(None), slice(1, None, 2))}),
                ([sym(3, 4)], {"index": (np.array([0, 2, 2]), np.array([1, 1, 3]))})],
    "scatter_add": [([sym(3)], {"index": (np.array([0, 2, 0]),), "shape": (4,)}),
                    ([sym(2)], {"index": (slice(1, 3),), "shape": (4,)})],
    "softmax": [([sym(2, 5)], {"axis": 1}), ([sym(3, 2)], {"axis": 0})],
    "log_softmax": [([sym(2, 5)], {"axis": 1})],
    **{n: [([sym(2, 3, 2)], {"axis": (1,), "keepdims": False}), ([sym(2, 3)], {"axis": (0, 1), "keepdims": True})]
       for n in ("sum", "mean", "max", "min")},
    **{n: [([sym(2, 5)], {"axis": (1,), "keepdims": False})] for n in ("argmax", "argmin")},
    "im2col": [([sym(1, 2, 3, 4)], {**CONV, "pad_value": 0.0})],
    "col2im": [([sym(1, 3, 2, 2, 2, 2)], {"x_shape": (1, 2, 3, 4), **CONV})],
    "conv2d": [([sym(1, 2, 3, 4), sym(3, 2, 2, 2)], CONV_STRIDE_PAD),
               ([sym(1, 2, 3, 4), sym(3, 2, 2, 2), sym(3)], CONV_STRIDE_PAD)],
    "conv2d_input_grad": [([sym(1, 3, 3, 2), sym(3, 2, 2, 2)], {"x_shape": (1, 2, 3, 4), **CONV_STRIDE_PAD})],
    "conv2d_weight_grad": [([sym(1, 2, 3, 4), sym(1, 3, 3, 2)], {"w_shape": (3, 2, 2, 2), **CONV_STRIDE_PAD})],
    "pool_argmax": [([sym(1, 2, 3, 4)], CONV)],
    # the index of a 2x2 pool with overlapping windows (stride 1 down): the scatter must add repeats
    "pool_gather": [([sym(1, 2, 3, 4), np.array([[[[0, 2], [4, 6]], [[1, 1], [11, 8]]]])], {})],
    "pool_scatter": [([sym(1, 2, 2, 2), np.array([[[[0, 2], [4, 6]], [[1, 1], [11, 8]]]])],
                      {"x_shape": (1, 2, 3, 4)})],
}


def test_every_primitive_has_a_case_and_a_cuda_implementation():
    from minifw.kernels.cuda.dispatch import coverage

    names = {p.name for p in all_primitives()}
    assert names <= set(CASES), sorted(names - set(CASES))
    assert all(coverage().values()), [k for k, v in coverage().items() if not v]


def _run(name, inputs, params, device):
    prim = get(name)
    ts = []
    for x in inputs:
        if isinstance(x, np.ndarray):
            t = mf.tensor(x, device=device)
            if x.dtype.kind == "f" and prim.differentiable:
                t.requires_grad_(True)
            ts.append(t)
        else:
            ts.append(x)
    out = F.bind(prim, *ts, **params)
    grads = []
    if out.requires_grad:
        cot = mf.tensor(np.linspace(-1, 1, max(out.data.size, 1)).reshape(out.shape).astype(out.dtype),
                        device=device)
        (out * cot).sum().backward()
        grads = [t.grad for t in ts if isinstance(t, mf.Tensor) and t.requires_grad]
    return out, grads


@pytest.mark.parametrize("name,k", [(n, k) for n in sorted(CASES) for k in range(len(CASES[n]))])
def test_cpu_equals_cuda_forward_and_backward(name, k):
    inputs, params = CASES[name][k]
    out_c, grads_c = _run(name, inputs, params, "cpu")
    out_d, grads_d = _run(name, inputs, params, "cuda")
    assert out_d.device == "cuda"
    close(out_c, out_d)
    assert len(grads_c) == len(grads_d)
    for gc, gd in zip(grads_c, grads_d):
        assert gd.device == "cuda"
        close(gc, gd)
