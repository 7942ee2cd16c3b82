# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 1 — Derivatives by hand and by dual numbers
#
# *20–30 minutes.* Forward-mode automatic differentiation is nothing more than arithmetic on
# numbers of the form **a + εb** with **ε² = 0**. In this lab you will
#
# 1. differentiate the course notes' example `f(x) = x − exp(−2 sin²(4x))` at `x = π/16` by hand (it is
#    the worked example of Harvard's CS207 notes on automatic differentiation),
# 2. get the same number from a 20-line dual-number class,
# 3. **exercise 1.1:** predict the tangent column of its forward-mode evaluation trace, then read
#    minifw's, and
# 4. **exercise 1.2:** write the dual rule for a function minifw does not know, `softplus`.
# %% [markdown] zh
# # 实验 1 — 手算导数与对偶数
#
# *20–30 分钟。* 前向模式自动微分不过是对形如 **a + εb**、且 **ε² = 0** 的数做算术。在本实验中你将
#
# 1. 手算课程笔记中的例子 `f(x) = x − exp(−2 sin²(4x))` 在 `x = π/16` 处的导数（这是哈佛 CS207 课程关于
#    自动微分的笔记里的示例），
# 2. 用一个 20 行的对偶数（二元数）类得到同一个数，
# 3. **练习 1.1：** 预测它的前向模式求值轨迹（evaluation trace）中的切线（tangent）一列，然后再看 minifw 给出的，
# 4. **练习 1.2：** 为一个 minifw 不认识的函数 `softplus` 写出对偶数规则。

# %%
import math

import minifw as mf
from minifw.autodiff.dual import Dual

x0 = math.pi / 16

# %% [markdown]
# ## 1. By hand
#
# With the chain rule, `d/dx exp(−2 sin²(4x)) = exp(−2 sin²(4x)) · (−4 sin(4x) cos(4x)) · 4`, so
#
# $$f'(x) = 1 + 16 \sin(4x)\cos(4x)\, e^{-2\sin^2(4x)}.$$
#
# At `x = π/16`, `4x = π/4`, `sin = cos = √2/2`, so `f'(π/16) = 1 + 8/e ≈ 3.943`.
# %% [markdown] zh
# ## 1. 手算
#
# 由链式法则，`d/dx exp(−2 sin²(4x)) = exp(−2 sin²(4x)) · (−4 sin(4x) cos(4x)) · 4`，所以
#
# $$f'(x) = 1 + 16 \sin(4x)\cos(4x)\, e^{-2\sin^2(4x)}.$$
#
# 在 `x = π/16` 处，`4x = π/4`，`sin = cos = √2/2`，所以 `f'(π/16) = 1 + 8/e ≈ 3.943`。

# %%
def f(x):
    return x - math.exp(-2 * math.sin(4 * x) ** 2)


by_hand = 1 + 16 * math.sin(4 * x0) * math.cos(4 * x0) * math.exp(-2 * math.sin(4 * x0) ** 2)
h = 1e-6
central = (f(x0 + h) - f(x0 - h)) / (2 * h)
print(f"f(π/16)            = {f(x0):.6f}")
print(f"f'(π/16) by hand   = {by_hand:.6f}   (1 + 8/e = {1 + 8 / math.e:.6f})")
print(f"central difference = {central:.6f}   (approximate: truncation and rounding error)")

# %% [markdown]
# ## 2. Dual numbers in twenty lines
#
# A dual number `a + bε` is built like a complex number `a + bi`: the complex numbers add a symbol `i`
# with `i² = −1`, the dual numbers a symbol `ε` with **`ε² = 0`**. Arithmetic is the same algebra,
# with `ε²` terms dropped instead of turned into `−1`: `(a + εb)(c + εd) = ac + ε(ad + bc)`.
#
# For a function, take Taylor's expansion around `a` and let the step be `εb`; every term with `ε²`
# or a higher power vanishes, so it stops after the first derivative:
#
# $$\sin(a + \varepsilon b) = \sin a + \varepsilon b\cos a - \frac{(\varepsilon b)^2}{2}\sin a + \dots
#   = \sin a + \varepsilon\, b \cos a,$$
#
# and in general `g(a + εb) = g(a) + ε b g'(a)` for any smooth `g`. So carry a value `a` and a
# tangent `b` together, and every rule is the derivative rule you know, applied to the ε part.
# %% [markdown] zh
# ## 2. 二十行实现对偶数
#
# 对偶数 `a + bε` 的构造方式和复数 `a + bi` 一样：复数引入一个满足 `i² = −1` 的符号 `i`，对偶数引入一个满足
# **`ε² = 0`** 的符号 `ε`。算术是同一套代数，只是 `ε²` 项被直接丢掉，而不是变成 `−1`：
# `(a + εb)(c + εd) = ac + ε(ad + bc)`。
#
# 对于函数，在 `a` 处做泰勒展开，并让步长为 `εb`；所有含 `ε²` 或更高次幂的项都消失了，所以展开在一阶导数之后
# 就停止：
#
# $$\sin(a + \varepsilon b) = \sin a + \varepsilon b\cos a - \frac{(\varepsilon b)^2}{2}\sin a + \dots
#   = \sin a + \varepsilon\, b \cos a,$$
#
# 一般地，对任何光滑的 `g` 都有 `g(a + εb) = g(a) + ε b g'(a)`。所以只要把值 `a` 和切线 `b` 放在一起携带，
# 每条规则就是你熟悉的求导法则，作用在 ε 部分上。

