# ruff: noqa: E402
# %% [markdown]
# # Lab 3 — Forward vs reverse: what a Jacobian costs
#
# *20–30 minutes.* For `f: R^m → R^n` the Jacobian `J` is `n × m`.
#
# * **Forward mode** (`jvp`) gives one *column* `J·v` per pass → `m` passes for the whole `J`.
# * **Reverse mode** (`vjp`) gives one *row* `uᵀ·J` per pass → `n` passes.
#
# So forward wins for few inputs and many outputs, reverse for many inputs and few outputs — a
# neural network's loss (`m` = millions of weights, `n = 1`) is the extreme case, which is why
# training uses reverse mode. This lab measures it with `mf.jacfwd` and `mf.jacrev` and plots the
# crossover. **Exercise 3.1:** build a Jacobian from jvps yourself.
# %% [markdown] zh
# # 实验 3 — 前向与反向：一个雅可比矩阵的代价
#
# *20–30 分钟。* 对于 `f: R^m → R^n`，雅可比矩阵 `J` 是 `n × m` 的。
#
# * **前向模式**（`jvp`）每一遍给出一*列* `J·v` → 整个 `J` 需要 `m` 遍。
# * **反向模式**（`vjp`）每一遍给出一*行* `uᵀ·J` → 需要 `n` 遍。
#
# 所以输入少、输出多时前向模式占优，输入多、输出少时反向模式占优——神经网络的损失（`m` = 数百万个权重，`n = 1`）
# 是最极端的情况，这就是训练使用反向模式的原因。本实验用 `mf.jacfwd` 和 `mf.jacrev` 测量这一点，并画出交叉点。
# **练习 3.1：** 自己用 jvp 构造一个雅可比矩阵。

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

import minifw as mf

rng = np.random.default_rng(0)


def make_f(m, n):
    W = rng.standard_normal((n, m)) / np.sqrt(m)

    def f(x):
        return mf.tanh(W @ x) * 2.0

    return f


f = make_f(3, 2)
x = rng.standard_normal(3)
print(mf.jacfwd(f)(x))
print(mf.jacrev(f)(x))  # the same matrix, computed the other way round

# %% [markdown]
# **One pass per input, or one sweep for all.** In *forward tangent* mode a pass follows one seed: with
# `seed ẋ: x1` the last row is `∂y/∂x1`; for `∂y/∂x2` you must change the seed and run again. Switch to
# *reverse adjoint*: one sweep ends with both `x̄1` and `x̄2`.
# %% [markdown] zh
# **每个输入一遍，还是一次扫描得到全部。** 在 *forward tangent* 模式下，一遍只沿着一个种子方向：选 `seed ẋ: x1`
# 时最后一行是 `∂y/∂x1`；要得到 `∂y/∂x2`，必须换种子再跑一遍。切换到 *reverse adjoint*：一次扫描结束时
# `x̄1` 和 `x̄2` 都有了。

# %%
mf.explore("x1*x2 + sin(x1)", x1=0.5, x2=2.0, mode="tangent", seed="x1")

# %% [markdown]
# ## Measuring
#
# Time both for a range of shapes: first grow the number of inputs `m` with `n = 4` outputs, then grow
# the number of outputs `n` with `m = 4` inputs. Each point is the best of a few runs. The shapes are
# small, so a pass costs mostly Python overhead — which is exactly what a pass costs here.
# %% [markdown] zh
# ## 测量
#
# 在一系列形状上为两者计时：先固定 `n = 4` 个输出、增加输入个数 `m`，再固定 `m = 4` 个输入、增加输出个数 `n`。
# 每个点取几次运行中最好的一次。形状都很小，所以每一遍的开销主要是 Python 开销——而这恰恰就是这里一遍的代价。

