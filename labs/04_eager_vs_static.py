# ruff: noqa: E402
# %% [markdown]
# # Lab 4 — Eager vs static: a tape and a graph
#
# *30–40 minutes.* Frameworks run your code in one of two ways:
#
# * **eager / define-by-run** (PyTorch, Chainer): each operation runs the moment Python reaches it and
#   is recorded on a *tape* for the backward pass;
# * **static / define-then-run** (TensorFlow 1, Theano, Caffe): you first build a *graph* of symbols,
#   then a compiler optimises it and a session runs it, many times.
#
# minifw has both, over one set of primitives. You will build the seed's toy graph both ways, watch
# the compiler's passes one at a time, and measure — including the cases where eager wins.
# **Exercise 4.1:** the toy graph in TensorFlow-1 style, with placeholders.

# %%
import time

import numpy as np

import minifw as mf
from minifw import static
from minifw.bench.harness import compare
from minifw.viz import draw, draw_nodes

# %% [markdown]
# ## 1. The toy graph, eagerly (PyTorch style)
#
# `a = 15, b = 5, prod = a·b, sum = a + b, result = prod / sum`. Every line computes a number at once;
# the tape remembers how, so `backward()` can run.

# %%
a = mf.tensor(15.0, requires_grad=True)
b = mf.tensor(5.0, requires_grad=True)
prod = a * b
total = a + b
result = prod / total
result.backward()
print(f"result = {result.item()}, ∂result/∂a = {a.grad.item():.4f}, ∂result/∂b = {b.grad.item():.4f}")
draw(result)  # the tape behind `result`, with values and gradients

# %% [markdown]
# ## 2. The same graph in TensorFlow-1 style
#
# Inside `with static.Graph()`, the same expressions build **symbols**: nothing is computed, there
# are no values yet. A `Session` compiles the graph and runs it.

# %%
with static.Graph() as g:
    a = static.constant(15.0, name="a")
    b = static.constant(5.0, name="b")
    prod = a * b
    total = a + b
    result = prod / total
print(result)  # a symbol: an op, its inputs, a shape — no value
draw_nodes([result])

# %%
with static.Session(g) as sess:
    print("session.run(result) =", sess.run(result))
    print("fetch several at once:", sess.run([prod, total, result]))

# %% [markdown]
# ## 3. The compiler's passes, one at a time
#
# `static.compile` lowers the symbols to an IR and runs the passes in `static.PASSES`; every
# intermediate graph is kept. With constant inputs, **constant folding** computes the whole graph at
# compile time and **dead-code elimination** removes what nothing needs any more.

# %%
print(static.PASSES)
c = static.compile([result], passes=["cse", "constant_folding", "dce"])
for name, ir in c.graphs_after_each_pass:
    print(f"after {name:17s}: {len(ir.compute_nodes())} computing nodes, {len(ir.nodes())} nodes")

# %%
draw_nodes(c.graph_after("constant_folding").outputs)  # every node now holds a constant

# %%
draw_nodes(c.graph_after("dce").outputs)  # only the answer is left: 3.75

# %% [markdown]
# With **placeholders** (values fed at run time) nothing can be folded, but the three elementwise
# ops can be **fused** into one generated numba kernel: one loop over the data instead of three,
# with no temporaries. `explain()` prints every stage, and the fusion pass's cost model: a kernel
# call costs a few numpy calls, so on a tiny tensor (try 100 elements) the group stays on numpy,
# while here the memory traffic fusion saves pays for it.

# %%
with static.Graph() as g2:
    a = static.placeholder((100_000,), name="a")
    b = static.placeholder((100_000,), name="b")
    result = (a * b) / (a + b)
c2 = static.compile([result])
c2.explain()

# %%
draw_nodes(c2.graph_after("dce").outputs)  # before fusion: mul, add, div

# %%
draw_nodes(c2.graph.outputs)  # after fusion: one kernel

# %% [markdown]
# ## 4. The benchmark
#
# One workload, three ways: eager minifw, the same function under `mf.jit` (traced once into a
# static graph, compiled, cached by input shape), and plain numpy. `compare` runs them in
# interleaved rounds and reports the median time and the **ratio** to numpy, measured side by side.

# %%
def workload(x, w, b):
    return mf.sum(mf.tanh(x * w + b) * mf.sigmoid(x) + mf.exp(-x * x))


def workload_np(x, w, b):
    return np.sum(np.tanh(x * w + b) * (1 / (1 + np.exp(-x))) + np.exp(-x * x))


