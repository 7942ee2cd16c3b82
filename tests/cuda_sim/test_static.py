"""Fused kernels, ``jit``, ``Session`` and ``function`` on the device (simulator: tiny sizes)."""

import numpy as np
from helpers import close

import minifw as mf
from minifw import static
from minifw.kernels import cuda as C


def w2(x, w, b):
    return ((x * w + b).tanh() * x.sigmoid() + (-(x * x)).exp()).sum()


def test_fused_w2_forward_backward_cpu_equals_cuda():
    x = np.linspace(-2, 2, 37).astype(np.float32)
    f = mf.jit(mf.value_and_grad(w2))
    args = (x, x * 0.5, x * 0.1 + 0.2)
    vc, gc = f(*[mf.tensor(a) for a in args])
    dev = [mf.tensor(a, device="cuda") for a in args]
    assert f.lower(*dev).kernels(), "the forward+backward should be one fused group"
    C.reset_transfers()
    vd, gd = f(*dev)
    assert C.transfers["h2d"] == 0 and C.transfers["d2h"] == 0
    assert vd.device == "cuda" and gd.device == "cuda"
    close(vc, vd, rtol=1e-5)
    close(gc, gd, rtol=1e-5)


def test_fused_kernel_with_broadcast_inputs_and_several_outputs():
    a = np.linspace(-1, 1, 12).astype(np.float32).reshape(3, 4)
    b = np.linspace(0.5, 1, 4).astype(np.float32)
    f = mf.jit(lambda a, b: ((a * b).tanh() + b, (a - b).relu().sum()))
    oc = f(mf.tensor(a), mf.tensor(b))
    od = f(mf.tensor(a, device="cuda"), mf.tensor(b, device="cuda"))
    for c, d in zip(oc, od):
        close(c, d)


def test_session_training_step_keeps_variables_on_the_device():
    x = np.linspace(-1, 1, 12).astype(np.float32).reshape(4, 3)
    results = {}
    for device in ("cpu", "cuda"):
        with static.Graph():
            xp = static.placeholder((4, 3), name="x")
            W = static.Variable(np.full((3, 2), 0.5, np.float32), name="W")
            loss = ((xp @ W).tanh() ** 2).mean()
            (gW,) = static.gradients(loss, [W])
            train = static.function([xp], loss, updates=[(W, W - 0.5 * gW)])
            feed = x if device == "cpu" else C.to_device(x)
            losses = [train(feed) for _ in range(3)]
            results[device] = (losses, W.value)
    assert type(results["cuda"][1]) is C.CudaArray
    for lc, ld in zip(results["cpu"][0], results["cuda"][0]):
        close(np.asarray(lc), ld)
    close(results["cpu"][1], results["cuda"][1])


def test_session_run_on_device_feed():
    with static.Graph():
        xp = static.placeholder((2, 3), name="x")
        y = (xp * 2.0).softmax(1).sum(0)
        sess = static.Session()
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        close(sess.run(y, {xp: x}), sess.run(y, {xp: C.to_device(x)}))
