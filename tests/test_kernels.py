"""minifw.kernels: every kernel equals numpy (map, zip with broadcasting, reduce, matmul), the eager
switch to kernels for large arrays, the on-disk cache, lazy numba and the threading policy.

Compiling is the slow part (~0.3-0.6 s per kernel and dtype cold, milliseconds from the disk cache), so the
fast tier runs a representative set of primitives; the sweep over every elementwise primitive is ``slow``.
Arrays are tiny except where the large-array switch itself is tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minifw.ops import get
from minifw.registry import all_primitives

UNARY = [p.name for p in all_primitives() if p.kind == "unary"]
BINARY = [p.name for p in all_primitives() if p.kind in ("binary", "compare")]
FAST_UNARY = ["exp", "tanh", "sigmoid", "log", "sin", "sign"]
FAST_BINARY = ["add", "mul", "maximum", "lt"]
DTYPES = [np.float32, np.float64]


@pytest.fixture(scope="module")
def cpu():
    from minifw.kernels import cpu

    return cpu


def _inputs(name, shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if name in ("log", "sqrt", "pow", "reciprocal"):
        x = rng.uniform(0.1, 4.0, shape)
    elif name == "tan":
        x = rng.uniform(-1.4, 1.4, shape)
    else:
        x = rng.normal(0.0, 3.0, shape)
    return x.astype(dtype)


def _close(got, want, dtype):
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype == np.bool_:
        assert np.array_equal(got, want)
    else:
        rtol = 2e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-30, equal_nan=True)


def _check_unary(cpu, name, dtype):
    p = get(name)
    x = _inputs(name, (3, 4, 5), dtype)
    _close(cpu.map(p, x), p.impl(x), dtype)  # contiguous -> 1-D loop
    xt = x.transpose(2, 0, 1)[:, ::2]  # non-contiguous -> strided 3-D loop
    _close(cpu.map(p, xt), p.impl(xt), dtype)


def _check_binary(cpu, name, dtype):
    p = get(name)
    a = _inputs(name, (3, 4, 5), dtype, 1)
    b = _inputs(name, (3, 4, 5), dtype, 2)
    for x, y in [
        (a, b),  # same shape, contiguous
        (a, b[0, :, :1]),  # broadcasting (4, 1) against (3, 4, 5)
        (a[:, ::2], b[:1, ::2].transpose(0, 1, 2)),  # strided with a size-1 dim
        (a, 1.5), (2.5, a),  # Python scalars (weak: stay float32)
        (a.transpose(2, 1, 0), b[0].T[:, :, None]),  # (5, 4, 3) with a strided (5, 4, 1)
    ]:
        _close(cpu.zip(p, x, y), p.impl(x, y), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", FAST_UNARY)
def test_map_matches_numpy(cpu, name, dtype):
    _check_unary(cpu, name, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", FAST_BINARY)
def test_zip_matches_numpy(cpu, name, dtype):
    _check_binary(cpu, name, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", UNARY + BINARY)
def test_every_elementwise_primitive(cpu, name, dtype):
    (_check_unary if name in UNARY else _check_binary)(cpu, name, dtype)


def test_special_values_like_numpy(cpu):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -3.0, 800.0, -800.0])
    for name in ("exp", "log", "tanh", "sigmoid", "sin", "sign"):
        p = get(name)
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(cpu.map(p, x), p.impl(x), rtol=1e-13, atol=1e-300, equal_nan=True)
    y = np.array([np.nan, 1.0, -np.inf, 0.0, 2.0, np.nan, 3.0, 1.0, 0.0])
    np.testing.assert_array_equal(cpu.zip(get("maximum"), x, y), np.maximum(x, y))


def test_float32_transcendentals_accuracy(cpu):
    """float32 kernels round a float64 result once: within 2e-7 relative of float64 numpy (<= ~1 ulp)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-80, 80, 2000), rng.normal(0, 1e-3, 500)]).astype(np.float32)
    x64 = x.astype(np.float64)
    for name, ref in [("exp", np.exp), ("tanh", np.tanh), ("sigmoid", get("sigmoid").impl), ("sin", np.sin),
                      ("cos", np.cos)]:
        got = cpu.map(get(name), x).astype(np.float64)
        want = ref(x64)
        tiny = np.abs(want) < 1e-37  # float32 subnormal/zero range: absolute error instead
        rel = np.abs(got - want)[~tiny] / np.abs(want[~tiny])
        assert rel.max() <= 2e-7, (name, rel.max())
    xl = np.abs(x) + 1e-3
    rel = np.abs(cpu.map(get("log"), xl).astype(np.float64) / np.log(xl.astype(np.float64)) - 1)
    assert rel[np.abs(np.log(xl.astype(np.float64))) > 1e-3].max() <= 2e-7


