# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 13 — Build it yourself: a tape and a reverse sweep
#
# *35–45 minutes.* micrograd's idea, over numpy arrays: every operation returns a `Tensor` that remembers its
# **parents** and a **vjp** — a rule that turns the output's cotangent `g` into one cotangent per parent. The
# recorded graph is the *tape*; `backward()` walks it in reverse topological order, adding adjoints. Four
# tasks:
#
# 1. **13.1** `+` and `*` (with numpy broadcasting);
# 2. **13.2** `@`, `relu`, `sum`;
# 3. **13.3** `topo_order(root)`, without recursion;
# 4. **13.4** `backward(root)`, the reverse sweep.
#
# Cells that start with `# part of your build` are your pieces: lab 17 runs them from this notebook (keep it
# in the folder where you open lab 17).
# %% [markdown] zh
# # 实验 13 — 自己动手：记录带与反向扫描
#
# *35–45 分钟。* 这是 micrograd 的思路，只是换成了 numpy 数组：每个运算返回一个 `Tensor`，
# 它记住自己的**父节点**和一个 **vjp**——把输出的余切向量 `g` 变成每个父节点各一个余切向量的规则。
# 记录下来的计算图就是*记录带（磁带）*；`backward()` 按逆拓扑排序遍历它，累加伴随值。四个任务：
#
# 1. **13.1** `+` 与 `*`（支持 numpy 广播）；
# 2. **13.2** `@`、`relu`、`sum`；
# 3. **13.3** 不用递归写出 `topo_order(root)`；
# 4. **13.4** 反向扫描 `backward(root)`。
#
# 以 `# part of your build` 开头的单元是你的部件：
# 实验 17 会从这个笔记本里运行它们（做实验 17 时请把本笔记本放在同一文件夹里）。

# %%
# part of your build: lab 17 runs this cell
import numpy as np


class Tensor:
    """An array that remembers how it was made: its parents, and vjp(g) -> one cotangent per parent."""

    def __init__(self, data, parents=(), vjp=None, name=""):
        self.data = np.asarray(data, dtype=np.float64)
        self.parents, self.vjp, self.name = tuple(parents), vjp, name
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def backward(self):
        backward(self)

    def __repr__(self):
        return f"Tensor({self.name or np.array2string(self.data, precision=3, threshold=6)})"


