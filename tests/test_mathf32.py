"""float32 transcendentals of the fused kernels (minifw.kernels.mathf32), the cost model of the fusion pass
(minifw.kernels.cost), and whether the W2 kernel vectorises.

Stated bounds (float32 results against numpy's float64 result rounded to float32, over every 4099th float32
bit pattern, i.e. ~1M inputs spanning subnormals to the largest floats): vexpf, vlogf <= 2 ulp; vtanhf,
vsigmoidf <= 3 ulp.  The ulp of a subnormal result is 2**-149, so those are held to the same count.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import minifw as mf
from minifw import static
from minifw.kernels import cost, mathf32

F = np.float32
BOUNDS = {"vexpf": (np.exp, 2), "vlogf": (np.log, 2), "vtanhf": (np.tanh, 3),
          "vsigmoidf": (lambda v: 1 / (1 + np.exp(-v)), 3)}
DENORM = float(np.finfo(np.float32).smallest_subnormal)
EDGES = {  # input -> exact expected float32 result (nan: any nan)
    "vexpf": [(0.0, 1.0), (-0.0, 1.0), (DENORM, 1.0), (-DENORM, 1.0), (math.inf, math.inf), (-math.inf, 0.0),
              (math.nan, math.nan), (89.0, math.inf), (1000.0, math.inf), (-104.0, 0.0), (-1000.0, 0.0)],
    "vlogf": [(0.0, -math.inf), (-0.0, -math.inf), (1.0, 0.0), (-1.0, math.nan), (-math.inf, math.nan),
              (math.inf, math.inf), (math.nan, math.nan)],
    "vtanhf": [(0.0, 0.0), (-0.0, -0.0), (DENORM, DENORM), (-DENORM, -DENORM), (math.inf, 1.0), (-math.inf, -1.0),
               (20.0, 1.0), (-20.0, -1.0), (math.nan, math.nan)],
    "vsigmoidf": [(0.0, 0.5), (math.inf, 1.0), (-math.inf, 0.0), (200.0, 1.0), (-200.0, 0.0), (math.nan, math.nan)],
}


def _same(got, want) -> bool:
    got, want = F(got), F(want)
    return bool((np.isnan(got) and np.isnan(want)) or (got == want and np.signbit(got) == np.signbit(want)))


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_cases_in_plain_python(name):
    """The functions run on np.float32 scalars too (the pure-arithmetic bit helpers): specials exact, -0 kept."""
    fn = getattr(mathf32, name)
    with np.errstate(all="ignore"):
        for x, want in EDGES[name]:
            got = fn(F(x))
            assert isinstance(got, np.float32), (name, x, type(got))
            assert _same(got, want), (name, x, got, want)


def test_float32_groups_call_the_float32_versions_and_float64_groups_do_not():
    from minifw.kernels.codegen import FusedSpec
    from minifw.kernels.fusion import generate_source

    for dt, f32 in (("float32", True), ("float64", False)):
        spec = FusedSpec(ndim=1, inputs=[(dt, (True,))], outputs=[2],
                         body=[("exp", [("in", 0)], dt), ("tanh", [("v", 0)], dt), ("log", [("v", 1)], dt)])
        src = generate_source(spec)
        assert ("from minifw.kernels.mathf32 import vexpf as _f32_exp" in src) == f32
        assert ("from minifw.ops.scalar_math import vexp as _k_exp" in src) == (not f32)


# --- compiled (numba) ---------------------------------------------------------------------------
def _compiled(name):
    from minifw.kernels.fusion import fingerprint, load_module

    mod = load_module(f'''\
# scalar functions {fingerprint()}: a new file (never a stale cached kernel) when mathf32 changes
import numpy as np
from numba import njit
import minifw.kernels.jitable  # noqa: F401
from minifw.kernels.mathf32 import {name} as f


@njit(cache=True, error_model="numpy", fastmath={{"contract"}})
def run(x, o):
    for i in range(x.size):
        o[i] = f(x[i])
''')
    return mod.run


def _ulps(got: np.ndarray, want64: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        want = want64.astype(np.float32)
    ok = np.isfinite(want) & np.isfinite(got)
    spacing = np.spacing(np.abs(want[ok])).astype(np.float64)
    return np.abs(got[ok].astype(np.float64) - want[ok].astype(np.float64)) / spacing


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_accuracy_over_the_whole_float32_range(name):
    ref, bound = BOUNDS[name]
    x = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([x, np.array([e for e, _ in EDGES[name]], np.float32)])
    out = np.empty_like(x)
    _compiled(name)(x, out)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
        want32 = want.astype(np.float32)
    assert _ulps(out, want).max() <= bound
    # nan exactly where numpy gives nan, infinities exactly where numpy's rounded result is infinite
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want32))
    np.testing.assert_array_equal(out[np.isinf(want32)], want32[np.isinf(want32)])
    for (xe, we), got in zip(EDGES[name], out[-len(EDGES[name]):]):
        assert _same(got, we), (name, xe, got, we)
    # the compiled function and the plain-Python one agree on a sample (the bit helpers match their fallbacks)
    fn = getattr(mathf32, name)
    with np.errstate(all="ignore"):
        for v, o in zip(x[::20011], out[::20011]):
            assert _same(fn(v), o), (name, v, fn(v), o)


def _w2(n, dtype):
    with static.Graph():
        x = static.placeholder((n,), dtype, name="x")
        w, b = static.placeholder((), dtype), static.placeholder((), dtype)
        y = mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x) + mf.log(x * x + 1.0))
        gx = static.gradients(y, x)
    return [y, gx], [x, w, b]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_results_equal_unfused(dtype):
    outs, ins = _w2(20000, dtype)
    fused = static.compile(outs, inputs=ins)
    plain = static.compile(outs, inputs=ins, passes=[])
    assert fused.graph.count("fused") == 1 and plain.graph.count("fused") == 0
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(20000) * 4).astype(dtype)
    feeds = [x, np.asarray(0.7, dtype), np.asarray(0.1, dtype)]
    (y1, g1), (y0, g0) = fused.run(feeds)[0], plain.run(feeds)[0]
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(g1, g0, rtol=rtol * 4, atol=rtol * np.max(np.abs(g0)))
    np.testing.assert_allclose(y1, y0, rtol=rtol * 10)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(ln.split(":", 1)[1].split()) for ln in f if ln.startswith("flags")), set())
    except OSError:
        return set()


@pytest.mark.slow
@pytest.mark.skipif("avx2" not in _cpu_flags(), reason="the CPU has no AVX2 (or /proc/cpuinfo is unreadable): "
                    "LLVM would not use 256-bit vectors for the W2 kernel here")
def test_the_w2_kernel_vectorises_on_this_cpu():
    outs, ins = _w2(1 << 16, np.float32)
    c = static.compile(outs, inputs=ins)
    (k,) = c.kernels()
    c.run([np.ones(1 << 16, np.float32), np.asarray(0.7, np.float32), np.asarray(0.1, np.float32)])
    v = k.vectorisation()
    assert v["vectorised"] and v["libm_calls"] == [], v
    assert v["vector_width"] >= 8 and v["registers"] in ("ymm", "zmm"), v  # 8 floats per ymm, 16 per zmm


# --- the cost model -----------------------------------------------------------------------------
C = cost.Constants(ufunc_s=0.5e-6, launch_s=1.7e-6, wake_s=10e-6, byte_s=8e-12, threads=2, par_speedup=2.0)


def test_cost_model_leaves_small_groups_to_numpy_and_fuses_big_ones(monkeypatch):
    monkeypatch.delenv("MINIFW_FUSION", raising=False)
    small = cost.decide(["mul", "sub"], [3 * 4 * 256] * 2, 3 * 4 * 256, C)
    assert not small.fuse and small.numpy_s < small.serial_s
    mid = cost.decide(["add", "relu", "step"], [3 * 4 * 32768] * 3, 3 * 4 * 32768, C)
    assert mid.fuse and not mid.parallel  # 400 KB: not worth waking the thread pool
    big = cost.decide(["mul", "add"], [2 * 4 << 24, 3 * 4 << 24], 3 * 4 << 24, C)
    assert big.fuse and big.parallel and big.parallel_s < big.serial_s < big.numpy_s
    many = cost.decide(["mul"] * 1000, [32] * 1000, 32, C)  # W5: a thousand ops on 4x4
    assert many.fuse and "fused, serial" in many.line("g")
    monkeypatch.setenv("MINIFW_FUSION", "always")
    assert cost.decide(["mul", "sub"], [12, 12], 12, C).fuse
    monkeypatch.setenv("MINIFW_FUSION", "never")
    assert not cost.decide(["mul", "add"], [2 * 4 << 24, 3 * 4 << 24], 3 * 4 << 24, C).fuse


def test_a_measured_parallel_speedup_below_the_margin_keeps_kernels_serial(monkeypatch):
    monkeypatch.delenv("MINIFW_FUSION", raising=False)
    args = (["mul", "add"], [2 * 4 << 24, 3 * 4 << 24], 3 * 4 << 24)
    assert cost.decide(*args, C).parallel  # both threads stream twice as fast: worth waking them
    slow = cost.decide(*args, dataclasses.replace(C, par_speedup=1.4))  # as measured on a shared 2-core machine
    assert slow.fuse and not slow.parallel and slow.parallel_s > 0.67 * slow.serial_s


def test_a_kernel_that_would_write_over_its_input_pays_for_its_scalar_loop(monkeypatch):
    monkeypatch.delenv("MINIFW_FUSION", raising=False)
    n = 784 * 256  # W1's first weight: w <- w - lr * g, updated in place
    args = (["mul", "sub"], [2 * 4 * n, 3 * 4 * n], 3 * 4 * n, dataclasses.replace(C, par_speedup=1.5))
    free, over = cost.decide(*args, size=n), cost.decide(*args, size=n, over_input="w")
    assert free.fuse and not over.fuse and over.numpy_s == free.numpy_s
    assert over.serial_s - C.launch_s == pytest.approx(C.alias_factor * (free.serial_s - C.launch_s))
    assert "write over its input w in place" in over.line("g") and "left to numpy" in over.line("g")


def test_sgd_updates_stay_on_numpy_and_fused_kernels_never_write_over_their_inputs(monkeypatch):
    monkeypatch.delenv("MINIFW_FUSION", raising=False)
    monkeypatch.setattr(cost, "_CURRENT", [C])
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((256, 128)).astype(np.float32)
    with static.Graph() as g:
        x = static.placeholder((64, 256), name="x")
        w = static.Variable(w0.copy(), name="w")
        loss = mf.sum(mf.relu(x @ w + 1.0) * 3.0)
        train = static.train.GradientDescentOptimizer(0.01).minimize(loss)
    sess = static.Session(g, memory_plan=True)
    xv = rng.standard_normal((64, 256)).astype(np.float32)
    c = sess.compiled(train, {x: xv})
    text = c.explain(print_fn=None)
    assert "[mul sub] shape (256, 128): numpy" in text and "write over its input w in place" in text
    fused = [n for n in c.graph.order if n.op == "fused"]
    assert fused  # the forward's add-relu-mul and the backward's mask still fuse
    for n in fused:  # each output in its own buffer, never over an input (that would run the scalar loop)
        outs = [c.buffers[o.id] for o in c.graph.order
                if o.op == "fused_out" and o.inputs[0] is n and o.id in c.buffers]
        ins = [c.buffers[i.id] for i in n.inputs if i.id in c.buffers]
        assert outs and not any(np.shares_memory(a, b) for a in outs for b in ins), n.name
    sess.run(train, {x: xv})
    mask = ((xv @ w0 + 1) > 0).astype(np.float32)
    np.testing.assert_allclose(sess.run(w), w0 - 0.01 * (xv.T @ (3.0 * mask)), rtol=1e-4, atol=1e-4)


def test_fusion_pass_applies_the_cost_model_and_explains_it(monkeypatch):
    monkeypatch.delenv("MINIFW_FUSION", raising=False)
    monkeypatch.setattr(cost, "_CURRENT", [C])

    def build(n):
        with static.Graph():
            x, b = static.placeholder((n, 64), name="x"), static.placeholder((64,), name="b")
            out = mf.relu(x + b) * 2.0
        return static.compile([out], inputs=[x, b])

    tiny, big = build(2), build(4096)
    assert tiny.graph.count("fused") == 0 and big.graph.count("fused") == 1
    assert big.kernels()[0].parallel_default is False  # 1 MB each way: serial wins on 2 threads at these costs
    text = tiny.explain(print_fn=None)
    assert "fusion cost model" in text and "left to numpy" in text
    assert "fused, serial" in big.explain(print_fn=None)
    x, b = np.ones((2, 64), np.float32), np.full(64, -2.0, np.float32)
    np.testing.assert_array_equal(tiny.run([x, b])[0][0], np.maximum(x + b, 0) * 2)


def test_measured_constants_are_kept_per_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFW_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cost, "_CURRENT", [])
    assert cost.constants() == cost.DEFAULTS
    (tmp_path / "kernels").mkdir(exist_ok=True)
    saved = cost.Constants(ufunc_s=1e-6, launch_s=2e-6, wake_s=3e-6, byte_s=1e-11, threads=2, source="test")
    import dataclasses
    import json

    (tmp_path / "kernels" / cost._FILE).write_text(json.dumps(dataclasses.asdict(saved)))
    monkeypatch.setattr(cost, "_CURRENT", [])
    assert cost.constants() == saved