def test_trig_outside_domain_falls_back(cpu):
    x = np.array([1.0, 1e10, 3e300], dtype=np.float64)
    np.testing.assert_array_equal(cpu.map(get("sin"), x), np.sin(x))


def test_ints_and_mixed_dtypes_use_numpy(cpu):
    i = np.arange(6).reshape(2, 3)
    assert np.array_equal(cpu.map(get("exp"), i), np.exp(i))
    f32, f64 = np.ones(3, np.float32), np.ones(3)
    assert cpu.zip(get("add"), f32, f64).dtype == np.float64
    assert cpu.zip(get("add"), f32, 2.0).dtype == np.float32
    assert cpu.map(get("exp"), np.ones((0, 3))).shape == (0, 3)


AXES = [None, 0, 1, 2, (0, 1), (1, 2), (0, 2), (0, 1, 2), -1]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reduce_matches_numpy(cpu, name, dtype):
    x = _inputs("x", (4, 5, 6), dtype)
    for axis in AXES:
        for keepdims in (False, True):
            want = getattr(np, name)(x, axis=axis, keepdims=keepdims)
            got = cpu.reduce(name, x, axis=axis, keepdims=keepdims)
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12)
    xt = x.transpose(1, 2, 0)  # non-contiguous input
    np.testing.assert_allclose(cpu.reduce(name, xt, axis=(0, 2)), getattr(np, name)(xt, axis=(0, 2)), rtol=1e-5)


def test_reduce_nan_and_long_rows(cpu):
    x = np.arange(10000, dtype=np.float64).reshape(2, 5000)
    x[1, 4321] = np.nan
    np.testing.assert_array_equal(cpu.reduce("max", x, axis=1), np.max(x, axis=1))
    np.testing.assert_array_equal(cpu.reduce("min", x, axis=0), np.min(x, axis=0))
    big = np.full(3 * 4096 + 17, 0.1, np.float32)  # several blocks; float64 accumulation beats float32 numpy
    assert abs(cpu.reduce("sum", big) - (3 * 4096 + 17) * 0.1) < 1e-3


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_matmul_matches_numpy(cpu, dtype):
    rng = np.random.default_rng(3)
    cases = [((5, 7), (7, 3)), ((2, 5, 70), (70, 600)), ((3, 1, 4, 5), (2, 5, 6)), ((7,), (7, 4)), ((4, 7), (7,)),
             ((7,), (7,))]
    for sa, sb in cases:
        a, b = rng.normal(size=sa).astype(dtype), rng.normal(size=sb).astype(dtype)
        want = np.matmul(a, b)
        got = cpu.matmul(a, b)
        assert np.shape(got) == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)
    a = rng.normal(size=(6, 8)).astype(dtype)
    np.testing.assert_allclose(cpu.matmul(a.T, a), a.T @ a, rtol=1e-4, atol=1e-4)  # non-contiguous


def test_scalar_source_names_an_importable_function():
    from minifw.kernels.codegen import scalar_source
    from minifw.kernels.cpu import kernel_source

    assert scalar_source(get("exp")) == ("minifw.ops.scalar_math", "vexp")
    assert scalar_source(get("add")) == ("minifw.ops.scalar_math", "add")
    assert "from minifw.ops.scalar_math import vtanh as _k_tanh" in kernel_source(get("tanh"))
    with pytest.raises(TypeError):
        scalar_source(get("matmul"))


