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

# %%
t  # a cell's value: the tables as HTML (print(t) gives them as text)

# %% [markdown]
# The reverse sweep runs the primal rows **backwards**. `x3` (`v_1`) feeds two rows, `x4 = exp(x3)` and
# `x5 = x3 + x4`, so its adjoint is a **sum over both paths** — the line `v̄_1 = v̄_1 + …`:
# `x̄3 = 1 + e² = 8.389` (the direct path gives 1, the path through `exp` gives `e²`). Then
# `∂f/∂x1 = x̄3 · x2 = 16.778` and `∂f/∂x2 = x̄3 · x1 = 8.389`.

# %%
for step in t.reverse_steps:
    print(f"{names[step.target]:3s} {step.formula():28s} = {step.value:.6g}"
          + ("   ← a second path: accumulate" if step.accumulate else ""))
print("gradient:", t.gradient)

# %% [markdown]
# The graph, forward and then backward (edges labelled with the local partial each adjoint is
# multiplied by):

# %%
draw_expression(expression, point)

# %%
draw_expression(expression, point, backward=True)

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
x1 = mf.tensor(1.0, dtype=mf.float64, requires_grad=True)
x2 = mf.tensor(2.0, dtype=mf.float64, requires_grad=True)
x3 = x1 * x2
f = x3 + mf.exp(x3)
f.backward()
print(f"f = {f.item():.6f}, ∂f/∂x1 = {x1.grad.item():.6f}, ∂f/∂x2 = {x2.grad.item():.6f}")

# %% [markdown]
# The paths also accumulate for arrays: `z = (a·a).sum()` uses `a` twice in one op, and `mul`'s vjp
# sends `g·a` along each path, so `a.grad = 2a`.

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
# ## One more: Baydin et al.'s example
#
# The survey by Baydin, Pearlmutter, Radul and Siskind (2018) uses `y = ln(x1) + x1·x2 − sin(x2)` at
# (2, 5); here `x1` is used twice. Read its sweep: `∂y/∂x1 = 1/2 + 5 = 5.5`, again a sum over two paths.

# %%
trace("ln(x1) + x1*x2 - sin(x2)", {"x1": 2.0, "x2": 5.0}, mode="reverse")

# %% [markdown]
# **Next:** lab 3 asks *when* to run forward and when reverse, and measures it.
# In a terminal: `minifw trace "x1*x2 + exp(x1*x2)" --at x1=1 --at x2=2 --mode reverse`.
