# ruff: noqa: E402
# %% [markdown]
# # Lab 8 — `jit` and its pitfalls
#
# *20–30 minutes.* `mf.jit(f)` (like `tf.function`, `torch.jit.trace` or MXNet's `hybridize`) runs
# `f` **once** on symbolic placeholders to record a graph, compiles it, and from then on runs only the
# graph — cached by the shapes and dtypes of the array arguments. That is where the speed comes
# from, and also every surprise: whatever happens in *Python* happens once, at trace time.
# **Exercise 8.1:** make a function with a Python branch survive `jit`.
# %% [markdown] zh
# # 实验 8 — `jit` 及其陷阱
#
# *20–30 分钟。* `mf.jit(f)`（类似 `tf.function`、`torch.jit.trace` 或 MXNet 的 `hybridize`）在符号占位符上
# **只运行一次** `f`，记录下一张计算图并编译它，此后就只运行这张图——按数组参数的形状和数据类型缓存。
# 速度从这里来，所有的意外也从这里来：凡是在 *Python* 里发生的事，都只在追踪（tracing）时发生一次。
# **练习 8.1：** 让一个含有 Python 分支的函数在 `jit` 之后依然正确。

# %%
import numpy as np

import minifw as mf
from minifw.static import TracingError
from minifw.viz import draw_nodes

x = np.array([1.0, -2.0, 3.0], np.float32)

# %% [markdown]
# ## 1. Tracing: the function sees symbols, once
# %% [markdown] zh
# ## 1. 追踪：函数看到的是符号，而且只看一次

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
# %% [markdown] zh
# ## 2. 按形状缓存（还有数据类型和 Python 值）
#
# 缓存的键是每个数组参数的形状和数据类型，再加上每个非数组参数的值。新的键意味着重新追踪、重新编译。

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
# %% [markdown] zh
# 如果模型接收的批次长度不固定（一个 epoch 末尾那个较小的批次；长度各异的句子），每遇到一个新长度就会重新追踪——
# 把输入填充（pad）到少数几个固定大小，缓存才能保持很小。
#
# ## 3. 什么会被冻结
#
# 追踪期间从 Python 读到的任何东西，都会成为图里的常量。

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
# %% [markdown] zh
# ## 4. 什么无法追踪：具体的值
#
# 追踪时还没有任何数值，所以任何需要数值的操作——对张量做 Python `if`、`.item()`、`float(x)`——
# 都会抛出 `TracingError`，并说明原因。

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
# %% [markdown] zh
# ## 5. 追踪整个训练步
#
# `mf.jit(mf.value_and_grad(loss))` 把前向**和**反向传播追踪进同一张图，编译器把它作为一个整体来优化。
# 参数作为函数的实参传入，所以用到的是更新后的值。

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
# %% [markdown] zh
# ## 练习 8.1 — 一个能在 `jit` 下存活的分支
#
# 把 `branchy` 改写成不含 Python `if` 的 `jit_friendly(x)`：两个分支都计算，再用 `mf.where(condition, a, b)`
# 选出其中一个（条件可以是一个标量张量，例如 `mf.sum(x) > 0`）。检查程序会对你的函数做 jit，并在和为正、
# 和为负的输入上与立即执行（eager）的 `branchy` 比较。

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
# %% [markdown] zh
# 现在每次调用都会计算两个分支——这是图中分支的代价（`tf.cond` 和 `lax.cond` 的存在，就是为了在分支开销
# 很大时避免这一点）。这些陷阱的可执行清单在 `tests/test_jit_pitfalls.py` 里。
