"""Fuzzing TF1-style feeds and fetches (Reliability): ``Session.run(fetches, feed_dict)`` on small graphs either
returns what numpy computes for the same graph, or raises a ``MinifwError`` that names the placeholder (or the
fetch, or the key) at fault; nothing else escapes.

Inputs tried, per test (``derandomize=True``, so every run tries the same ones):

* ``test_session_run``: 1,500 (fetch structure, feed_dict) pairs on one graph of six placeholders (fixed and free
  dims; float32, float64, int64, int32) and eleven nodes; half the feed_dicts are all good
* ``test_fetch_errors_name_the_fetch``: 8 fixed bad fetches (not generated)
* ``test_tf1_door``: 400 (x, labels) feeds of a ``minifw.compat.tf1`` softmax cross-entropy
* ``test_theano_function``: 500 argument lists for a ``static.function``
* ``test_jit_wrong_shapes``: 300 calls of a ``jit``-ed function with random argument shapes and dtypes

2,700 generated inputs in all.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import minifw as mf
from minifw import static
from minifw.errors import MinifwError

pytestmark = pytest.mark.slow  # the fuzz suite runs in the full tier (CI): about a minute of generated inputs

FUZZ = dict(deadline=None, derandomize=True)
W = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]], np.float32)
V = np.array([1.0, -2.0, 0.5], np.float32)


class _Zoo:
    """One graph, its placeholders, and each node with the numpy computation it stands for."""

    def __init__(self):
        with static.Graph(name="zoo") as g:
            ph = {
                "x": static.placeholder((None, 3), np.float32, name="x"),
                "a": static.placeholder((None,), np.float64, name="a"),
                "b": static.placeholder((None,), np.float64, name="b"),
                "c": static.placeholder((), np.float64, name="c"),
                "i": static.placeholder((None, 2), np.int64, name="i"),
                "k": static.placeholder((2, 2), np.int32, name="k"),
            }
            x, a, b, c, i, k = (ph[n] for n in "xabcik")
            v = static.Variable(V, name="v")
            nodes = {  # name -> (symbol, placeholders it reads, numpy reference)
                "mm": (mf.tanh(x @ static.constant(W)) + 1.0, "x", lambda f: np.tanh(f["x"] @ W) + np.float32(1)),
                "xs": (x.sum(axis=0), "x", lambda f: f["x"].sum(axis=0)),
                "xmax": (x.max(axis=0), "x", lambda f: f["x"].max(axis=0)),
                "xv": (x * v, "x", lambda f: f["x"] * V),
                "ab": (a * 2.0 + b, "ab", lambda f: f["a"] * 2.0 + f["b"]),
                "abc": ((a - b) * c, "abc", lambda f: (f["a"] - f["b"]) * f["c"]),
                "cexp": (mf.exp(c), "c", lambda f: np.exp(f["c"])),
                "i3": (i * 3 - 1, "i", lambda f: f["i"] * 3 - 1),
                "imean": (mf.cast(i, np.float32).mean(), "i", lambda f: f["i"].astype(np.float32).mean()),
                "kk": (k * k + 1, "k", lambda f: f["k"] * f["k"] + np.int32(1)),
                "kf": (mf.cast(k, np.float64) / 2.0, "k", lambda f: f["k"].astype(np.float64) / 2.0),
            }
        with static.Graph(name="other"):
            self.foreign = static.placeholder((None, 3), np.float32, name="x")  # same name, another graph
        self.graph, self.ph, self.nodes, self.v = g, ph, nodes, v


ZOO = _Zoo()
SESSION = static.Session(ZOO.graph)  # one session for every example: its programs are cached, as in a training loop
PH = sorted(ZOO.ph)
FREE_DIM = st.integers(0, 4)


# --- values to feed ---------------------------------------------------------------------------------------------
def _ok_value(p, batch=None):
    """A value that fits placeholder ``p``: (value, the array it stands for); ``batch`` fixes the free dims."""
    free = FREE_DIM if batch is None else st.just(batch)
    dims = st.tuples(*[free if d is None else st.just(d) for d in p.shape])
    kind = p.dtype.kind

    def build(args):
        shape, form, seed, dt = args
        rng = np.random.default_rng(seed)
        base = rng.standard_normal(shape) * 3 if kind == "f" else rng.integers(-50, 50, shape)
        arr = np.asarray(base, dtype=dt)
        if form == "list":
            return arr.tolist(), np.asarray(arr.tolist()).astype(p.dtype)
        if form == "nan" and arr.dtype.kind == "f" and arr.size:
            arr.flat[0] = np.nan
        return arr, arr.astype(p.dtype)

    same_kind = [p.dtype, np.float64, np.float16, np.int16, np.bool_] if kind == "f" else [p.dtype, np.int8, np.uint8]
    return st.tuples(dims, st.sampled_from(["array", "list", "nan"]), st.integers(0, 2 ** 16),
                     st.sampled_from(same_kind)).map(build)


ODD_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.bool_,
              np.complex64, "U3", "S2", object, "M8[s]"]


def _odd_array():
    def build(args):
        shape, dt, seed = args
        base = np.asarray(np.random.default_rng(seed).standard_normal(shape) * 100)
        try:
            return base.astype(dt)
        except (TypeError, ValueError):
            return np.full(shape, "x", dtype=dt)

    return st.tuples(st.lists(st.integers(0, 3), max_size=3).map(tuple), st.sampled_from(ODD_DTYPES),
                     st.integers(0, 2 ** 16)).map(build)


scalars = st.one_of(st.floats(allow_nan=True), st.integers(-2 ** 70, 2 ** 70), st.booleans(), st.complex_numbers(),
                    st.text(max_size=3), st.none())
ragged = st.recursive(st.floats(-5, 5) | st.integers(-5, 5),
                      lambda inner: st.lists(inner, min_size=1, max_size=3), max_leaves=8)
odd_values = st.one_of(_odd_array(), scalars, ragged, st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                       st.just(object()), st.sampled_from([[1, "x"], [[1.0, 2.0, 3.0], [1.0, 2.0]], [None, 1.0],
                                                           [float("inf")] * 3, [2 ** 40, 1], [[1e300, 1, 1]]]))


# --- the reference: what a feed should become, by the documented rule (minifw/static/session.py) --------------
def _expect_feed(p, value):
    """The array a feed becomes, or None when it must be refused."""
    if isinstance(value, static.Symbol):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.VisibleDeprecationWarning)
            arr = np.asarray(value)
    except (ValueError, TypeError, np.exceptions.VisibleDeprecationWarning):
        return None
    if arr.dtype != p.dtype:
        plain = not isinstance(value, (np.ndarray, np.generic))
        if not (plain and arr.dtype.kind in "biuf") and not np.can_cast(arr.dtype, p.dtype, "same_kind"):
            return None
        if p.dtype.kind in "iu" and arr.size:  # an integer placeholder takes only values it can hold
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                return None
            info = np.iinfo(p.dtype)
            if arr.min() < info.min or arr.max() > info.max:
                return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = arr.astype(p.dtype)
    if arr.ndim != len(p.shape) or any(e is not None and e != s for e, s in zip(p.shape, arr.shape)):
        return None
    return arr


def _same(got, want):
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    if want.dtype.kind == "f":
        tol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def _names_one_of(err: MinifwError, names) -> None:
    msg = str(err)
    assert any(n in msg for n in names), f"the error names none of {sorted(names)}: {msg}"


# --- Session.run -----------------------------------------------------------------------------------------------
BAD_FETCHES = ["no_such_node", 5, None, 1.5, object(), b"x", {1, 2}, ZOO.foreign]


@st.composite
def fetches(draw):
    """(fetch structure, [node names fetched, in order], bad leaves or [])."""
    names, bad = [], []

    def leaf():
        choice = draw(st.integers(0, 12))
        if choice == 0:
            b = draw(st.sampled_from(BAD_FETCHES))
            bad.append(b)
            return b
        name = draw(st.sampled_from(sorted(ZOO.nodes)))
        names.append(name)
        sym = ZOO.nodes[name][0]
        return sym.name if choice == 1 else sym  # by the node's name in the graph, or the symbol

    def tree(depth):
        form = draw(st.sampled_from(["leaf", "leaf", "list", "tuple", "dict"] if depth < 3 else ["leaf"]))
        if form == "leaf":
            return leaf()
        items = [tree(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        if form == "dict":
            return {f"k{j}": t for j, t in enumerate(items)}
        return items if form == "list" else tuple(items)

    return tree(0), names, bad


@st.composite
def feed_dicts(draw):
    """(feed_dict, {placeholder name: expected array}, {what an error may name: placeholders, keys}, whether a key
    is wrong). Half the feed_dicts are all good, so that half the runs compute; the rest spoil one or two feeds."""
    feeds, expect, culprits = {}, {}, set()
    spoilt = draw(st.one_of(st.just(set()), st.sets(st.sampled_from(PH), min_size=1, max_size=2)))
    batch = draw(FREE_DIM)  # one batch size for a and b most of the time, so that a * 2 + b broadcasts
    for name in PH:
        p = ZOO.ph[name]
        how = draw(st.sampled_from(["odd", "missing", "twice"])) if name in spoilt else "good"
        if how == "missing":
            continue
        if how == "odd":
            value = draw(odd_values)
        else:
            value = draw(_ok_value(p, batch if name in "ab" and draw(st.integers(0, 4)) else None))[0]
        want = _expect_feed(p, value)
        if want is None:
            culprits.add(f"'{name}'")
        else:
            expect[name] = want
        feeds[name if draw(st.booleans()) else p] = value  # by name or by symbol
        if how == "twice":
            feeds[name if p in feeds else p] = value
            culprits.add(f"'{name}'")
    extra = draw(st.sampled_from(["none"] * 12 + ["foreign", "not a placeholder", "node name", "unknown", "int",
                                                  "None", "pairs"]))
    if extra == "pairs":  # [(placeholder, value), ...]: not a dict
        return list(feeds.items()), expect, {"list"}, True
    if extra != "none":
        op = ZOO.nodes["ab"][0]
        key, shown = {"foreign": (ZOO.foreign, "'x'"), "not a placeholder": (op, f"'{op.name}'"),
                      "node name": ("v", "'v'"), "unknown": ("no_such_placeholder", "'no_such_placeholder'"),
                      "int": (7, "int"), "None": (None, "NoneType")}[extra]
        feeds[key] = np.zeros((1, 3), np.float32)
        culprits.add(shown)
    return feeds, expect, culprits, extra != "none"


def _reference(names: list[str], feeds: dict):
    """The numpy value of each fetched node; ValueError where numpy refuses (shapes, an empty max)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return [ZOO.nodes[n][2](feeds) for n in names]


