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
# %% [markdown] zh
# # 实验 4 — 动态图与静态图：记录带与计算图
#
# *30–40 分钟。* 框架用两种方式之一来运行你的代码：
#
# * **动态图 / define-by-run**（PyTorch、Chainer）：Python 执行到哪个运算，它就立即运行，并被记录在一条
#   *记录带*（tape）上，供反向传播使用；
# * **静态图 / define-then-run**（TensorFlow 1、Theano、Caffe）：你先构建一张由符号组成的*计算图*，然后由编译器
#   优化它，再由会话（session）多次运行它。
#
# minifw 两者都有，基于同一套原语。你会用两种方式构建那张入门的示例计算图，逐个观察编译器的各个遍（pass），
# 并进行测量——包括动态图获胜的情形。
# **练习 4.1：** 用占位符以 TensorFlow 1 风格构建这张示例计算图。

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
# %% [markdown] zh
# ## 1. 示例计算图，立即执行（PyTorch 风格）
#
# `a = 15, b = 5, prod = a·b, sum = a + b, result = prod / sum`。每一行都立即算出一个数；记录带记住了它是
# 怎么算出来的，所以可以运行 `backward()`。

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
# %% [markdown] zh
# ## 2. 同一张图，TensorFlow 1 风格
#
# 在 `with static.Graph()` 里面，同样的表达式构建的是**符号**：什么都没有计算，还没有任何值。`Session` 编译
# 这张图并运行它。

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
# %% [markdown] zh
# ## 3. 编译器的各个遍，一次一个
#
# `static.compile` 把符号降级（lower）为一种中间表示（IR），并运行 `static.PASSES` 中的各个遍；每个中间的计算图
# 都会保留。输入是常量时，**常量折叠**在编译期就算出整张图，**死代码消除**再删掉不再被需要的部分。

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
# **Step through the passes.** `mf.explore` walks the same compile: Next shows the graph after each
# pass (new nodes marked in the table); the mode *one run, node by node* executes the graph before
# fusion one node at a time, with each node's shape and value.
# %% [markdown] zh
# **一步一步看各个编译遍。** `mf.explore` 走的是同一次编译：Next 显示每个遍之后的图（表格里标出新节点）；
# 模式 *one run, node by node* 在融合之前的图上一次执行一个节点，并给出每个节点的形状和数值。

# %%
mf.explore(result, mode="passes")

# %% [markdown]
# With **placeholders** (values fed at run time) nothing can be folded, but the three elementwise
# ops can be **fused** into one generated numba kernel: one loop over the data instead of three,
# with no temporaries. `explain()` prints every stage, and the fusion pass's cost model: a kernel
# call costs a few numpy calls, so on a tiny tensor (try 100 elements) the group stays on numpy,
# while here the memory traffic fusion saves pays for it.
# %% [markdown] zh
# 使用**占位符**（运行时才喂入的值）时，什么都无法折叠，但三个逐元素运算可以**融合**成一个生成的 numba 内核：
# 遍历数据一次而不是三次，也没有临时数组。`explain()` 会打印每一个阶段，以及融合遍的代价模型：调用一次内核的开销
# 相当于几次 numpy 调用，所以在很小的张量上（试试 100 个元素）这一组运算留在 numpy 上，而在这里，融合省下的内存
# 流量足以抵消这笔开销。

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
# %% [markdown] zh
# ## 4. 基准测试
#
# 同一个工作负载，三种方式：立即执行的 minifw、在 `mf.jit` 下的同一个函数（追踪一次成为静态图，编译，按输入形状
# 缓存），以及纯 numpy。`compare` 以交替的轮次运行它们，报告中位时间以及与 numpy 的**比值**，两者并排测量。

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
# **Where does static start to win?** `mf.explore_speed()` times a 2-layer MLP eagerly and compiled for
# the batch size you pick, now, on this machine; every batch you try adds a row, and the panel says from
# which batch on the compiled run was faster.
# %% [markdown] zh
# **静态图从哪里开始占优？** `mf.explore_speed()` 用你选的批大小，在这台机器上、此刻，分别以 eager 方式和编译
# 方式给一个两层 MLP 计时；你每试一个批大小就多一行，面板会告诉你从哪个批大小起编译运行更快。

# %%
mf.explore_speed(batches=(1, 16, 256, 1024), batch=16, rounds=3)

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
# %% [markdown] zh
# 编译后的计算图在稳定状态下获胜：九个逐元素运算变成了一遍融合的计算。但看看**第一次调用**：追踪和编译的
# 代价远远超过一次立即执行——在一台机器上 numba 第一次编译某个内核时要花几秒，内核进入磁盘缓存之后则只要几毫秒。
# 只要这笔代价收不回来，立即执行就获胜。
#
# ### 立即执行获胜的情形 1：只运行一次
#
# 只调用一次的函数（在提示符下做个试验、在小输入上做一次性的评估）要付出追踪和编译的代价，而且永远收不回来。
# 即使关掉算子融合——完全没有 numba 编译，只有追踪和图上的各个遍——对一个小函数做一次 jit 调用，也比直接运行它
# 贵得多。

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
# %% [markdown] zh
# ### 立即执行获胜的情形 2：动态控制流
#
# 长度取决于数据的循环（序列长度、收敛就停止的迭代求解器）在立即执行模式下就是普通的 Python。追踪得到的计算图
# 把循环*展开*了：每遇到一个新的长度，就是一张要重新追踪和编译的新图（`trace_count` 统计它们的数量）。为了让
# 这个演示快一些，这里关掉了算子融合（`disable=("fusion",)`）：如果开着，每个新长度还要编译一个新的 numba 内核——
# 每个都要几秒，就像上面第一次调用显示的那样。

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
# %% [markdown] zh
# | | 动态图（PyTorch） | 静态图 / jit（TF1、tf.function） |
# |---|---|---|
# | 调试 | 随时打印任何值 | 值只存在于 `session.run` 内部 |
# | 控制流 | 普通的 Python | 展开或使用专门的算子；新形状会重新追踪 |
# | 第一次调用 | 立即执行 | 追踪 + 编译 |
# | 稳定状态 | 每个运算一个内核，有临时数组 | 融合的内核、折叠的常量、规划好的内存 |
#
# ## 练习 4.1 — 带占位符的示例计算图
#
# 编写 `build()`：新建一个 `static.Graph`，两个标量占位符 `a` 和 `b`（`static.placeholder((), name="a")`），
# 以及 `result = a·b / (a + b)`，并返回 `(graph, a, b, result)`。检查程序会喂入 `a = 15, b = 5`（期望得到 3.75），
# 以及另外两组值。

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
# %% [markdown] zh
# **下一步：** 实验 5 用五个框架的风格写同一个网络。在终端里，`minifw bench` 会运行基准测试套件。