def test_eager_switches_to_kernels_for_large_arrays(monkeypatch):
    import minifw as mf
    from minifw.kernels import cpu, dispatch

    calls = []
    real = cpu.map
    monkeypatch.setattr(cpu, "map", lambda p, x: calls.append(p.name) or real(p, x))
    monkeypatch.setattr(dispatch, "KERNEL_MIN_SIZE", 64)
    small = mf.tensor(np.linspace(-3, 3, 12, dtype=np.float32))
    large = mf.tensor(np.linspace(-3, 3, 200, dtype=np.float32))
    np.testing.assert_allclose(mf.sigmoid(small).data, get("sigmoid").impl(small.data), rtol=1e-6)
    assert calls == []
    np.testing.assert_allclose(mf.sigmoid(large).data, get("sigmoid").impl(large.data), rtol=1e-6)
    assert calls == ["sigmoid"]
    y = mf.tensor(np.linspace(-3, 3, 200), requires_grad=True)  # gradients still flow through a kernel op
    mf.sigmoid(y).sum().backward()
    s = 1 / (1 + np.exp(-y.data))
    g = y.grad.data if hasattr(y.grad, "data") else y.grad
    np.testing.assert_allclose(g, s * (1 - s), rtol=1e-12)
    assert calls == ["sigmoid", "sigmoid"]


def _run_fresh(code: str, env_extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_minifw_does_not_import_numba():
    out = _run_fresh("""
        import json, sys
        import minifw as mf
        x = mf.tensor([1.0, 2.0]); y = mf.sigmoid(x) * x + 1
        print(json.dumps({"numba": "numba" in sys.modules}))
    """)
    assert out == {"numba": False}


def test_threading_policy_in_effect_once_kernels_load():
    out = _run_fresh("""
        import json, os, sys, numpy as np
        env_before = os.environ.get("OMP_WAIT_POLICY")
        from minifw.kernels import cpu, threads
        from minifw.ops import get
        cpu.map(get("exp"), np.ones(1 << 17))  # parallel kernel: starts numba's thread pool
        print(json.dumps({"before": env_before, **threads.policy_report()}))
    """)
    assert out["before"] is None or out["before"] == "passive"
    assert out["OMP_WAIT_POLICY"] == "passive"
    assert out["threading_layer"] in ("omp", "tbb", "workqueue")


@pytest.mark.slow
def test_second_process_loads_kernels_from_disk_cache(tmp_path):
    code = """
        import json, time, numpy as np
        t0 = time.perf_counter()
        from minifw.kernels import cpu
        from minifw.ops import get
        t1 = time.perf_counter()
        cpu.map(get("tanh"), np.ones(100))
        t2 = time.perf_counter()
        print(json.dumps({"import": t1 - t0, "first_call": t2 - t1}))
    """
    env = {"MINIFW_CACHE_DIR": str(tmp_path)}
    cold = _run_fresh(code, env)
    warm = _run_fresh(code, env)
    files = list((tmp_path / "kernels").glob("__pycache__/*.nbi"))
    assert files, "numba wrote no cache index"
    assert warm["first_call"] < cold["first_call"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_folded_sums_equal_numpy_over_outer_rows(dtype):
    """kernels.sums.add_reduce (the CPU ``sum``): over the outer block of axes in memory (a channels-last
    gradient over N, H, W; a C-order batch over its first axes) the rows are folded, within float rounding
    of the float64 sum; other axes, small arrays and integers go to numpy as they are."""
    from minifw.kernels import sums

    rng = np.random.default_rng(5)
    last = rng.standard_normal((64, 8, 8, 20)).astype(dtype).transpose(0, 3, 1, 2)  # NCHW shape, NHWC memory
    rows = rng.standard_normal((96, 7, 6)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for x, axis in [(last, (0, 2, 3)), (rows, (0,)), (rows, (0, 1)), (last, (1,)), (last, (0, 1, 2, 3))]:
        folded = sums._rows(x, axis) is not None
        assert folded == (axis in ((0, 2, 3), (0,), (0, 1)))
        for keepdims in (False, True):
            want = np.add.reduce(x.astype(np.float64), axis=axis, keepdims=keepdims)
            got = sums.add_reduce(x, axis, keepdims)
            assert got.shape == want.shape and got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * x.shape[0])
    out = np.empty(20, dtype)
    assert sums.add_reduce(last, (0, 2, 3), False, out) is out
    np.testing.assert_allclose(out, last.astype(np.float64).sum((0, 2, 3)), rtol=tol, atol=tol * 64)
    ints = np.arange(24).reshape(4, 6)
    np.testing.assert_array_equal(sums.add_reduce(ints, (0,)), ints.sum(0))
