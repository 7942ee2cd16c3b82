"""PyTorch as an oracle: random compositions give the same values and the
same gradients in minifw and in PyTorch (float64, CPU).

torch is an optional test dependency (``pip install minifw[peers]``);
without it these tests are skipped.
"""

from __future__ import annotations

import numpy as np
import pytest

import minifw as mf
from minifw import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here; install minifw[peers] to run these")
pytestmark = pytest.mark.slow  # importing torch alone takes ~1.5 s: the optional oracle runs in the full tier

SEEDS = [0, 1, 2]


def both(*arrays):
    """The same float64 leaves in minifw and in torch."""
    ours = [mf.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return ours, theirs


def check(ours_out, theirs_out, ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(ours_out.numpy(), theirs_out.detach().numpy(), rtol=rtol, atol=atol)
    ours_out.backward()
    theirs_out.backward()
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"input {i}")


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_cross_entropy_with_log_softmax_and_gather(seed):
    rng = np.random.default_rng(seed)
    n, d, h, k = 8, 5, 6, 3
    x = rng.standard_normal((n, d))
    labels = rng.integers(0, k, n)
    params = [rng.standard_normal((d, h)) * 0.5, rng.standard_normal(h) * 0.1,
              rng.standard_normal((h, k)) * 0.5, rng.standard_normal(k) * 0.1]
    (w1, b1, w2, b2), (tw1, tb1, tw2, tb2) = both(*params)

    logits = F.relu(mf.tensor(x) @ w1 + b1) @ w2 + b2
    logp = F.log_softmax(logits, axis=1)
    ours = -F.mean(logp[np.arange(n), labels])  # gather: one picked entry per row

    tlogits = torch.relu(torch.tensor(x) @ tw1 + tb1) @ tw2 + tb2
    tlogp = torch.log_softmax(tlogits, dim=1)
    theirs = -tlogp[torch.arange(n), torch.tensor(labels)].mean()
    assert torch.allclose(theirs, torch.nn.functional.cross_entropy(tlogits, torch.tensor(labels)))

    check(ours, theirs, [w1, b1, w2, b2], [tw1, tb1, tw2, tb2])


@pytest.mark.parametrize("seed", SEEDS)
def test_embedding_lookup_with_repeated_rows(seed):
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((5, 3))
    idx = rng.integers(0, 5, 12)  # 12 draws from 5 rows: repeats are certain
    weights = rng.standard_normal((12, 3))
    (t,), (tt,) = both(table)
    ours = F.sum(t[idx] * mf.tensor(weights))
    theirs = (tt[torch.tensor(idx)] * torch.tensor(weights)).sum()
    check(ours, theirs, [t], [tt])


@pytest.mark.parametrize("seed", SEEDS)
def test_softmax_composition(seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    (a, b), (ta, tb) = both(x, w)
    ours = F.sum(F.softmax(a, axis=1) * F.tanh(b)) + F.sum(F.softmax(a * b, axis=-1) ** 2)
    theirs = (torch.softmax(ta, dim=1) * torch.tanh(tb)).sum() + (torch.softmax(ta * tb, dim=-1) ** 2).sum()
    check(ours, theirs, [a, b], [ta, tb])


@pytest.mark.parametrize("seed", SEEDS)
def test_max_and_min_reductions(seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 5))
    (a, b), (ta, tb) = both(x, w)
    ours = (F.sum(F.max(a, axis=1) * b) + F.sum(F.min(a, axis=(0, 2), keepdims=True) ** 2)
            + F.max(a) * F.mean(F.maximum(a, 0.1)))
    theirs = ((torch.amax(ta, dim=1) * tb).sum() + (torch.amin(ta, dim=(0, 2), keepdim=True) ** 2).sum()
              + ta.max() * torch.clamp(ta, min=0.1).mean())
    check(ours, theirs, [a, b], [ta, tb])


@pytest.mark.parametrize("sa, sb", [((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((4,), (4,)),
                                    ((1, 3, 4), (2, 4, 3))])
def test_broadcasting_matmul(sa, sb):
    rng = np.random.default_rng(sum(sa) + sum(sb))
    (a, b), (ta, tb) = both(rng.standard_normal(sa), rng.standard_normal(sb))
    c = rng.standard_normal(np.broadcast_shapes(np.matmul(np.ones(sa), np.ones(sb)).shape))
    ours = F.sum(F.sin(a @ b) * mf.tensor(c))
    theirs = (torch.sin(ta @ tb) * torch.tensor(c)).sum()
    check(ours, theirs, [a, b], [ta, tb])


@pytest.mark.parametrize("seed", SEEDS)
def test_movement_composition(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3))
    (a, b), (ta, tb) = both(x, y)
    ours = F.concatenate([F.permute(a, (2, 0, 1)), F.unsqueeze(b, 0) * 2.0], axis=0)
    ours = F.sum(F.reshape(ours, (5, 6))[1:4:2] ** 3) + F.sum(F.stack([b, F.exp(b)], axis=1)[:, 1])
    theirs = torch.cat([ta.permute(2, 0, 1), tb.unsqueeze(0) * 2.0], dim=0)
    theirs = (theirs.reshape(5, 6)[1:4:2] ** 3).sum() + torch.stack([tb, tb.exp()], dim=1)[:, 1].sum()
    check(ours, theirs, [a, b], [ta, tb])


def test_second_derivative_matches_torch():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(4)
    (a,), (ta,) = both(x0)
    (g,) = mf.autograd.grad(F.sum(F.tanh(a) * F.sigmoid(a)), a, create_graph=True)
    (tg,) = torch.autograd.grad((torch.tanh(ta) * torch.sigmoid(ta)).sum(), ta, create_graph=True)
    check(F.sum(g * g), (tg * tg).sum(), [a], [ta])
