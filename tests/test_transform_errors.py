"""The function transforms refuse bad arguments with minifw's own TransformError (still a ValueError and a
TypeError for callers that catch those), and say what to do instead."""

import numpy as np
import pytest

import minifw as mf


def f(x):
    return mf.sum(mf.sin(x) * x)


def test_forward_over_reverse_is_refused_with_the_way_that_works():
    x = np.arange(3.0)
    with pytest.raises(mf.TransformError, match=r"jacrev\(jacfwd\(f\)\).*mf.hessian"):
        mf.jacfwd(mf.jacrev(f))(x)
    h = mf.hessian(f)(x)  # the way it names gives the analytic Hessian: diag(2 cos x - x sin x)
    np.testing.assert_allclose(np.asarray(h), np.diag(2 * np.cos(x) - x * np.sin(x)), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda: mf.grad(f, argnums=3)(np.ones(2)),
    lambda: mf.grad(lambda x: x * 2)(np.ones(3)),
    lambda: mf.jvp(f, (np.ones(2),), (np.ones(3),)),
    lambda: mf.jvp(f, (np.ones(2),), (np.ones(2), np.ones(2))),
])
def test_bad_arguments_are_transform_errors(call):
    with pytest.raises(mf.TransformError) as e:
        call()
    assert isinstance(e.value, mf.MinifwError) and isinstance(e.value, ValueError)
