# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 12 — Build it yourself: dual numbers
#
# *30–40 minutes.* The first lab of the **build-it-yourself track** (labs 12–17): you write the pieces of a
# deep-learning framework, one small task at a time, and at the end (lab 17) your pieces train a network on
# handwritten digits. Each task is a cell with `raise NotImplementedError(...)` to replace, followed by a check
# cell; `minifw lab check 12` runs them all.
#
# Here: forward-mode differentiation with **dual numbers** `a + εb`, `ε² = 0`. Three tasks:
#
# 1. **12.1** `+`, `-`, `*` of duals (the product rule falls out of `ε² = 0`);
# 2. **12.2** `sin`, `exp`, `log` of a dual (the chain rule);
# 3. **12.3** `derivative(f, x)` and `gradient(f, xs)` by seeding tangents.
# %% [markdown] zh
# # 实验 12 — 自己动手：对偶数（二元数）
#
# *30–40 分钟。* 这是**自己动手搭框架**系列（实验 12–17）的第一课：你一次写一个小部件，逐步拼出一个深度学习框架；
# 最后（实验 17）用你自己写的部件在手写数字上训练一个网络。每个任务是一个代码单元，
# 把其中的 `raise NotImplementedError(...)` 换成你的代码，紧接着是一个检查单元；`minifw lab check 12` 会逐个运行检查。
#
# 本课：用**对偶数** `a + εb`（`ε² = 0`）做前向模式求导。三个任务：
#
# 1. **12.1** 对偶数的 `+`、`-`、`*`（乘积法则由 `ε² = 0` 自然得出）；
# 2. **12.2** 对偶数的 `sin`、`exp`、`log`（链式法则）；
# 3. **12.3** 通过设定切线（种子）写出 `derivative(f, x)` 和 `gradient(f, xs)`。

# %%
import math

from minifw.labs.build_checks import check_derivative, check_dual_arithmetic, check_dual_functions

# %% [markdown]
# ## Task 12.1 — arithmetic
#
# A dual number carries a value `a` (the *primal*) and a *tangent* `b`. Multiply out
# `(a + εb)(c + εd) = ac + ε(ad + bc) + ε²bd` and drop `ε²`: the tangent of a product is `ad + bc` — the
# product rule. A plain number `c` is the dual `c + ε0`. Write `__add__`, `__sub__`, `__mul__`, and the
# reflected `__radd__`, `__rsub__`, `__rmul__` (Python calls `x.__radd__(3)` for `3 + x`).
# %% [markdown] zh
# ## 任务 12.1 — 算术
#
# 对偶数携带一个值 `a`（*原值*，primal）和一个*切线*（tangent）`b`。
# 展开 `(a + εb)(c + εd) = ac + ε(ad + bc) + ε²bd` 并丢掉 `ε²` 项：乘积的切线是 `ad + bc`——这就是乘积法则。
# 普通数 `c` 就是对偶数 `c + ε0`。请写出 `__add__`、`__sub__`、`__mul__`，以及反射版本 `__radd__`、`__rsub__`、
# `__rmul__`（对 `3 + x`，Python 调用的是 `x.__radd__(3)`）。

# %%
class Dual:
    """a + εb with ε² = 0."""

    def __init__(self, primal, tangent=0.0):
        self.primal, self.tangent = float(primal), float(tangent)

    def __repr__(self):
        return f"Dual({self.primal:.6g}, {self.tangent:.6g})"


def lift(x):
    return x if isinstance(x, Dual) else Dual(x, 0.0)


def add(x, y):
    x, y = lift(x), lift(y)
    # BEGIN SOLUTION
    return Dual(x.primal + y.primal, x.tangent + y.tangent)
    # END SOLUTION


def sub(x, y):
    x, y = lift(x), lift(y)
    # BEGIN SOLUTION
    return Dual(x.primal - y.primal, x.tangent - y.tangent)
    # END SOLUTION


def mul(x, y):
    x, y = lift(x), lift(y)
    # BEGIN SOLUTION
    return Dual(x.primal * y.primal, x.primal * y.tangent + x.tangent * y.primal)
    # END SOLUTION


