"""minifw.optim: SGD (momentum, weight decay, Nesterov), Adam, schedules."""

import numpy as np
import pytest

import minifw as mf
from minifw import optim


def _run(opt_cls, steps=5, **kw):
    p = mf.tensor(np.array([1.0, -2.0, 3.0], np.float64), requires_grad=True)
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        opt.zero_grad()
        (p * p).sum().backward()  # gradient 2p
        opt.step()
    return p.numpy()


def test_sgd_momentum_weight_decay_matches_the_formula():
    lr, mu, wd = 0.1, 0.9, 0.01
    p = np.array([1.0, -2.0, 3.0])
    buf = np.zeros(3)
    for _ in range(5):
        g = 2 * p + wd * p
        buf = mu * buf + g
        p = p - lr * buf
    np.testing.assert_allclose(_run(optim.SGD, lr=lr, momentum=mu, weight_decay=wd), p, rtol=1e-12)


def test_sgd_nesterov_and_plain():
    p = np.array([1.0, -2.0, 3.0])
    buf = np.zeros(3)
    for _ in range(5):
        g = 2 * p
        buf = 0.9 * buf + g
        p = p - 0.1 * (g + 0.9 * buf)
    np.testing.assert_allclose(_run(optim.SGD, lr=0.1, momentum=0.9, nesterov=True), p, rtol=1e-12)
    np.testing.assert_allclose(_run(optim.SGD, steps=1, lr=0.25), np.array([1.0, -2.0, 3.0]) * 0.5)


def test_adam_matches_the_paper():
    p = np.array([1.0, -2.0, 3.0])
    m = v = np.zeros(3)
    for t in range(1, 6):
        g = 2 * p
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        p = p - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(_run(optim.Adam, lr=0.01), p, rtol=1e-10)


def test_optimisers_minimise_a_quadratic():
    for cls, kw in [(optim.SGD, dict(lr=0.1, momentum=0.5)), (optim.Adam, dict(lr=0.1))]:
        assert np.abs(_run(cls, steps=200, **kw)).max() < 1e-2


def test_step_lr_and_inverse_lr():
    p = mf.tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25]
    opt2 = optim.SGD([p], lr=0.01)
    inv = optim.InverseLR(opt2, gamma=1e-4, power=0.75)
    for _ in range(100):
        inv.step()
    assert inv.get_last_lr()[0] == pytest.approx(0.01 * (1 + 1e-4 * 100) ** -0.75)


def test_param_groups_state_dict_and_errors():
    a, b = mf.tensor([1.0], requires_grad=True), mf.tensor([2.0], requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    (a * b).sum().backward()
    opt.step()
    sd = opt.state_dict()
    opt2 = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    opt2.load_state_dict(sd)
    assert opt2.state[id(a)]["step"] == 1
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_update_rules_are_pure_functions_of_arrays():
    # what lets a static frontend reuse them on symbols: no in-place writes
    p, g = np.ones(3), np.full(3, 0.5)
    state = {"exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3), "step": 1}
    new_p, new_state = optim.adam_rule(p, g, state, lr=0.1)
    assert (p == 1).all() and (state["exp_avg"] == 0).all()
    np.testing.assert_allclose(new_p, 0.9)
    assert set(new_state) == {"exp_avg", "exp_avg_sq"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum,weight_decay,nesterov", [(0.0, 0.0, False), (0.0, 0.01, False),
                                                            (0.9, 0.0, False), (0.9, 0.01, True)])
def test_sgd_step_in_place_equals_the_rule_bit_for_bit(dtype, momentum, weight_decay, nesterov, monkeypatch):
    """SGD.step runs sgd_rule as one in-place loop (minifw.kernels.updates) on contiguous float arrays: the
    same numbers as the rule itself, which still runs for anything else (here: a non-contiguous parameter)."""
    import types

    from minifw.kernels import updates
    from minifw.optim import sgd
    from minifw.optim.sgd import sgd_rule

    calls = []
    monkeypatch.setattr(sgd, "_updates", types.SimpleNamespace(sgd=lambda *a: calls.append(a) or updates.sgd(*a)))
    rng = np.random.default_rng(3)
    data = [rng.standard_normal((4, 5)).astype(dtype), rng.standard_normal(7).astype(dtype),
            rng.standard_normal((5, 4)).astype(dtype).T]  # the last is a transposed view: the rule's path
    params = [mf.tensor(d, requires_grad=True) for d in data]
    params[2].data = data[2]
    assert not params[2].data.flags.c_contiguous
    hyper = dict(lr=0.05, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    opt = optim.SGD(params, **hyper)
    want = [p.numpy().copy() for p in params]
    bufs = [np.zeros_like(w) for w in want]
    for _ in range(3):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        for p, g in zip(params, grads):
            p.grad = mf.tensor(g)
        opt.step()
        for k, g in enumerate(grads):
            want[k], st = sgd_rule(want[k], g, {"momentum_buffer": bufs[k]}, **hyper)
            bufs[k] = st.get("momentum_buffer", bufs[k])
    for p, w, b in zip(params, want, bufs):
        assert p.data.dtype == dtype
        np.testing.assert_array_equal(p.numpy(), w)
        np.testing.assert_array_equal(opt.state[id(p)]["momentum_buffer"], b)
        assert opt.state[id(p)]["step"] == 3
    assert len(calls) == 2 * 3  # the loop ran for the two contiguous parameters, the rule for the view
