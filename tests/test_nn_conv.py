"""The conv primitives (im2col, col2im) and the conv/pool layers built on them."""

import numpy as np
import pytest

import minifw as mf
from minifw.nn import functional as NF
from minifw.ops.conv import col2im, im2col
from minifw.registry import ShapeError, get
from minifw.testing import gradcheck

CASES = [((3, 3), 1, 1), ((2, 2), 2, 0), ((3, 2), (2, 1), ((1, 0), (0, 2))), ((1, 1), 1, 0)]


def _naive_conv(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride: i * stride + kh, j * stride: j * stride + kw]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return out


@pytest.mark.parametrize("kernel,stride,padding", CASES)
def test_im2col_and_col2im_gradcheck_float64(kernel, stride, padding):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    assert gradcheck(lambda t: im2col(t, kernel, stride, padding), [x])
    cols = im2col(mf.tensor(x), kernel, stride, padding).numpy()
    assert gradcheck(lambda t: col2im(t, x.shape, kernel, stride, padding), [cols])


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 7, 7))
    cols = im2col(mf.tensor(x), 3, 2, 1).numpy()
    c = rng.standard_normal(cols.shape)
    lhs = np.sum(cols * c)
    rhs = np.sum(x * col2im(mf.tensor(c), x.shape, 3, 2, 1).numpy())
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_second_derivatives_flow_through_conv():
    # d/dx of a gradient of a conv: col2im's vjp is im2col, so this must work.
    x = np.random.default_rng(2).standard_normal((1, 1, 4, 4))
    w = np.random.default_rng(3).standard_normal((2, 1, 3, 3))

    def g(xt):
        wt = mf.tensor(w, dtype=mf.float64, requires_grad=True)
        y = NF.conv2d(xt, wt, padding=1)
        (gw,) = mf.autograd.grad((y * y).sum(), [wt], create_graph=True)
        return (gw * gw).sum()

    assert gradcheck(g, [x], atol=1e-4)


def test_conv2d_matches_a_naive_loop():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    for stride, pad in [(1, 0), (1, 1), (2, 1)]:
        got = NF.conv2d(mf.tensor(x), mf.tensor(w), mf.tensor(b), stride, pad).numpy()
        np.testing.assert_allclose(got, _naive_conv(x, w, b, stride, pad), atol=1e-10)


def test_conv2d_gradcheck():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    assert gradcheck(lambda a, k, c: NF.conv2d(a, k, c, stride=2, padding=1), [x, w, b])


