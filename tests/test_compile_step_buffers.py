"""A compiled training step (`Module.compile_step`, the hybrid style) updates
BatchNorm's running statistics exactly as an eager step does."""

import numpy as np

import minifw as mf
from minifw import nn, optim
from minifw.nn import functional as NF


def _net():
    mf.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _train(compiled: bool, steps: int = 5):
    rng = np.random.default_rng(0)
    net = _net()
    net.train()
    opt = optim.SGD(net.parameters(), lr=0.1)
    step = net.compile_step(NF.cross_entropy) if compiled else None
    losses = []
    for _ in range(steps):
        x = mf.tensor(rng.standard_normal((16, 6)).astype(np.float32))
        y = mf.tensor(rng.integers(0, 3, 16))
        opt.zero_grad()
        if step is not None:
            loss = step(x, y)
        else:
            loss = NF.cross_entropy(net(x), y)
            loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses, net[1]


def test_compiled_step_writes_back_running_statistics_like_eager():
    eager_losses, eager_bn = _train(compiled=False)
    jit_losses, jit_bn = _train(compiled=True)
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-5, atol=1e-6)
    assert not np.allclose(jit_bn.running_mean.numpy(), 0.0)  # the statistics did move
    np.testing.assert_allclose(jit_bn.running_mean.numpy(), eager_bn.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jit_bn.running_var.numpy(), eager_bn.running_var.numpy(), rtol=1e-5, atol=1e-6)
    assert jit_bn.pending_updates == []  # nothing left queued by the trace
