"""Quick CUDA checks: devices, transfers, errors, one forward+backward."""

import numpy as np
import pytest
from helpers import close, host

import minifw as mf
from minifw.kernels import cuda as C


def test_to_and_cpu_round_trip_counts_transfers():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    C.reset_transfers()
    t = mf.tensor(x, device="cuda")
    assert t.device == "cuda" and t.shape == (2, 3) and t.dtype == np.float32
    back = t.cpu()
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), x)
    assert C.transfers["h2d"] == 1 and C.transfers["d2h"] == 1
    assert mf.tensor(x).to("cuda").to("cpu").numpy().tolist() == x.tolist()


def test_eager_step_makes_no_transfers():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)

    def loss(x, w):
        return ((x @ w).relu() * 2.0 - 1.0).log_softmax(1).mean()

    xc, wc = mf.tensor(x), mf.tensor(w, requires_grad=True)
    xd, wd = mf.tensor(x, device="cuda"), mf.tensor(w, device="cuda", requires_grad=True)
    lc = loss(xc, wc)
    lc.backward()
    C.reset_transfers()
    ld = loss(xd, wd)
    ld.backward()
    assert C.transfers["h2d"] == 0 and C.transfers["d2h"] == 0  # everything stayed on the device
    assert wd.grad.device == "cuda"
    close(lc, ld)
    close(wc.grad, wd.grad)


def test_mixing_devices_is_a_clear_error():
    a = mf.tensor(np.ones((2, 2), np.float32), device="cuda")
    b = mf.tensor(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="same device"):
        a + b
    with pytest.raises(TypeError, match="same device|cuda"):
        mf.functional.where(b > 0, a, a)


def test_numpy_never_copies_silently():
    a = C.to_device(np.ones(3, np.float32))
    with pytest.raises(C.DeviceError, match="host"):
        np.asarray(a)
    with pytest.raises(C.DeviceError, match="host"):
        np.sort(a)
    with pytest.raises(TypeError, match="cpu"):
        mf.tensor(np.ones(2, np.float32), device="cuda").numpy()
    assert host(np.add(a, 1.0)).tolist() == [2.0, 2.0, 2.0]  # ufuncs run on the device


def test_item_repr_and_scalars():
    t = mf.tensor([1.5, 2.5], device="cuda")
    assert (t.sum()).item() == 4.0
    assert "device='cuda'" in repr(t)
    assert host(3.0 - t).tolist() == [1.5, 0.5]
    assert (t * 2).dtype == np.float32
