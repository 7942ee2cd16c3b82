"""minifw.nn: modules, parameters, layers, initialisers, losses."""

import math

import numpy as np
import pytest

import minifw as mf
from minifw import nn
from minifw.nn import functional as NF
from minifw.testing import gradcheck


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc2(self.drop(NF.relu(self.bn(self.fc1(x)))))


def test_parameters_children_and_names_are_registered():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "fc2", "drop"]
    assert [n for n, _ in net.named_buffers()] == ["bn.running_mean", "bn.running_var"]
    assert all(p.requires_grad for p in net.parameters())
    assert net.num_parameters() == 4 * 8 + 8 + 8 + 8 + 8 * 3 + 3


def test_module_needs_super_init():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"call super\(\)\.__init__\(\) first"):
        Bad()


def test_train_eval_switches_every_submodule():
    net = Net().eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_state_dict_round_trip_and_errors():
    mf.manual_seed(0)
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=False):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    sd = a.state_dict()
    sd.pop("fc1.bias")
    with pytest.raises(KeyError, match="missing keys.*fc1.bias"):
        b.load_state_dict(sd)
    sd = a.state_dict()
    sd["fc2.weight"] = np.zeros((2, 2))
    before = b.fc1.weight.numpy().copy()
    with pytest.raises(ValueError, match=r"'fc2.weight' has shape \(2, 2\)"):
        b.load_state_dict(sd)
    np.testing.assert_array_equal(b.fc1.weight.numpy(), before)  # nothing was half-loaded


def test_same_seed_same_weights_pytorch_default_init():
    mf.manual_seed(3)
    a = nn.Linear(10, 5)
    mf.manual_seed(3)
    b = nn.Linear(10, 5)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    bound = 1 / math.sqrt(10)
    assert np.abs(a.weight.numpy()).max() <= bound and np.abs(a.bias.numpy()).max() <= bound


def test_initialisers_have_the_textbook_spread():
    mf.manual_seed(0)
    w = nn.Parameter(np.zeros((400, 300), np.float32))
    nn.init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 700)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 700), rel=0.05)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 300), rel=0.05)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3, np.float32)))


def test_linear_and_losses_gradcheck():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    y = np.array([0, 2, 1, 1, 0])
    assert gradcheck(lambda a, k, c: NF.cross_entropy(NF.linear(a, k, c), mf.tensor(y)), [x, w, b])
    assert gradcheck(lambda a, t: NF.mse_loss(a, t), [x, rng.standard_normal((5, 4))])


def test_cross_entropy_matches_numpy_and_is_stable():
    logits = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    y = np.array([0, 2])
    got = NF.cross_entropy(mf.tensor(logits), mf.tensor(y)).item()
    z = logits - logits.max(1, keepdims=True)
    ref = -(z[[0, 1], y] - np.log(np.exp(z).sum(1))).mean()
    assert got == pytest.approx(ref, rel=1e-6) and np.isfinite(got)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    soft = NF.cross_entropy(mf.tensor(logits), mf.tensor(probs)).item()
    assert soft == pytest.approx(-(probs * np.log(np.maximum(probs, 1e-300))).sum(1).mean(), abs=1e-5)


def test_loss_input_errors_are_clear():
    with pytest.raises(mf.ShapeError, match=r"cross_entropy|nll_loss"):
        NF.cross_entropy(mf.zeros(4, 3), mf.tensor([0, 1]))
    with pytest.raises(ValueError, match="class index 7 is out of range for 3 classes"):
        NF.cross_entropy(mf.zeros(2, 3), mf.tensor([0, 7]))
    with pytest.raises(mf.ShapeError, match=r"linear: input of shape \(2, 5\)"):
        nn.Linear(4, 2)(mf.zeros(2, 5))


def test_dropout_train_and_eval():
    mf.manual_seed(0)
    d = nn.Dropout(0.25)
    x = mf.ones(1000, 10)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.03)
    d.eval()
    assert d(x) is x


def test_batchnorm_normalises_and_tracks_running_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (64, 4, 5, 5)).astype(np.float32)
    bn = nn.BatchNorm2d(4)
    y = bn(mf.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    n = 64 * 25
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1), rtol=1e-5)
    bn.eval()
    y2 = bn(mf.tensor(x)).numpy()
    ref = (x - bn.running_mean.numpy()[None, :, None, None]) / np.sqrt(
        bn.running_var.numpy()[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y2, ref, rtol=1e-5, atol=1e-5)
    assert gradcheck(lambda t: nn.BatchNorm1d(3)(t), [rng.standard_normal((6, 3))])
    with pytest.raises(ValueError, match="BatchNorm2d: expected a 4-D input"):
        bn(mf.zeros(2, 4))


def test_sequential_and_activations():
    mf.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3),
                        nn.Tanh(), nn.Sigmoid(), nn.Softmax(dim=1))
    out = net(mf.randn(5, 1, 4, 4))
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.numpy().sum(1), 1, rtol=1e-6)
    assert len(net) == 8 and isinstance(net[0], nn.Conv2d) and isinstance(net[1:3], nn.Sequential)
    assert "Conv2d(1, 2, kernel_size=(3, 3)" in repr(net)


def test_functional_call_substitutes_and_restores():
    net = nn.Linear(2, 1)
    w = net.weight
    out = net.functional_call({"weight": mf.zeros(1, 2), "bias": mf.ones(1)}, mf.ones(3, 2))
    np.testing.assert_array_equal(out.numpy(), np.ones((3, 1)))
    assert net.weight is w
    with pytest.raises(KeyError, match="no parameter or buffer 'nope'"):
        net.functional_call({"nope": mf.zeros(1)}, mf.ones(1, 2))


def test_hybridize_runs_the_compiled_forward_or_says_why_not():
    mf.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = mf.randn(3, 4)
    eager = net(x).numpy()
    try:
        import minifw.jit  # noqa: F401
        from minifw.jit import jit  # noqa: F401
    except ImportError:
        with pytest.raises(NotImplementedError, match="minifw.jit"):
            net.hybridize()
        return
    net.hybridize(disable=("fusion",))
    np.testing.assert_allclose(net(x).numpy(), eager, rtol=1e-5, atol=1e-6)
    net.hybridize(False)
    np.testing.assert_array_equal(net(x).numpy(), eager)