# %%
def best_time(fn, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


sizes = [1, 2, 4, 8, 16, 32]
rows = []
for m, n in [(s, 4) for s in sizes] + [(4, s) for s in sizes]:
    f, x = make_f(m, n), rng.standard_normal(m)
    rows.append((m, n, best_time(lambda: mf.jacfwd(f)(x)), best_time(lambda: mf.jacrev(f)(x))))  # noqa: B023

print(f"{'m':>3} {'n':>3} {'jacfwd ms':>10} {'jacrev ms':>10}  faster")
for m, n, tf, tr in rows:
    print(f"{m:3d} {n:3d} {tf * 1e3:10.2f} {tr * 1e3:10.2f}  {'forward' if tf < tr else 'reverse'}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, (label, sel) in zip(axes, [("inputs m (n = 4 outputs)", slice(0, len(sizes))),
                                   ("outputs n (m = 4 inputs)", slice(len(sizes), None))]):
    part = rows[sel]
    xs = [r[0] if "inputs" in label else r[1] for r in part]
    ax.plot(xs, [r[2] * 1e3 for r in part], "o-", label="forward (jacfwd)")
    ax.plot(xs, [r[3] * 1e3 for r in part], "s-", label="reverse (jacrev)")
    ax.axvline(4, color="gray", ls=":", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(label)
    ax.grid(alpha=0.3)
axes[0].set_ylabel("time for the whole Jacobian (ms)")
axes[0].legend()
fig.suptitle("Forward mode costs one pass per input, reverse one per output: they cross near m = n")
plt.show()

# %% [markdown]
# Read the plots: with `n = 4` fixed, forward's time grows with `m` and reverse's stays flat; with `m = 4`
# fixed it is the other way round. They cross where `m ≈ n` — shifted a little because a reverse pass
# costs more than a forward pass (it records a tape and then sweeps it). JAX's advice follows:
# `jacfwd` for "tall" Jacobians, `jacrev` for "wide" ones, and mixtures for second derivatives. JAX's
# `hessian` is `jacfwd(jacrev(f))`, forward over reverse; minifw's `mf.hessian` nests them the other way
# round, `jacrev(jacfwd(f))` (reverse over forward, the same matrix), because minifw's reverse mode does not
# take dual numbers: `mf.jacfwd(mf.jacrev(f))` stops with a `TransformError` that says so.
#
# ## Exercise 3.1 — a Jacobian from jvps
#
# Write `my_jacfwd(f, x)` for a 1-D numpy `x` of length `m`: call `mf.jvp(f, (x,), (e_j,))` once for
# each basis vector `e_j` (a one-hot float array), and put the tangents in as the **columns** of an
# `n × m` numpy array. `np.asarray(tangent)` turns a result into an array. The check counts your calls
# of `mf.jvp`: exactly `m`, one per input (`mf.jacfwd` or `mf.jacrev` would skip the point, and fail).
# %% [markdown] zh
# 读图：固定 `n = 4` 时，前向的时间随 `m` 增长，反向的保持平坦；固定 `m = 4` 时则正好相反。两者在 `m ≈ n`
# 附近相交——略有偏移，因为反向的一遍比前向的一遍更贵（它要先记录记录带，再扫描一遍）。JAX 的建议由此而来：
# “高”的雅可比矩阵用 `jacfwd`，“宽”的用 `jacrev`，二阶导数则用两者的组合。JAX 的 `hessian` 是
# `jacfwd(jacrev(f))`，即前向套反向；minifw 的 `mf.hessian` 反过来嵌套，是 `jacrev(jacfwd(f))`（反向套前向，
# 得到同一个矩阵），因为 minifw 的反向模式不接受对偶数：`mf.jacfwd(mf.jacrev(f))` 会以 `TransformError`
# 停下并说明原因。
#
# ## 练习 3.1 — 用 jvp 构造雅可比矩阵
#
# 为长度为 `m` 的一维 numpy 数组 `x` 编写 `my_jacfwd(f, x)`：对每个基向量 `e_j`（一个 one-hot 浮点数组）调用
# 一次 `mf.jvp(f, (x,), (e_j,))`，把得到的切线作为一个 `n × m` numpy 数组的各**列**。`np.asarray(tangent)` 把结果
# 转成数组。检查程序会统计你调用 `mf.jvp` 的次数：恰好 `m` 次，每个输入一次（用 `mf.jacfwd` 或 `mf.jacrev`
# 就失去了练习的意义，也会判为不通过）。

# %%
def my_jacfwd(f, x):
    # BEGIN SOLUTION
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = 1.0
        _, t = mf.jvp(f, (x,), (e,))
        cols.append(np.asarray(t))
    return np.stack(cols, axis=1)
    # END SOLUTION


# %%
from minifw.labs.checks import check_jacfwd

check_jacfwd(my_jacfwd)

# %% [markdown]
# **Next:** lab 4 turns from *what* is computed to *how*: the same function run eagerly on a
# tape, and as a compiled static graph.
# %% [markdown] zh
# **下一步：** 实验 4 从*算什么*转向*怎么算*：同一个函数，在记录带上立即执行（eager），以及作为编译后的静态图执行。