Dual.__add__ = Dual.__radd__ = add
Dual.__sub__ = sub
Dual.__rsub__ = lambda x, y: sub(y, x)
Dual.__mul__ = Dual.__rmul__ = mul
Dual.__neg__ = lambda x: mul(x, -1.0)

# %%
check_dual_arithmetic(Dual)

# %% [markdown]
# ## Task 12.2 — functions
#
# For any smooth `g`, `g(a + εb) = g(a) + ε b g'(a)` (Taylor's theorem with `ε² = 0`): the tangent is the
# input's tangent times the local derivative — the chain rule, one step at a time. On a plain float each
# function should behave like `math`'s.
# %% [markdown] zh
# ## 任务 12.2 — 函数
#
# 对任意光滑函数 `g`，`g(a + εb) = g(a) + ε b g'(a)`（泰勒展开，且 `ε² = 0`）：
# 输出的切线等于输入的切线乘以局部导数——这正是链式法则，一步一步地应用。对普通浮点数，
# 每个函数应与 `math` 中的同名函数一致。

# %%
def sin(x):
    if not isinstance(x, Dual):
        return math.sin(x)
    # BEGIN SOLUTION
    return Dual(math.sin(x.primal), x.tangent * math.cos(x.primal))
    # END SOLUTION


def exp(x):
    if not isinstance(x, Dual):
        return math.exp(x)
    # BEGIN SOLUTION
    return Dual(math.exp(x.primal), x.tangent * math.exp(x.primal))
    # END SOLUTION


def log(x):
    if not isinstance(x, Dual):
        return math.log(x)
    # BEGIN SOLUTION
    return Dual(math.log(x.primal), x.tangent / x.primal)
    # END SOLUTION


# %%
check_dual_functions(sin, exp, log, Dual)

# %% [markdown]
# ## Task 12.3 — derivatives and gradients
#
# `derivative(f, x)`: evaluate `f` at `Dual(x, 1)` — "move x at speed 1" — and return the output's tangent.
# `gradient(f, xs)`: one pass per input `i`, seeding input `i` with tangent 1 and the others with 0. That is
# forward mode's cost: **n passes for n inputs** (lab 13's reverse sweep gets all of them in one).
# %% [markdown] zh
# ## 任务 12.3 — 导数与梯度
#
# `derivative(f, x)`：在 `Dual(x, 1)` 处计算 `f`——“让 x 以速度 1 移动”——然后返回输出的切线。`gradient(f, xs)`：
# 对每个输入 `i` 各做一遍计算，给输入 `i` 的切线设为 1，其余设为 0。这就是前向模式的代价：
# **n 个输入需要 n 遍**（实验 13 的反向扫描一遍就能得到全部）。

# %%
def derivative(f, x):
    # BEGIN SOLUTION
    return f(Dual(x, 1.0)).tangent
    # END SOLUTION


def gradient(f, xs):
    # BEGIN SOLUTION
    return [f(*[Dual(x, 1.0 if j == i else 0.0) for j, x in enumerate(xs)]).tangent for i in range(len(xs))]
    # END SOLUTION


# %%
check_derivative(derivative, gradient, sin, exp, log)

# %% [markdown]
# Baydin et al.'s example, by your duals: `f(x) = x − exp(−2 sin²(4x))` at `π/16` has `f' = 1 + 8/e`.
# %% [markdown] zh
# 用你的对偶数算 Baydin 等人的例子：`f(x) = x − exp(−2 sin²(4x))` 在 `π/16` 处的导数为 `1 + 8/e`。

# %%
print(derivative(lambda x: x - exp(-2 * sin(4 * x) * sin(4 * x)), math.pi / 16), 1 + 8 / math.e)

# %% [markdown]
# **Next:** lab 13 runs differentiation backwards, on a tape — one pass for every input at once.
# %% [markdown] zh
# **下一课：** 实验 13 在记录带（磁带）上反向求导——一遍就得到对所有输入的导数。
