# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 2 — Reverse mode and adjoints
#
# *25–35 minutes.* Forward mode (lab 1) pushes one tangent from the inputs to the output. Reverse
# mode pulls one **adjoint** `x̄ = ∂f/∂x` from the output back to *every* input, in one sweep.
# You will
#
# 1. take the course notes' reverse-mode example `f = x1·x2 + exp(x1·x2)` at `(x1, x2) = (1, 2)`,
# 2. **exercise 2.1:** fill in its adjoint column by hand, where one variable reaches `f` along
#    **two paths** whose contributions add,
# 3. run the same sweep yourself in ten lines, and on minifw's eager tape, and
# 4. **exercise 2.2:** write a vjp rule for a new primitive and pass `gradcheck`.
# %% [markdown] zh
# # 实验 2 — 反向模式与伴随
#
# *25–35 分钟。* 前向模式（实验 1）把一个切线从输入推向输出。反向模式则把一个**伴随**（adjoint）`x̄ = ∂f/∂x`
# 从输出拉回到*每一个*输入，只需一次扫描。你将
#
# 1. 使用课程笔记中的反向模式例子 `f = x1·x2 + exp(x1·x2)`，取 `(x1, x2) = (1, 2)`，
# 2. **练习 2.1：** 手工填出它的伴随一列——其中一个变量沿**两条路径**到达 `f`，两条路径的贡献相加，
# 3. 自己用十行代码运行同样的扫描，再在 minifw 的动态记录带（tape）上运行一次，
# 4. **练习 2.2：** 为一个新的原语写出 vjp 规则，并通过 `gradcheck`。

# %%
import numpy as np
from IPython.display import Markdown

import minifw as mf
from minifw.expr import trace
from minifw.labs.checks import NOTES_REVERSE, notes_names
from minifw.viz import draw_expression

expression, point = NOTES_REVERSE  # "x1*x2 + exp(x1*x2)" at x1 = 1, x2 = 2
t = trace(expression, point, mode="reverse")
names = notes_names(t)  # v_-1 → x1, v_0 → x2, v_1 → x3, ...
Markdown("\n".join(["| notes | minifw | operation | value |", "|---|---|---|---|",
                     *(f"| {names[r.name]} | {r.name} | {r.expression()} | {r.value:.6g} |" for r in t.rows)]))

# %% [markdown]
# The notes number the variables `x1 … x5`: `x3 = x1·x2`, `x4 = exp(x3)`, `x5 = x3 + x4 = f`. minifw
# numbers the same rows `v_-1 … v_3` (inputs from `v_-1` up to `v_0`, then one row per operation);
# the table puts the two side by side. Note that `x1·x2` is computed **once**: `x3` is used twice.
#
# ## Exercise 2.1 — the adjoint column
#
# Sweep backwards from `x̄5 = ∂f/∂x5 = 1`. Each row `xi = g(xj, xk)` sends `x̄i · ∂g/∂xj` to `x̄j`;
# a variable used by **several** rows receives a contribution from each, and they **add**. Return
# `[x̄1, x̄2, x̄3, x̄4, x̄5]` (numbers; `np.exp` is allowed). The check compares your list with
# minifw's reverse trace row by row, from `x̄5` back, and names the first wrong row and any path it
# misses.
# %% [markdown] zh
# 笔记把变量编号为 `x1 … x5`：`x3 = x1·x2`，`x4 = exp(x3)`，`x5 = x3 + x4 = f`。minifw 把同样的行编号为
# `v_-1 … v_3`（输入从 `v_-1` 到 `v_0`，之后每个运算一行）；上表把两种编号并排列出。注意 `x1·x2` 只算了
# **一次**：`x3` 被用了两次。
#
# ## 练习 2.1 — 伴随一列
#
# 从 `x̄5 = ∂f/∂x5 = 1` 开始向后扫描。每一行 `xi = g(xj, xk)` 把 `x̄i · ∂g/∂xj` 传给 `x̄j`；被**多个**行使用的
# 变量会从每一行各收到一份贡献，它们**相加**。返回 `[x̄1, x̄2, x̄3, x̄4, x̄5]`（数值；可以使用 `np.exp`）。
# 检查程序会把你的列表与 minifw 的反向轨迹从 `x̄5` 开始逐行往回比较，指出第一个错误的行，以及它漏掉的路径。

# %%
def adjoint_column():
    # BEGIN SOLUTION
    x1, x2 = 1.0, 2.0
    x3 = x1 * x2
    xb5 = 1.0  # ∂f/∂x5
    xb4 = xb5 * 1.0  # x5 = x3 + x4
    xb3 = xb5 * 1.0 + xb4 * np.exp(x3)  # two paths: x3 → x5, and x3 → x4 → x5
    xb2 = xb3 * x1  # x3 = x1·x2
    xb1 = xb3 * x2
    return [xb1, xb2, xb3, xb4, xb5]
    # END SOLUTION


