"""In-place changes and the tape (issue: Reliability, item 1): PyTorch's version counters, minifw's way.

A value changed in place after an op saved it makes backward refuse (never a silently wrong gradient); a
change to a value no rule reads (the operand of an add, a reshape) is harmless, as in PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

import minifw as mf
from minifw.eager.tensor import InplaceError


def test_the_issue_example_refuses_instead_of_a_wrong_gradient():
    w = mf.tensor([1.0, 2.0], requires_grad=True)
    x = mf.tensor([3.0, 4.0])
    y = (w * x).sum()
    x[0] = 100.0
    with pytest.raises(InplaceError, match=r"modified by an in-place operation.*item assignment after mul"):
        y.backward()
    assert w.grad is None
    assert isinstance(InplaceError("x"), mf.MinifwError) and isinstance(InplaceError("x"), RuntimeError)


@pytest.mark.parametrize("change", [
    lambda x: x.zero_(),
    lambda x: x.fill_(7.0),
    lambda x: x.copy_(mf.tensor([5.0, 6.0])),
    lambda x: x.__setitem__(slice(None), 1.0),
    lambda x: x.__iadd__(1.0),
    lambda x: x.__imul__(mf.tensor([2.0, 2.0])),
    lambda x: x[0:1].fill_(9.0),          # through a view
    lambda x: x.detach().zero_(),         # through an alias
    lambda x: x.reshape((2, 1)).fill_(0.0),
])
def test_every_in_place_path_is_seen(change):
    w = mf.tensor([1.0, 2.0], requires_grad=True)
    x = mf.tensor([3.0, 4.0])
    y = (w * x).sum()
    change(x)
    with pytest.raises(InplaceError):
        y.backward()


def test_a_changed_output_that_its_rule_reads_is_seen():
    x = mf.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp's rule reads its output
    with mf.no_grad():
        y.detach().fill_(0.0)
    with pytest.raises(InplaceError, match="its output"):
        y.sum().backward()


def test_a_change_no_rule_reads_is_harmless_as_in_pytorch():
    w = mf.tensor([1.0, 2.0], requires_grad=True)
    x = mf.tensor([3.0, 4.0])
    y = ((w + x).reshape((2, 1)) * 2.0).sum()  # add and reshape read shapes only
    x.fill_(100.0)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 2.0])


def test_a_change_before_the_op_is_recorded_is_fine():
    w = mf.tensor([1.0, 2.0], requires_grad=True)
    x = mf.tensor([3.0, 4.0])
    x[0] = 10.0
    (w * x).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [10.0, 4.0])


def test_leaves_that_require_grad_refuse_in_place_changes_unless_no_grad():
    w = mf.tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.zero_(), lambda: w.fill_(1.0), lambda: w.copy_(mf.tensor([0.0, 0.0])),
                   lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(InplaceError, match="no_grad"):
            change()
    with pytest.raises(InplaceError, match="leaf"):
        w += 1.0
    with mf.no_grad():
        w.zero_()
        w += 3.0
    assert w.tolist() == [3.0, 3.0] and w.requires_grad and w.is_leaf


def test_writing_a_value_that_requires_grad_into_a_plain_tensor_is_refused():
    x = mf.zeros(2)
    w = mf.ones(2, requires_grad=True)
    with pytest.raises(InplaceError, match="requires grad"):
        x.copy_(w)
    with pytest.raises(InplaceError):
        x[0] = w[0]


def test_manual_sgd_updates_the_parameter_itself_like_pytorch():
    model = mf.nn.Linear(2, 1)
    p = model.weight
    before = p.numpy().copy()
    model(mf.ones((1, 2))).sum().backward()
    with mf.no_grad():
        for q in model.parameters():
            q -= 0.5 * q.grad
    assert model.weight is p  # the module's own parameter changed, not a rebound name
    np.testing.assert_allclose(p.numpy(), before - 0.5 * np.ones((1, 2)), rtol=1e-6)


def test_augmented_assignment_inside_a_graph_still_gives_the_right_gradient():
    x = mf.tensor([1.0, 2.0], requires_grad=True)
    loss = x.sum()
    loss += (x * x).sum()  # a non-leaf: a new tensor, the name rebound, the tape stays right
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])


def test_in_place_ops_refuse_growing_or_narrowing_their_target():
    x = mf.zeros(2)
    with pytest.raises(mf.ShapeError, match=r"\(2, 2\)"):
        x += mf.zeros((2, 2))
    k = mf.tensor([1, 2])
    with pytest.raises(mf.ShapeError, match="int64"):
        k += 0.5
    with pytest.raises(mf.ShapeError, match="shape"):
        x[5] = 1.0
    with pytest.raises(mf.ShapeError, match=r"\(3,\)"):
        x.copy_(mf.zeros(3))


def test_an_optimizer_step_invalidates_a_graph_recorded_before_it():
    w = mf.nn.Parameter(mf.tensor([1.0, 2.0]))
    opt = mf.optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(InplaceError, match=r"SGD.step\(\)"):
        loss.backward()


def test_loading_weights_invalidates_a_graph_recorded_before():
    model = mf.nn.Linear(2, 1)
    x = mf.ones((1, 2), requires_grad=True)  # x's gradient reads the weight (PyTorch saves it then too)
    out = (model(x) ** 2).sum()
    model.load_state_dict({k: v * 2 for k, v in model.state_dict().items()})
    with pytest.raises(InplaceError, match="load_state_dict"):
        out.backward()


def test_training_loops_are_unaffected():
    mf.manual_seed(0)
    model = mf.nn.Sequential(mf.nn.Linear(3, 4), mf.nn.ReLU(), mf.nn.Linear(4, 1))
    opt = mf.optim.Adam(model.parameters(), lr=0.01)
    x = mf.randn(8, 3)
    for _ in range(3):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
    assert np.isfinite(loss.item())