def test_pooling_values_and_gradients():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(NF.max_pool2d(mf.tensor(x), 2).numpy()[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(NF.avg_pool2d(mf.tensor(x), 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    rng = np.random.default_rng(6)
    y = rng.standard_normal((2, 3, 5, 5))
    assert gradcheck(lambda t: NF.max_pool2d(t, 2, 2, 0, ceil_mode=True), [y])
    assert gradcheck(lambda t: NF.avg_pool2d(t, 3, 2, 1), [y])


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 1, 3, 3))
    out = NF.max_pool2d(mf.tensor(x), 2, 2, 1).numpy()
    assert (out == -1).all()


def test_shape_rules_name_the_op_and_shapes():
    with pytest.raises(ShapeError, match=r"im2col: input must be 4-D .*\(3, 4\)"):
        get("im2col").shape_rule([(3, 4)], [np.dtype("f4")], kernel=(2, 2), stride=(1, 1),
                                 padding=((0, 0), (0, 0)), pad_value=0.0)
    with pytest.raises(ShapeError, match="im2col: kernel 5x5 is larger"):
        im2col(mf.zeros(1, 1, 3, 3), 5)
    with pytest.raises(ShapeError, match=r"conv2d: input of shape \(1, 2, 5, 5\)"):
        NF.conv2d(mf.zeros(1, 2, 5, 5), mf.zeros(4, 3, 3, 3))
    with pytest.raises(ShapeError, match="col2im"):
        get("col2im").shape_rule([(1, 2, 2, 1, 2, 2)], [np.dtype("f4")], x_shape=(1, 1, 5, 5), kernel=(2, 2),
                                 stride=(1, 1), padding=((0, 0), (0, 0)))


# --- the conv2d trio and the max-pool trio: numba loops == numpy reference, eager == jit ---------------------------
WINDOWS = [((3, 3), (1, 1), ((1, 1), (1, 1))), ((2, 3), (2, 1), ((1, 0), (0, 1))), ((2, 2), (2, 2), ((0, 0), (0, 0)))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,stride,padding", WINDOWS)
def test_loops_equal_the_numpy_reference(dtype, kernel, stride, padding):
    from minifw.kernels import conv as kconv
    from minifw.ops import conv

    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 3) + kernel).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    y = conv.conv2d_arrays(x, w, b, stride, padding)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    loops = kconv.LOOP_ARRAYS
    np.testing.assert_allclose(conv.conv2d_arrays(x, w, b, stride, padding, loops), y, **tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(conv.conv2d_input_grad_arrays(g, w, x.shape, stride, padding, loops),
                               conv.conv2d_input_grad_arrays(g, w, x.shape, stride, padding), **tol)
    np.testing.assert_allclose(conv.conv2d_weight_grad_arrays(x, g, w.shape, stride, padding, loops),
                               conv.conv2d_weight_grad_arrays(x, g, w.shape, stride, padding), **tol)
    pool_pad = tuple((min(a, kernel[i] // 2), b) for i, (a, b) in enumerate(padding))
    x[0, 0, 1, 1:3] = np.nan  # the first NaN of a window wins, as numpy's argmax and PyTorch's max pool
    index = conv._pool_argmax_impl(x, kernel, stride, pool_pad)
    np.testing.assert_array_equal(kconv.IMPLS["pool_argmax"](None)(x, kernel, stride, pool_pad), index)
    picked = conv._pool_gather_impl(x, index)
    np.testing.assert_array_equal(kconv.IMPLS["pool_gather"](None)(x, index), picked)
    np.testing.assert_array_equal(picked, conv._im2col_impl(x, kernel, stride, pool_pad, -np.inf)
                                  .max(axis=(4, 5)).transpose(0, 3, 1, 2))
    np.testing.assert_allclose(kconv.IMPLS["pool_scatter"](None)(picked, index, x.shape),
                               conv._pool_scatter_impl(picked, index, x.shape), **tol)


def test_max_pool_gives_a_tied_window_gradient_to_its_first_maximum():
    x = mf.tensor(np.array([[[[1.0, 3.0], [3.0, 0.0]]]]), requires_grad=True)
    NF.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 1], [0, 0]])  # PyTorch's rule, not a split


def test_max_pool_keeps_an_index_not_a_window_sized_mask():
    x = mf.tensor(np.random.default_rng(9).standard_normal((2, 3, 8, 8)), requires_grad=True)
    y = NF.max_pool2d(x, 2)
    from minifw.eager.tensor import values_of

    index = values_of(y._node)[1]  # the record keeps (x, index): the input and the arg-max, no mask
    assert y.grad_fn.name == "pool_gather" and index.dtype == np.int64 and index.shape == (2, 3, 4, 4)


def test_new_shape_rules_name_the_op_and_shapes():
    with pytest.raises(ShapeError, match=r"max_pool2d: padding .* at most half the kernel"):
        NF.max_pool2d(mf.zeros(1, 1, 6, 6), 2, 2, 2)
    with pytest.raises(ShapeError, match=r"pool_gather: index of shape \(1, 2, 2, 2\) does not fit .*\(1, 1, 4, 4\)"):
        get("pool_gather").shape_rule([(1, 1, 4, 4), (1, 2, 2, 2)], [np.dtype("f4"), np.dtype("i8")])
    with pytest.raises(ShapeError, match=r"conv2d_input_grad: cotangent of shape \(1, 4, 3, 3\)"):
        get("conv2d_input_grad").shape_rule([(1, 4, 3, 3), (4, 2, 3, 3)], [np.dtype("f4")] * 2, x_shape=(1, 2, 6, 6),
                                            stride=(1, 1), padding=((0, 0), (0, 0)))


@pytest.mark.parametrize("loops", [True, False])
def test_lenet_step_eager_equals_jit(loops):
    """Two LeNet-shaped training steps (conv, pool, conv, pool, fc): eager, the compiled forward+backward
    with an eager SGD, and the fully compiled step (SGD inside the graph) agree, on the numba loops and on
    the numpy reference."""
    from minifw import nn, optim
    from minifw.kernels import dispatch

    rng = np.random.default_rng(10)
    x, y = rng.random((4, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 4)
    results = []
    dispatch.install(conv_loops=loops)
    try:
        for how in ("eager", "jit", "jit+sgd"):
            mf.manual_seed(0)
            net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                nn.Conv2d(4, 6, 3, padding=1), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(),
                                nn.Linear(24, 10))
            opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
            step = {"eager": lambda a, b, m=net: NF.cross_entropy(m(a), b),
                    "jit": net.compile_step(NF.cross_entropy),
                    "jit+sgd": net.compile_step(NF.cross_entropy, optimizer=opt)}[how]
            losses = []
            for _ in range(2):
                opt.zero_grad()
                loss = step(mf.tensor(x), mf.tensor(y))
                if how == "eager":
                    loss.backward()
                if how != "jit+sgd":
                    opt.step()
                losses.append(float(loss.item()))
            assert opt.step_count == 2 and all(opt.state[id(p)]["step"] == 2 for p in net.parameters())
            results.append((losses, [p.numpy().copy() for p in net.parameters()]))
    finally:
        dispatch.install()
    (l0, p0), *others = results
    for losses, params in others:
        np.testing.assert_allclose(losses, l0, rtol=1e-5)
        for a, b in zip(params, p0):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_compile_step_refuses_an_optimizer_over_other_tensors():
    from minifw import nn, optim
    from minifw.nn.module import CompileStepError

    net, other = nn.Linear(3, 2), nn.Linear(3, 2)
    with pytest.raises(CompileStepError, match=r"tensor of shape \(2, 3\) that is not a parameter of this module"):
        net.compile_step(NF.cross_entropy, optimizer=optim.SGD(other.parameters(), lr=0.1))


def test_small_gemms_run_on_one_blas_thread_and_large_ones_on_all(monkeypatch):
    from minifw.kernels import threads

    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((8, 5)), rng.standard_normal((5, 3))
    blas = threads.blas()
    full = blas.full
    try:
        monkeypatch.setattr(threads, "SMALL_GEMM_FLOPS", 1000)
        np.testing.assert_array_equal(threads.matmul(a, b), a @ b)  # 240 flops: one thread
        assert blas.now == 1 and threads.policy_report()["blas_threads"] == {"now": 1, "full": full}
        big = rng.standard_normal((20, 30))
        np.testing.assert_array_equal(threads.matmul(big, big.T), big @ big.T)  # 24,000 flops: all of them
        assert blas.now == full
        assert all(lib.num_threads == full for lib in blas.libs)
    finally:
        blas.use(full)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_loops_equal_the_numpy_reference(dtype):
    """The loops' convolution hands its GEMM rows on as a channels-last view (no copy to NCHW); im2col and the
    max-pool trio read and write that layout and give the NCHW reference's numbers, ties and NaNs included."""
    from minifw.kernels import conv as kconv
    from minifw.ops import conv

    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 6, 7)).astype(dtype)
    w, b = rng.standard_normal((5, 3, 3, 3)).astype(dtype), rng.standard_normal(5).astype(dtype)
    same, loops = ((1, 1), ((1, 1), (1, 1))), kconv.LOOP_ARRAYS
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    y = conv.conv2d_arrays(x, w, b, *same, loops)
    assert kconv._nhwc(y) is not None  # channels-last memory, NCHW shape
    np.testing.assert_allclose(y, conv.conv2d_arrays(x, w, b, *same), **tol)
    y = np.ascontiguousarray(y)
    y[0, 1, 2, 2:4] = y[0, 1, 3, 2] = 7.0  # a tie: the first maximum wins
    y[1, 4, 0, 1] = np.nan  # the NaN wins its window
    last = np.ascontiguousarray(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(kconv.IMPLS["im2col"](None)(last, (3, 3), *same), conv._im2col_impl(y, (3, 3), *same))
    pool = ((2, 2), (2, 2), ((0, 0), (0, 0)))
    index = kconv.IMPLS["pool_argmax"](None)(last, *pool)
    assert kconv._nhwc(index) is not None
    np.testing.assert_array_equal(index, conv._pool_argmax_impl(y, *pool))
    picked = kconv.IMPLS["pool_gather"](None)(last, index)
    assert kconv._nhwc(picked) is not None
    np.testing.assert_array_equal(picked, conv._pool_gather_impl(y, index))
    g = rng.standard_normal(picked.shape).astype(dtype)  # NCHW, as a Linear layer's gradient arrives
    back = kconv.IMPLS["pool_scatter"](None)(g, index, y.shape)
    assert kconv._nhwc(back) is not None
    np.testing.assert_array_equal(back, conv._pool_scatter_impl(g, np.ascontiguousarray(index), y.shape))
    gx = conv.conv2d_input_grad_arrays(back, w, x.shape, *same, loops)  # taps-last columns, col2im channels-last
    assert kconv._nhwc(gx) is not None
    np.testing.assert_allclose(gx, conv.conv2d_input_grad_arrays(np.ascontiguousarray(back), w, x.shape, *same), **tol)
    w2 = rng.standard_normal((4, 5, 3, 3)).astype(dtype)  # a second convolution reads the first one's output
    for inp in (x, last):  # NCHW and channels-last inputs: im2col's (C, kh, kw) and (kh, kw, C) columns
        ref = np.ascontiguousarray(inp)
        wi = w if inp.shape[1] == 3 else w2
        np.testing.assert_allclose(conv.conv2d_arrays(inp, wi, None, *same, loops),
                                   conv.conv2d_arrays(ref, wi, None, *same), **tol)
        gy = rng.standard_normal((inp.shape[0], wi.shape[0]) + inp.shape[2:]).astype(dtype)
        gw = conv.conv2d_weight_grad_arrays(inp, gy, wi.shape, *same, loops)
        assert gw.flags.c_contiguous
        np.testing.assert_allclose(gw, conv.conv2d_weight_grad_arrays(ref, gy, wi.shape, *same), **tol)


def test_mid_sized_gemms_take_all_blas_threads_only_while_the_cores_are_free(monkeypatch):
    """Between PARALLEL_GEMM_FLOPS and SMALL_GEMM_FLOPS a GEMM runs on all BLAS threads when the other processes
    leave the cores free (FreeCores: /proc/stat's busy time less this process's), on one when they do not."""
    from minifw.kernels import threads

    blas = threads.blas()
    full = blas.full
    if full < 2:
        pytest.skip("the BLAS library runs one thread here (OPENBLAS_NUM_THREADS=1 or one CPU)")
    free = threads.FreeCores()
    clock = iter([10.0, 10.2, 10.25, 10.4, 10.6])  # a sample, one 0.2 s later, one too soon, two 0.2 s apart
    # (time, busy CPU seconds of all processes, this process's CPU seconds)
    samples = iter([(10.0, 100.0, 5.0), (10.2, 100.5, 5.3), (10.4, 100.9, 5.5), (10.6, 101.3, 5.55)])
    monkeypatch.setattr(threads.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(free, "_sample", lambda: next(samples))
    assert free.free() is None  # one sample is not a rate yet
    assert free.free() == pytest.approx(free.cpus - (0.5 - 0.3) / 0.2)  # others used 1 core of the 0.2 s
    assert free.free() == pytest.approx(free.cpus - 1.0)  # within the interval: the last value
    assert free.free() == pytest.approx(free.cpus - (0.4 - 0.2) / 0.2)
    assert free.free() == pytest.approx(free.cpus - 1.0)  # this process mostly waited: the last value stays
    monkeypatch.undo()
    a, b = np.ones((256, 256)), np.ones((256, 128))  # 16.8 MFLOP: between the two thresholds
    try:
        for cores, want in ((float(full), full), (full - 1.0, 1), (None, 1)):
            monkeypatch.setattr(threads.FREE, "free", lambda c=cores: c)
            np.testing.assert_array_equal(threads.matmul(a, b), a @ b)
            assert blas.now == want
        assert threads.blas_threads_for(threads.PARALLEL_GEMM_FLOPS - 1) == 1  # small: one thread whatever
    finally:
        blas.use(full)
