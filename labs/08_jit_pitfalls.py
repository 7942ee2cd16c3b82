# ruff: noqa: E402
# %% [markdown]
# # Lab 8 — `jit` and its pitfalls
#
# *20–30 minutes.* `mf.jit(f)` (like `tf.function`, `torch.jit.trace` or MXNet's `hybridize`) runs
# `f` **once** on symbolic placeholders to record a graph, compiles it, and from then on runs only the
# graph — cached by the shapes and dtypes of the array arguments. That is where the speed comes
# from, and also every surprise: whatever happens in *Python* happens once, at trace time.
# **Exercise 8.1:** make a function with a Python branch survive `jit`.

# %%
import numpy as np

import minifw as mf
from minifw.static import TracingError
from minifw.viz import draw_nodes

x = np.array([1.0, -2.0, 3.0], np.float32)

# %% [markdown]
# ## 1. Tracing: the function sees symbols, once

# %%
@mf.jit(disable=("fusion",))  # fusion off in this lab's demos: each retrace would otherwise compile a kernel
def f(x):
    print("  tracing! x is", x)  # a Python side effect: runs at trace time only
    return mf.tanh(x) * 2.0 + 1.0


for k in range(3):
    print(f"call {k}:", f(x))
print("trace_count =", f.trace_count)

# %%
draw_nodes(f.lower(x).graph.outputs)  # the compiled graph for this shape

# %% [markdown]
# ## 2. Caching by shape (and dtype, and Python values)
#
# The cache key is the shape and dtype of each array argument, plus the value of every non-array
# argument. A new key means a new trace and a new compile.

# %%
f(np.ones(3, np.float32))  # same shape and dtype: cached
f(np.ones(5, np.float32))  # new shape: traces again
f(np.ones(5, np.float64))  # new dtype: traces again
print("trace_count =", f.trace_count, " cache keys:", len(f.cache))


@mf.jit
def scale(x, k):
    return x * k


for k in (2.0, 3.0, 2.0):
    scale(x, k)
print("Python numbers are part of the key: trace_count =", scale.trace_count)  # 2: one per distinct k

# %% [markdown]
# A model fed variable-length batches (the last, smaller batch of an epoch; sentences of different
# lengths) retraces for every new length — pad to a few fixed sizes to keep the cache small.
#
# ## 3. What gets frozen
#
# Anything read from Python while tracing becomes a constant in the graph.

# %%
settings = {"gain": 2.0}
g = mf.jit(lambda x: x * settings["gain"])
print(g(x))
settings["gain"] = 10.0  # eager code would now multiply by 10...
print(g(x), "← still × 2: the graph froze the value (same shapes, no retrace)")

w = mf.tensor([1.0, 1.0, 1.0])
h = mf.jit(lambda x: x * w)  # a tensor closed over (not an argument) is frozen as a constant
h(x)
w.data[...] = 5.0
print(h(x), "← the closed-over tensor's old value; pass tensors as arguments instead")

rng = np.random.default_rng(0)
noisy = mf.jit(lambda x: x + rng.standard_normal(3).astype(np.float32))  # numpy randomness: drawn once
print(noisy(x), noisy(x), "← the same 'noise' every call")

# %% [markdown]
# ## 4. What cannot be traced: values
#
# While tracing there are no numbers yet, so anything that needs one — a Python `if` on a tensor,
# `.item()`, `float(x)` — raises a `TracingError` that says so.

# %%
def branchy(x):
    if mf.sum(x) > 0:
        return x * 2.0
    return -x


print("eager:", branchy(mf.tensor(x)))
try:
    mf.jit(branchy)(x)
except TracingError as e:
    print("jit:   TracingError:", e)

# %% [markdown]
# ## 5. A whole training step, traced
#
# `mf.jit(mf.value_and_grad(loss))` traces the forward **and** the backward pass into one graph,
# which the compiler optimises as a whole. Parameters are arguments, so updated values are used.

# %%
rng = np.random.default_rng(1)
X = rng.standard_normal((64, 4)).astype(np.float32)
Y = X @ np.array([1.0, -2.0, 0.5, 3.0], np.float32)


def loss(wt, X, Y):
    return mf.mean((X @ wt - Y) ** 2)


step = mf.jit(mf.value_and_grad(loss), disable=("fusion",))  # fusion off: no numba compile, quick to trace
wt = np.zeros(4, np.float32)
for _ in range(50):
    value, grad = step(wt, X, Y)
    wt = wt - 0.1 * grad.numpy()
print(f"loss {float(value.numpy()):.5f}, w = {np.round(wt, 3)}, traces: {step.trace_count}")

# %% [markdown]
# ## Exercise 8.1 — a branch that survives `jit`
#
# Rewrite `branchy` as `jit_friendly(x)` with no Python `if`: compute both branches and pick one with
# `mf.where(condition, a, b)` (the condition can be a scalar tensor such as `mf.sum(x) > 0`). The check
# jits your function and compares it with eager `branchy` on inputs with positive and negative sums.

# %%
def jit_friendly(x):
    # BEGIN SOLUTION
    return mf.where(mf.sum(x) > 0, x * 2.0, -x)
    # END SOLUTION


# %%
from minifw.labs.checks import check_jit_friendly

check_jit_friendly(jit_friendly)

# %% [markdown]
# Both branches are now computed every call — the price of a branch in a graph (`tf.cond` and
# `lax.cond` exist to avoid it for expensive branches). The executable list of these pitfalls lives in
# `tests/test_jit_pitfalls.py`.
