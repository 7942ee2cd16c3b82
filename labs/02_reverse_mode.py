# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 2 — Reverse mode and adjoints
#
# *25–35 minutes.* Forward mode (lab 1) pushes one tangent from the inputs to the output. Reverse
# mode pulls one **adjoint** `v̄ = ∂y/∂v` from the output back to *every* input, in one sweep.
# You will
#
# 1. read the reverse trace of Baydin et al.'s example `y = ln(x1) + x1·x2 − sin(x2)` at (2, 5),
# 2. see adjoints **accumulate** where a variable is used on several paths,
# 3. run the same sweep yourself in ten lines, and on minifw's eager tape, and
# 4. **exercise 2.1:** write a vjp rule for a new primitive and pass `gradcheck`.

# %%
import numpy as np

import minifw as mf
from minifw.expr import trace
from minifw.viz import draw_expression

t = trace("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}, mode="reverse")
t  # a cell's value: the tables as HTML (print(t) gives them as text)

# %% [markdown]
# The reverse sweep runs the primal rows **backwards**. Each row `v_i = g(v_j, v_k)` sends
# `v̄_i × ∂g/∂v_j` to `v̄_j`. `x1 = v_-1` feeds two rows (`ln v_-1` and `v_-1 × v_0`), so its adjoint
# is a **sum over both paths** — the lines with `v̄_-1 = v̄_-1 + …`. The result:
# `∂y/∂x1 = 1/2 + 5 = 5.5` and `∂y/∂x2 = 2 − cos 5 ≈ 1.716`.

# %%
for step in t.reverse_steps:
    print(f"{step.formula():32s} = {step.value:.6g}" + ("   ← a second path: accumulate" if step.accumulate
                                                         else ""))
print("gradient:", t.gradient)

# %% [markdown]
# **Step through the sweep.** Each step lights up the adjoint row, the node it updates and the edge
# the adjoint travels back along; the step that *adds* a second path's contribution to `v̄_-1` is
# marked "+= second path" (a dashed edge on the graph).

# %%
mf.explore("ln(x1) + x1*x2 - sin(x2)", x1=2.0, x2=5.0)

# %% [markdown]
# The graph, forward and then backward (edges labelled with the local partial each adjoint is
# multiplied by):

# %%
draw_expression("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0})

# %%
draw_expression("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}, backward=True)

# %% [markdown]
# ## The sweep in ten lines
#
# Every row of the trace carries its arguments and its local partials (the numbers from the
# primitive registry). Reverse mode is a loop over the rows in reverse order:

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

# %%
x1 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
x2 = mf.tensor(5.0, dtype=mf.float64, requires_grad=True)
y = mf.log(x1) + x1 * x2 - mf.sin(x2)
y.backward()
print(f"y = {y.item():.6f}, ∂y/∂x1 = {x1.grad.item():.6f}, ∂y/∂x2 = {x2.grad.item():.6f}")

# %% [markdown]
# The paths also accumulate for arrays: `z = (a·a).sum()` uses `a` twice in one op, and `mul`'s vjp
# sends `g·a` along each path, so `a.grad = 2a`.

# %%
a = mf.tensor([1.0, -2.0, 3.0], dtype=mf.float64, requires_grad=True)
(a * a).sum().backward()
print(a.grad)

# %% [markdown]
# ## Exercise 2.1 — a vjp rule for swish
#
# `swish(x) = x · σ(x)` (also called SiLU). A vjp rule receives the incoming cotangent `g` (same
# shape as the output), the output `out`, and the input `x`, and returns the cotangent of `x`:
# `g × ∂swish/∂x`, elementwise. Derive `∂swish/∂x` (product rule; `σ' = σ(1 − σ)`) and write it with
# minifw ops (`mf.sigmoid`, `*`, `+`, `-`), which work on arrays and tensors alike.
#
# The check installs your rule on a one-off primitive, runs reverse mode through it, and compares
# with central differences (`minifw.testing.gradcheck`).

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

# %%
from minifw import functional as F
from minifw.labs.checks import swish_primitive

swish = swish_primitive(swish_vjp)
x = mf.tensor(np.linspace(-3, 3, 7), dtype=mf.float64, requires_grad=True)
F.bind(swish, x).sum().backward()
print(np.round(x.grad.numpy(), 4))

# %% [markdown]
# **Next:** lab 3 asks *when* to run forward and when reverse, and measures it.
# In a terminal: `minifw trace "ln(x1) + x1*x2 - sin(x2)" --at x1=2 --at x2=5 --mode reverse`.
