"""``allreduce``: a collective as a graph node, for TF1-style replication placed by hand.

In PyTorch's DDP the framework hides the all-reduce in gradient hooks.  In
TF1 the learner writes it into the graph, between ``compute_gradients`` and
``apply_gradients``, as Horovod's ``hvd.allreduce`` does::

    grads_and_vars = opt.compute_gradients(loss)
    train_op = opt.apply_gradients([(allreduce(g), v) for g, v in grads_and_vars])

The node is a primitive like any other (a shape rule, an implementation), so
the static compiler schedules it and the DOT drawer shows it; its
implementation calls MPI when the graph *runs*, under the default process
group (with its deadline: a rank that died makes this one raise
:class:`~minifw.distributed.DistributedTimeout`).  The compiler never folds it
(``extra["collective"]``) and never runs two collectives concurrently, so
every rank calls them in the same order.  It also works on eager tensors.
"""

from __future__ import annotations

import numpy as np

from minifw import functional as F
from minifw.registry import Primitive, ShapeError, register

from . import activity
from . import process_group as pg

OPS = ("mean", "sum")


def _impl(x, op: str = "mean"):
    g = pg._need(f"allreduce({op}) node")
    a = np.array(x, order="C", copy=True)  # a buffer of our own: the input may be a variable's value
    what = f"allreduce({op}, {a.dtype}{list(a.shape)}) in a graph"
    if g["size"] == 1:
        return a
    activity.set_activity(what)
    req = pg.start_allreduce_sum(a.reshape(-1))
    pg.wait([req], what)
    if op == "mean":
        a /= g["size"]
    return a


def _shape_rule(shapes, dtypes, op: str = "mean"):
    if op not in OPS:
        raise ShapeError(f"allreduce: op must be one of {', '.join(OPS)}, got {op!r}")
    if dtypes[0] is not None and op == "mean" and np.dtype(dtypes[0]).kind != "f":
        raise ShapeError(f"allreduce: op='mean' needs floating-point values, got {dtypes[0]}")
    return tuple(shapes[0]), dtypes[0]


ALLREDUCE = register(Primitive(
    name="allreduce", kind="collective", nin=1, impl=_impl, shape_rule=_shape_rule, params=("op",),
    differentiable=False, notation="allreduce({0})", saves="none", extra={"collective": True},
    doc="Sum (or mean) of the value over every rank of the default process group, by MPI Allreduce at run time.",
))


def allreduce(x, op: str = "mean"):
    """The ``op`` ("mean" or "sum") of ``x`` over all ranks: a node in a static graph, a value eagerly."""
    if op not in OPS:
        raise pg.DistributedError(f"allreduce: op must be one of {', '.join(OPS)}, got {op!r}")
    return F.bind(ALLREDUCE, x, op=op)


__all__ = ["allreduce", "ALLREDUCE"]