@settings(max_examples=1500, **FUZZ)
@given(fetch=fetches(), feed=feed_dicts())
def test_session_run(fetch, feed):
    structure, names, bad_fetches = fetch
    feed_dict, expect, culprits, bad_key = feed
    needed = {p for n in names for p in ZOO.nodes[n][1]}
    missing = {f"'{p}'" for p in needed if p not in expect and f"'{p}'" not in culprits}
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            got = SESSION.run(structure, feed_dict)
    except MinifwError as e:
        event(f"refused: {type(e).__name__}")
        if bad_fetches:
            return  # the fetch is refused first; test_fetch_errors_name_the_fetch checks the message
        assert culprits or missing or _reference_fails(names, expect), f"refused a valid run: {e}"
        # a bad feed or key names itself; feeds that fit each placeholder but not each other name the placeholders
        _names_one_of(e, (culprits | missing) or {f"'{p}'" for p in needed})
        return
    assert not bad_fetches and not culprits and not missing, "a bad run was not refused"
    event("computed")
    want = _reference(names, expect)
    leaves, _ = _leaves(got)
    assert len(leaves) == len(want)
    for g, w in zip(leaves, want):
        _same(g, w)


def _reference_fails(names, expect) -> bool:
    try:
        _reference(names, expect)
    except ValueError:
        return True
    return False