# %%
from minifw.labs.checks import check_adjoints

check_adjoints(adjoint_column)

# %% [markdown]
# minifw's reverse trace of the same function, the sweep in the order it runs:
# %% [markdown] zh
# 同一个函数在 minifw 中的反向轨迹，按扫描实际运行的顺序列出：

# %%
t  # a cell's value: the tables as HTML (print(t) gives them as text)

# %% [markdown]
# The reverse sweep runs the primal rows **backwards**. `x3` (`v_1`) feeds two rows, `x4 = exp(x3)` and
# `x5 = x3 + x4`, so its adjoint is a **sum over both paths** — the line `v̄_1 = v̄_1 + …`:
# `x̄3 = 1 + e² = 8.389` (the direct path gives 1, the path through `exp` gives `e²`). Then
# `∂f/∂x1 = x̄3 · x2 = 16.778` and `∂f/∂x2 = x̄3 · x1 = 8.389`.
# %% [markdown] zh
# 反向扫描把原始（primal）行**倒过来**执行。`x3`（`v_1`）流向两行：`x4 = exp(x3)` 和 `x5 = x3 + x4`，所以它的
# 伴随是**两条路径之和**——也就是 `v̄_1 = v̄_1 + …` 那一行：`x̄3 = 1 + e² = 8.389`（直接路径贡献 1，经过 `exp`
# 的路径贡献 `e²`）。于是 `∂f/∂x1 = x̄3 · x2 = 16.778`，`∂f/∂x2 = x̄3 · x1 = 8.389`。

# %%
for step in t.reverse_steps:
    print(f"{names[step.target]:3s} {step.formula():28s} = {step.value:.6g}"
          + ("   ← a second path: accumulate" if step.accumulate else ""))
print("gradient:", t.gradient)

# %% [markdown]
# **Step through the sweep.** Each step lights up the adjoint row, the node it updates and the edge
# the adjoint travels back along; the step that *adds* the second path's contribution to `v̄_1` is
# marked "+= second path" (a dashed edge on the graph).
# %% [markdown] zh
# **一步一步看扫描。** 每一步都会高亮伴随所在的行、它更新的节点，以及伴随沿着传回去的那条边；把第二条路径的贡献
# *加到* `v̄_1` 上的那一步标有 "+= second path"（图上是一条虚线边）。

# %%
mf.explore(expression, at=point)

# %% [markdown]
# The graph, forward and then backward (edges labelled with the local partial each adjoint is
# multiplied by):
# %% [markdown] zh
# 计算图，先是前向，再是反向（边上标注的是每个伴随要乘上的局部偏导数）：

# %%
draw_expression(expression, point)

# %%
draw_expression(expression, point, backward=True)

# %% [markdown]
# ## The sweep in ten lines
#
# Every row of the trace carries its arguments and its local partials (the numbers from the
# primitive registry). Reverse mode is a loop over the rows in reverse order:
# %% [markdown] zh
# ## 十行代码实现扫描
#
# 轨迹的每一行都带着它的参数和局部偏导数（数值来自原语注册表）。反向模式就是按倒序遍历这些行的一个循环：

# %%
def reverse_sweep(rows, output):
    adjoint = {output: 1.0}  # ȳ = 1
    for row in reversed(rows):
        if row.is_input or row.name not in adjoint:
            continue
        for arg, partial in zip(row.args, row.partials):
            if isinstance(arg, str):  # constants get no adjoint
                adjoint[arg] = adjoint.get(arg, 0.0) + adjoint[row.name] * partial  # += : several paths add
    return {r.variable: adjoint.get(r.name, 0.0) for r in rows if r.is_input}


print(reverse_sweep(t.rows, t.output))

# %% [markdown]
# ## The same on minifw's eager tape (PyTorch style)
#
# Each operation on a tensor with `requires_grad=True` records its inputs; `backward()` runs the
# sweep above over the tape, with each primitive's **vjp rule** (vector–Jacobian product) doing the
# `adjoint × partial` step for whole arrays at once.
# %% [markdown] zh
# ## 在 minifw 的动态记录带上做同样的事（PyTorch 风格）
#
# 对 `requires_grad=True` 的张量做的每个运算都会记录它的输入；`backward()` 在记录带上运行上面的扫描，由每个
# 原语的 **vjp 规则**（向量–雅可比积）一次性对整个数组完成 `伴随 × 偏导数` 这一步。

