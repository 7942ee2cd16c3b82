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

# %%
mf.explore("x1*x2 + sin(x1)", x1=0.5, x2=2.0, mode="tangent", seed="x1")

# %% [markdown]
# ## Measuring
#
# Time both for a range of shapes: first grow the number of inputs `m` with `n = 4` outputs, then grow
# the number of outputs `n` with `m = 4` inputs. Each point is the best of a few runs. The shapes are
# small, so a pass costs mostly Python overhead — which is exactly what a pass costs here.

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
# `jacfwd` for "tall" Jacobians, `jacrev` for "wide" ones, and `hessian = jacfwd(jacrev(f))`-style
# mixtures for second derivatives.
#
# ## Exercise 3.1 — a Jacobian from jvps
#
# Write `my_jacfwd(f, x)` for a 1-D numpy `x` of length `m`: call `mf.jvp(f, (x,), (e_j,))` once for
# each basis vector `e_j` (a one-hot float array), and put the tangents in as the **columns** of an
# `n × m` numpy array. `np.asarray(tangent)` turns a result into an array. Call `f` only `m` times.

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