def _leaves(tree):
    from minifw import pytree

    return pytree.flatten(tree, lambda t: isinstance(t, np.ndarray | np.generic))


@pytest.mark.parametrize("bad", BAD_FETCHES, ids=lambda b: type(b).__name__)
def test_fetch_errors_name_the_fetch(bad):
    with pytest.raises(MinifwError) as e:
        static.Session(ZOO.graph).run([ZOO.nodes["ab"][0], {"k": bad}], {"a": [1.0], "b": [2.0]})
    msg = str(e.value)
    assert ("no_such_node" in msg) if bad == "no_such_node" else (type(bad).__name__ in msg or "graph" in msg), msg


# --- the TF1 door -----------------------------------------------------------------------------------------------
def _tf1_reference(x, y):
    """The TF1 graph below in numpy: logits = 2x, the sparse cross-entropy with a one-hot made by comparison."""
    z = x * np.float32(2.0)
    m = z.max(axis=1, keepdims=True) if z.size else z[:, :1]
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    onehot = (y[:, None] == np.arange(4)).astype(np.float32)
    return np.mean(-(onehot * logp).sum(axis=1))


@st.composite
def tf1_feeds(draw):
    """(x, labels): good ones of one batch size, half the time; else a spoilt x, labels or batch size."""
    n = draw(FREE_DIM)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    x = rng.standard_normal((n, 4)).astype(draw(st.sampled_from([np.float32, np.float64])))
    labels = draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n))  # -1 and 4: a zero row of the one-hot
    spoil = draw(st.sampled_from(["none", "none", "none", "x", "labels", "batch"]))
    if spoil == "x":
        x = draw(odd_values)
    elif spoil == "labels":
        labels = draw(odd_values)
    elif spoil == "batch":
        labels = draw(st.lists(st.integers(0, 3), max_size=5))
    return x.tolist() if draw(st.booleans()) and isinstance(x, np.ndarray) else x, labels