# %%
class D:
    """a + εb, ε² = 0."""

    def __init__(self, a, b=0.0):
        self.a, self.b = a, b

    def __add__(self, o):
        o = o if isinstance(o, D) else D(o)
        return D(self.a + o.a, self.b + o.b)

    __radd__ = __add__

    def __neg__(self):
        return D(-self.a, -self.b)

    def __sub__(self, o):
        return self + (-o)

    def __rsub__(self, o):
        return (-self) + o

    def __mul__(self, o):
        o = o if isinstance(o, D) else D(o)
        return D(self.a * o.a, self.a * o.b + self.b * o.a)

    __rmul__ = __mul__

    def __pow__(self, n):  # integer powers: n a^(n-1) b
        return D(self.a ** n, n * self.a ** (n - 1) * self.b)

    def __repr__(self):
        return f"{self.a:.6f} + {self.b:.6f}ε"


def sin(x):
    return D(math.sin(x.a), x.b * math.cos(x.a)) if isinstance(x, D) else math.sin(x)


def exp(x):
    return D(math.exp(x.a), x.b * math.exp(x.a)) if isinstance(x, D) else math.exp(x)


def f_dual(x):
    return x - exp(-2 * sin(4 * x) ** 2)


y = f_dual(D(x0, 1.0))  # seed the tangent with 1: "how fast does f move when x moves at speed 1?"
print(y)
assert abs(y.b - by_hand) < 1e-12  # exact, not approximate: no step size anywhere

# %% [markdown]
# One evaluation gave the value **and** the derivative, exactly. Seeding the tangent with `b = 2`
# gives `2 f'(x)`: the ε part is a *directional derivative*, linear in the seed.
# %% [markdown] zh
# 一次求值就同时精确地得到了值**和**导数。把切线的种子设为 `b = 2` 会得到 `2 f'(x)`：ε 部分是一个
# *方向导数*，对种子是线性的。

# %%
print(f_dual(D(x0, 2.0)).b / by_hand)

# %% [markdown]
# ## 3. The same thing in minifw
#
# minifw's `Dual` works through every primitive in the registry (the tangent comes from each
# primitive's `jvp` rule), and `mf.jvp` wraps it in JAX's shape. An **evaluation trace** lists each
# elementary step `v_i` with its value — the layout of the CS207 notes (and of Baydin et al. 2018,
# Table 2). Here is the primal half of it: the steps and their values.
# %% [markdown] zh
# ## 3. 在 minifw 中做同样的事
#
# minifw 的 `Dual` 适用于注册表中的每一个原语（切线来自每个原语的 `jvp` 规则），`mf.jvp` 把它包装成 JAX 的形式。
# **求值轨迹**列出每个基本步骤 `v_i` 及其值——这是 CS207 笔记（以及 Baydin 等人 2018 年论文表 2）的排版方式。
# 下面是它的原始值（primal）部分：各个步骤及其值。

# %%
print(mf.sin(0.5 + Dual(0.0, 1.0) * 3.0))  # sin(a + εb) = sin a + ε b cos a
value, tangent = mf.jvp(lambda x: x - mf.exp(-2 * mf.sin(4 * x) ** 2), (x0,), (1.0,))
print(f"mf.jvp: value {value:.6f}, tangent {tangent:.6f}")

# %%
from IPython.display import Markdown

from minifw.autodiff.render import sections
from minifw.expr import trace

t = trace("x - exp(-2*sin(4*x)**2)", {"x": x0}, mode="forward")
title, header, cells = sections(t)[0]  # the primal trace only: the tangents are yours to predict
Markdown("\n".join([f"**{title}**", "", "| " + " | ".join(header) + " |", "|---|---|---|",
                     *("| " + " | ".join(c) + " |" for c in cells)]))

# %% [markdown]
# ## Exercise 1.1 — predict the tangent column
#
# Before minifw shows its tangents, fill them in yourself: return `[v̇_0, v̇_1, …, v̇_6]`, with the
# seed `v̇_0 = ẋ = 1`. Each row's tangent is its local derivative times the tangents of the rows it
# uses (`v_1 = 4 v_0` gives `v̇_1 = 4 v̇_0`; `v_2 = sin v_1` gives `v̇_2 = cos(v_1) v̇_1`; …). Use the
# values from the table above and `math`; `4x = π/4` here, so `sin` and `cos` are both `√2/2`. The check
# compares your list with minifw's trace row by row and names the first row that differs.
# %% [markdown] zh
# ## 练习 1.1 — 预测切线一列
#
# 在 minifw 给出它的切线之前，先自己填出来：返回 `[v̇_0, v̇_1, …, v̇_6]`，种子为 `v̇_0 = ẋ = 1`。每一行的切线
# 等于它的局部导数乘以它所用到的那些行的切线（`v_1 = 4 v_0` 给出 `v̇_1 = 4 v̇_0`；`v_2 = sin v_1` 给出
# `v̇_2 = cos(v_1) v̇_1`；……）。可以使用上表中的值和 `math`；这里 `4x = π/4`，所以 `sin` 和 `cos` 都是 `√2/2`。
# 检查程序会把你的列表与 minifw 的轨迹逐行比较，并指出第一个不一致的行。