n = 1 << 18
rng = np.random.default_rng(0)
x, w, bb = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
xt, wt, bt = mf.tensor(x), mf.tensor(w), mf.tensor(bb)
jitted = mf.jit(workload)
t0 = time.perf_counter()
jitted(x, w, bb)  # trace + compile, including numba compiling the fused kernel (cached on disk afterwards)
first_call = time.perf_counter() - t0

report = compare({"numpy": lambda: workload_np(x, w, bb), "eager": lambda: workload(xt, wt, bt),
                  "jit": lambda: jitted(x, w, bb)}, reference="numpy", rounds=5, target_s=0.02)
for name, m in report["modes"].items():
    print(f"{name:6s} {m['median_s'] * 1e3:7.2f} ms   {m['ratio_median']:.2f}x numpy")
print(f"jit's first call (trace + compile): {first_call * 1e3:.0f} ms")

# %% [markdown]
# The compiled graph wins the steady state: nine elementwise ops became one fused pass. But look at
# the **first call**: tracing and compiling cost far more than one eager run — seconds the first time
# numba compiles a kernel on a machine, milliseconds once its disk cache has it. Eager wins whenever
# that cost is not paid back.
#
# ### Where eager wins 1: run once
#
# A function called once (an experiment at a prompt, a one-off evaluation on a small input) pays
# tracing and compiling and never gets it back. Even with fusion off — no numba compile at all, just
# tracing and the graph passes — one jitted call of a small function costs far more than running it.

# %%
def small(x):
    return mf.tanh(x) * 2.0 + 1.0


xs = np.ones(64, np.float32)
small(mf.tensor(xs))  # warm the eager path
t0 = time.perf_counter()
small(mf.tensor(xs))
eager_once = time.perf_counter() - t0
fresh = mf.jit(small, disable=("fusion",))
t0 = time.perf_counter()
fresh(xs)
jit_once = time.perf_counter() - t0
print(f"one call of a small function: eager {eager_once * 1e6:.0f} µs, jit {jit_once * 1e6:.0f} µs "
      f"({jit_once / eager_once:.0f}x)")

# %% [markdown]
# ### Where eager wins 2: dynamic control flow
#
# A loop whose length depends on the data (a sequence length, an iterative solver that stops when it
# converges) is ordinary Python in eager mode. A traced graph has the loop *unrolled*: every new length
# is a new graph to trace and compile (`trace_count` counts them). Fusion is switched off for this
# demo (`disable=("fusion",)`) to keep it quick: with it, every new length would also compile a new
# numba kernel — seconds each, as the first call above showed.

# %%
def unroll(x, steps):
    for _ in range(steps):
        x = mf.tanh(x) * 0.9 + 0.1
    return x


small = rng.standard_normal(256).astype(np.float32)
lengths = [3, 5, 8, 4, 7, 6]
jit_unroll = mf.jit(unroll, disable=("fusion",))
t0 = time.perf_counter()
for s in lengths:
    unroll(mf.tensor(small), s)
t_eager = time.perf_counter() - t0
t0 = time.perf_counter()
for s in lengths:
    jit_unroll(small, s)
t_jit = time.perf_counter() - t0
print(f"{len(lengths)} calls with different lengths: eager {t_eager * 1e3:.1f} ms, jit {t_jit * 1e3:.1f} ms "
      f"({jit_unroll.trace_count} traces)")

# %% [markdown]
# | | eager (PyTorch) | static / jit (TF1, tf.function) |
# |---|---|---|
# | debugging | print any value, any time | values exist only inside `session.run` |
# | control flow | plain Python | unrolled or special ops; new shapes retrace |
# | first call | immediate | trace + compile |
# | steady state | one kernel per op, temporaries | fused kernels, folded constants, planned memory |
#
# ## Exercise 4.1 — the toy graph with placeholders
#
# Write `build()` that makes a new `static.Graph`, two scalar placeholders `a` and `b`
# (`static.placeholder((), name="a")`), and `result = a·b / (a + b)`, and returns
# `(graph, a, b, result)`. The check feeds `a = 15, b = 5` (expecting 3.75) and two more points.

# %%
def build():
    # BEGIN SOLUTION
    with static.Graph() as graph:
        a = static.placeholder((), name="a")
        b = static.placeholder((), name="b")
        result = (a * b) / (a + b)
    return graph, a, b, result
    # END SOLUTION


# %%
from minifw.labs.checks import check_toy_graph

check_toy_graph(build)

# %% [markdown]
# **Next:** lab 5 writes one network in five frameworks' styles. In a terminal, `minifw bench`
# runs the benchmark suite.