@settings(max_examples=400, **FUZZ)
@given(feed=tf1_feeds())
def test_tf1_door(feed):
    import minifw.compat.tf1 as tf

    value, labels = feed

    with tf.Graph() as g:
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        y = tf.placeholder(tf.int64, [None], name="y")
        logits = tf.matmul(x, tf.constant(np.eye(4, dtype=np.float32))) * 2.0
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    want_x, want_y = _expect_feed(x, value), _expect_feed(y, labels)
    with tf.Session(g) as sess, warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            got = sess.run(loss, {x: value, y: labels})
        except MinifwError as e:
            event(f"refused: {type(e).__name__}")
            if want_x is not None and want_y is not None:
                with pytest.raises(ValueError):  # numpy refuses too: the batch sizes differ
                    _tf1_reference(want_x, want_y)
            _names_one_of(e, {"'x'", "'y'"})
            return
        assert want_x is not None and want_y is not None, "a bad feed was not refused"
        event("computed")
        _same(got, _tf1_reference(want_x, want_y))


# --- Theano's function ------------------------------------------------------------------------------------------
AB = static.function([ZOO.ph["a"], ZOO.ph["b"]], ZOO.nodes["ab"][0])  # compiled once per shape, as in a loop


@st.composite
def theano_args(draw):
    """Two good arguments of one length, half the time; else a spoilt one, other lengths, or too few/many."""
    n = draw(FREE_DIM)
    args = [draw(_ok_value(ZOO.ph["a"], n))[0], draw(_ok_value(ZOO.ph["b"], n))[0]]
    spoil = draw(st.sampled_from(["none", "none", "none", "odd", "length", "count"]))
    if spoil == "odd":
        args[draw(st.integers(0, 1))] = draw(odd_values)
    elif spoil == "length":
        args[1] = draw(_ok_value(ZOO.ph["b"]))[0]
    elif spoil == "count":
        args = args[:draw(st.integers(0, 1))] if draw(st.booleans()) else args + [draw(odd_values)]
    return args


@settings(max_examples=500, **FUZZ)
@given(args=theano_args())
def test_theano_function(args):
    a, b, f = ZOO.ph["a"], ZOO.ph["b"], AB
    want = [_expect_feed(p, v) for p, v in zip((a, b), args)]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            got = f(*args)
        except MinifwError as e:
            event(f"refused: {type(e).__name__}")
            if len(args) != 2:
                assert "takes 2 input(s)" in str(e)
                return
            if all(w is not None for w in want):
                with pytest.raises(ValueError):  # numpy refuses too: a and b do not broadcast
                    _ = want[0] * 2.0 + want[1]
            _names_one_of(e, {"'a'", "'b'"})
            return
    assert len(args) == 2 and all(w is not None for w in want), "a bad call was not refused"
    event("computed")
    _same(got, want[0] * 2.0 + want[1])


# --- jit ----------------------------------------------------------------------------------------------------------
@mf.jit
def _jitted(x, w):
    return mf.tanh(x @ w).sum(axis=0)


@settings(max_examples=300, **FUZZ)
@given(x=st.one_of(_odd_array(), _ok_value(ZOO.ph["x"]).map(lambda vw: vw[1])),
       w=st.sampled_from([W, W.T, W[:2], W.astype(np.float64), np.ones((3,), np.float32)]))
def test_jit_wrong_shapes(x, w):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            want = np.tanh(x @ w).sum(axis=0) if x.dtype.kind in "biufc" else None
        except ValueError:  # shapes numpy refuses
            want = None
        try:
            got = _jitted(x, w)
        except MinifwError as e:
            event(f"refused: {type(e).__name__}")
            assert want is None, f"refused a valid call ({x.dtype} {x.shape} @ {w.shape}): {e}"
            return
    assert want is not None, f"a call numpy refuses was not refused ({x.dtype} {x.shape} @ {w.shape})"
    event("computed")
    got = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
    np.testing.assert_allclose(got, want, rtol=1e-3 if x.dtype == np.float16 else 1e-5, atol=1e-5)