# %%
def predicted_tangents():
    # BEGIN SOLUTION
    v1 = 4 * x0  # π/4
    v2 = math.sin(v1)
    v4 = -2 * v2 ** 2  # -1
    tangents = [1.0, 4.0]  # v̇_0 = ẋ (the seed); v̇_1 = 4 v̇_0
    tangents.append(math.cos(v1) * tangents[1])  # v̇_2 = cos(v_1) v̇_1 = 2√2
    tangents.append(2 * v2 * tangents[2])  # v̇_3 = 2 v_2 v̇_2 = 4
    tangents.append(-2 * tangents[3])  # v̇_4 = -2 v̇_3 = -8
    tangents.append(math.exp(v4) * tangents[4])  # v̇_5 = exp(v_4) v̇_4 = -8/e
    tangents.append(tangents[0] - tangents[5])  # v̇_6 = v̇_0 - v̇_5 = 1 + 8/e: x reaches v_6 on two paths
    return tangents
    # END SOLUTION


# %%
from minifw.labs.checks import check_tangents

check_tangents(predicted_tangents)

# %% [markdown]
# Now minifw's whole trace, tangents included:
# %% [markdown] zh
# 现在是 minifw 的完整轨迹，包括切线：

# %%
t  # a cell's value: the table as HTML (print(t) gives it as text)

# %% [markdown]
# **Step through it.** `mf.explore` shows the graph beside the tables: press Next (or Play) and each
# step lights up the row and the node it computes. Switch the mode to *forward primal* to see the values
# alone, or type another `x`: everything is recomputed at once.
# %% [markdown] zh
# **一步一步看。** `mf.explore` 把计算图放在表格旁边：按 Next（或 Play），每一步都会高亮它计算的那一行和那个
# 节点。把模式切换到 *forward primal* 只看数值，或者输入另一个 `x`：所有内容会立刻重新计算。

# %%
mf.explore("x - exp(-2*sin(4*x)**2)", x=x0, mode="tangent")

# %% [markdown]
# Read the table top to bottom: each tangent row uses only tangents computed above it. That is why
# forward mode needs no memory of the past — and why it gives **one directional derivative per
# pass** (lab 3 measures what that costs).
#
# ## Exercise 1.2 — the dual rule for softplus
#
# `softplus(x) = log(1 + eˣ)` is a smooth ReLU. Its derivative is the sigmoid `σ(x) = 1 / (1 + e⁻ˣ)`.
# Write `softplus_dual(x)` that takes a minifw `Dual` (with `.primal` and `.tangent` floats) and
# returns `Dual(softplus(a), b · softplus'(a))`. Use `math`, not minifw ops: this is the rule itself.
# %% [markdown] zh
# 从上往下读这张表：每一行切线只用到它上面已经算出的切线。这就是为什么前向模式不需要记住过去——也是为什么它
# **每一遍只给出一个方向导数**（实验 3 会测量这意味着什么代价）。
#
# ## 练习 1.2 — softplus 的对偶数规则
#
# `softplus(x) = log(1 + eˣ)` 是一个光滑的 ReLU。它的导数是 sigmoid 函数 `σ(x) = 1 / (1 + e⁻ˣ)`。编写
# `softplus_dual(x)`：它接收一个 minifw 的 `Dual`（带有浮点数 `.primal` 和 `.tangent`），返回
# `Dual(softplus(a), b · softplus'(a))`。请使用 `math` 而不是 minifw 的算子：这里要写的就是规则本身。

# %%
def softplus_dual(x: Dual) -> Dual:
    a, b = x.primal, x.tangent
    # BEGIN SOLUTION
    return Dual(math.log1p(math.exp(a)), b / (1 + math.exp(-a)))
    # END SOLUTION


# %%
from minifw.labs.checks import check_dual_rule

check_dual_rule(softplus_dual)

# %% [markdown]
# **Next:** lab 2 runs the same idea backwards — one pass gives the derivative with respect to
# *every* input. In a terminal, `minifw trace "x - exp(-2*sin(4*x)**2)" --at x=pi/16` prints
# this lab's table.
# %% [markdown] zh
# **下一步：** 实验 2 把同样的思路反过来运行——一遍就能得到对*每一个*输入的导数。在终端里，
# `minifw trace "x - exp(-2*sin(4*x)**2)" --at x=pi/16` 会打印本实验的表格。