def lift(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def unbroadcast(g, shape):
    """Sum g over the axes numpy broadcast, back to `shape` (the cotangent of a broadcast input)."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g

# %% [markdown]
# ## Task 13.1 — add and mul
#
# `add(a, b)` returns `Tensor(a.data + b.data, (a, b), vjp)` where `vjp(g)` gives `(g, g)` — except that
# numpy may have **broadcast** an input (a row added to every row of a matrix): its cotangent must have *its*
# shape, so sum `g` over the broadcast axes with `unbroadcast(g, a.shape)`. For `mul`, each input's partial is
# the *other* input's value.
# %% [markdown] zh
# ## 任务 13.1 — 加法与乘法
#
# `add(a, b)` 返回 `Tensor(a.data + b.data, (a, b), vjp)`，
# 其中 `vjp(g)` 给出 `(g, g)`——但 numpy 可能对某个输入做了**广播**（例如把一行加到矩阵的每一行上）：
# 它的余切向量必须是*它自己*的形状，所以要用 `unbroadcast(g, a.shape)` 把 `g` 沿被广播的轴求和。对 `mul`，
# 每个输入的偏导数是*另一个*输入的值。

# %%
# part of your build: lab 17 runs this cell
def add(a, b):
    a, b = lift(a), lift(b)
    # BEGIN SOLUTION
    return Tensor(a.data + b.data, (a, b), lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))
    # END SOLUTION


def mul(a, b):
    a, b = lift(a), lift(b)
    # BEGIN SOLUTION
    return Tensor(a.data * b.data, (a, b),
                  lambda g: (unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)))
    # END SOLUTION


Tensor.__add__ = Tensor.__radd__ = add
Tensor.__mul__ = Tensor.__rmul__ = mul

# %%
from minifw.labs.build_checks import check_backward, check_tape_elementwise, check_tape_ops, check_topo_order

check_tape_elementwise(Tensor)

# %% [markdown]
# ## Task 13.2 — matmul, relu, sum
#
# For `c = a @ b` (2-D): `ā = g @ bᵀ`, `b̄ = aᵀ @ g` — check the shapes: `ā` has `a`'s. `relu` passes `g` where
# the input was positive. `sum` gives a 0-d result; every input element gets `g`.
# %% [markdown] zh
# ## 任务 13.2 — 矩阵乘、relu 与求和
#
# 对 `c = a @ b`（二维）：`ā = g @ bᵀ`，`b̄ = aᵀ @ g`——核对形状：`ā` 与 `a` 同形。`relu` 只在输入为正处让 `g` 通过。
# `sum` 的结果是 0 维的；输入的每个元素都得到 `g`。

# %%
# part of your build: lab 17 runs this cell
def matmul(a, b):
    # BEGIN SOLUTION
    return Tensor(a.data @ b.data, (a, b), lambda g: (g @ b.data.T, a.data.T @ g))
    # END SOLUTION


def relu(a):
    # BEGIN SOLUTION
    return Tensor(np.maximum(a.data, 0.0), (a,), lambda g: (g * (a.data > 0),))
    # END SOLUTION


def total(a):
    # BEGIN SOLUTION
    return Tensor(a.data.sum(), (a,), lambda g: (np.full(a.shape, g),))
    # END SOLUTION


Tensor.__matmul__, Tensor.relu, Tensor.sum = matmul, relu, total

# %%
check_tape_ops(Tensor)

# %% [markdown]
# ## Task 13.3 — a topological order
#
# List every node `root` depends on, each **once**, parents before children, the root last. Use an explicit
# stack instead of recursion: a deep network's tape is longer than Python's recursion limit (the check uses a
# chain of 3,000 nodes). One way: push `(node, False)`; when popped unexpanded, push `(node, True)` then its
# unvisited parents; when popped expanded, append it to the order.
# %% [markdown] zh
# ## 任务 13.3 — 拓扑排序
#
# 列出 `root` 依赖的每个节点，每个只出现**一次**，父节点在子节点之前，根节点最后。用显式的栈而不是递归：
# 深层网络的记录带比 Python 的递归深度上限还长（检查里用了一条 3000 个节点的链）。一种做法：压入 `(node, False)`；
# 弹出未展开的节点时，先压入 `(node, True)`，再压入它尚未访问的父节点；弹出已展开的节点时，把它追加到序列里。

# %%
# part of your build: lab 17 runs this cell
def topo_order(root):
    # BEGIN SOLUTION
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents if id(p) not in seen)
    return order
    # END SOLUTION


# %%
check_topo_order(topo_order, Tensor)

# %% [markdown]
# ## Task 13.4 — the reverse sweep
#
# Seed `root.grad` with ones; then for each node in **reverse** topological order that has a `vjp` and a
# `grad`, call `vjp(node.grad)` and **add** each cotangent into its parent's `.grad` (`None` means zero so
# far). Adding is the whole point: a node used on two paths (`x` in `x·y + x`) receives the sum of the
# adjoints along both — overwriting would lose one.
# %% [markdown] zh
# ## 任务 13.4 — 反向扫描
#
# 把 `root.grad` 初始化为全 1；然后按**逆**拓扑排序遍历每个带有 `vjp` 和 `grad` 的节点，调用 `vjp(node.grad)`，
# 把每个余切向量**加到**对应父节点的 `.grad` 上（`None` 表示目前为 0）。关键就在“加”：
# 一个节点若出现在两条路径上（如 `x·y + x` 中的 `x`），它得到的是两条路径上伴随值之和——直接覆盖会丢掉其中一条。

# %%
# part of your build: lab 17 runs this cell
def backward(root):
    # BEGIN SOLUTION
    root.grad = np.ones_like(root.data)
    for node in reversed(topo_order(root)):
        if node.vjp is None or node.grad is None:
            continue
        for parent, g in zip(node.parents, node.vjp(node.grad)):
            parent.grad = g if parent.grad is None else parent.grad + g
    # END SOLUTION


# %%
check_backward(backward, Tensor)

# %% [markdown]
# ## Your tape, at work
#
# A least-squares fit by gradient descent, every gradient from your sweep:
# %% [markdown] zh
# ## 你的记录带，开始工作
#
# 用梯度下降做最小二乘拟合，每个梯度都来自你的反向扫描：

# %%
rng = np.random.default_rng(0)
X, w_true = rng.standard_normal((50, 3)), np.array([[1.0], [-2.0], [0.5]])
Y = X @ w_true
w = Tensor(np.zeros((3, 1)))
for _ in range(100):
    err = Tensor(X) @ w + Tensor(-Y)
    loss = (err * err).sum()
    w.grad = None
    loss.backward()
    w.data -= 0.005 * w.grad
print("fitted w:", w.data.ravel().round(3), " loss:", float(loss.data))

# %% [markdown]
# **Next:** lab 14 builds the graph *first* and runs it later — define-then-run.
# %% [markdown] zh
# **下一课：** 实验 14 先把计算图建好、之后再运行——先定义后运行（静态图）。