# %%
x1 = mf.tensor(1.0, dtype=mf.float64, requires_grad=True)
x2 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
x3 = x1 * x2
f = x3 + mf.exp(x3)
f.backward()
print(f"f = {f.item():.6f}, ∂f/∂x1 = {x1.grad.item():.6f}, ∂f/∂x2 = {x2.grad.item():.6f}")

# %% [markdown]
# The paths also accumulate for arrays: `z = (a·a).sum()` uses `a` twice in one op, and `mul`'s vjp
# sends `g·a` along each path, so `a.grad = 2a`.
# %% [markdown] zh
# 对数组来说，路径同样会累加：`z = (a·a).sum()` 在一个运算里用了 `a` 两次，`mul` 的 vjp 沿每条路径各送出
# `g·a`，所以 `a.grad = 2a`。

# %%
a = mf.tensor([1.0, -2.0, 3.0], dtype=mf.float64, requires_grad=True)
(a * a).sum().backward()
print(a.grad)

# %% [markdown]
# ## Exercise 2.2 — a vjp rule for swish
#
# `swish(x) = x · σ(x)` (also called SiLU). A vjp rule receives the incoming cotangent `g` (same
# shape as the output), the output `out`, and the input `x`, and returns the cotangent of `x`:
# `g × ∂swish/∂x`, elementwise. Derive `∂swish/∂x` (product rule; `σ' = σ(1 − σ)`) and write it with
# minifw ops (`mf.sigmoid`, `*`, `+`, `-`), which work on arrays and tensors alike.
#
# The check installs your rule on a one-off primitive, runs reverse mode through it, and compares
# with central differences (`minifw.testing.gradcheck`).
# %% [markdown] zh
# ## 练习 2.2 — swish 的 vjp 规则
#
# `swish(x) = x · σ(x)`（也叫 SiLU）。vjp 规则接收传入的余切（cotangent）`g`（形状与输出相同）、输出 `out` 和
# 输入 `x`，返回 `x` 的余切：逐元素的 `g × ∂swish/∂x`。推导 `∂swish/∂x`（乘积法则；`σ' = σ(1 − σ)`），并用
# minifw 的算子（`mf.sigmoid`、`*`、`+`、`-`）写出来，这些算子对数组和张量都适用。
#
# 检查程序会把你的规则装到一个一次性的原语上，通过它运行反向模式，并与中心差分比较（`minifw.testing.gradcheck`）。

# %%
def swish_vjp(g, out, x):
    # BEGIN SOLUTION
    s = mf.sigmoid(x)
    return g * (s + x * s * (1 - s))
    # END SOLUTION


# %%
from minifw.labs.checks import check_vjp

check_vjp(swish_vjp)

# %% [markdown]
# Once it passes, the rule works wherever reverse mode runs: here is swish's gradient on a tape.
# %% [markdown] zh
# 一旦通过，这条规则在任何运行反向模式的地方都能用：下面是 swish 在记录带上的梯度。

# %%
from minifw import functional as F
from minifw.labs.checks import swish_primitive

swish = swish_primitive(swish_vjp)
x = mf.tensor(np.linspace(-3, 3, 7), dtype=mf.float64, requires_grad=True)
F.bind(swish, x).sum().backward()
print(np.round(x.grad.numpy(), 4))

# %% [markdown]
# ## One more: Baydin et al.'s example
#
# The survey by Baydin, Pearlmutter, Radul and Siskind (2018) uses `y = ln(x1) + x1·x2 − sin(x2)` at
# (2, 5); here `x1` is used twice. Read its sweep: `∂y/∂x1 = 1/2 + 5 = 5.5`, again a sum over two paths.
# %% [markdown] zh
# ## 再看一个：Baydin 等人的例子
#
# Baydin、Pearlmutter、Radul 和 Siskind 的综述（2018）使用 `y = ln(x1) + x1·x2 − sin(x2)`，取 (2, 5)；这里
# `x1` 被用了两次。读一读它的扫描：`∂y/∂x1 = 1/2 + 5 = 5.5`，同样是两条路径之和。

# %%
trace("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}, mode="reverse")

# %% [markdown]
# **Next:** lab 3 asks *when* to run forward and when reverse, and measures it.
# In a terminal: `minifw trace "x1*x2 + exp(x1*x2)" --at x1=1 --at x2=2 --mode reverse`.
# %% [markdown] zh
# **下一步：** 实验 3 讨论*何时*用前向、何时用反向，并加以测量。
# 在终端里：`minifw trace "x1*x2 + exp(x1*x2)" --at x1=1 --at x2=2 --mode reverse`。
