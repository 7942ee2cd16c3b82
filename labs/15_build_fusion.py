# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 15 — Build it yourself: kernel fusion
#
# *30–40 minutes.* Run `relu(h + b)` with numpy and you make two passes over memory and one temporary array;
# a longer chain makes more. **Kernel fusion** turns a chain of elementwise ops into **one** loop that computes
# the whole chain per element, in registers. A compiler does it by *generating source text* for that loop and
# compiling it — here with numba. Three tasks:
#
# 1. **15.1** `schedule(out)`: the chain's inputs and its steps in order;
# 2. **15.2** `kernel_source(out)`: the text of one kernel;
# 3. **15.3** `fuse(out)`: compile it with numba and call it on arrays.
# %% [markdown] zh
# # 实验 15 — 自己动手：算子融合
#
# *30–40 分钟。* 用 numpy 计算 `relu(h + b)` 要扫两遍内存，并产生一个临时数组；链越长，扫的遍数和临时数组越多。
# **算子融合**把一串逐元素运算变成**一个**循环：每个元素在寄存器里一口气算完整条链。
# 编译器的做法是为这个循环*生成源代码文本*，再编译它——这里用 numba。三个任务：
#
# 1. **15.1** `schedule(out)`：链的输入，以及按顺序排好的各个步骤；
# 2. **15.2** `kernel_source(out)`：一个内核的源代码文本；
# 3. **15.3** `fuse(out)`：用 numba 编译它，并在数组上调用。

# %%
# part of your build: lab 17 runs this cell
import numpy as np

from minifw.kernels.fusion import load_module  # imports generated source from a file, so numba can cache it

# each elementwise op as scalar source text ({0}, {1}: its operands) and as numpy (the unfused reference)
SCALAR = {"add": "({0} + {1})", "sub": "({0} - {1})", "mul": "({0} * {1})", "neg": "(-{0})",
          "relu": "max({0}, 0.0)", "exp": "math.exp({0})"}
NUMPY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
         "relu": lambda a: np.maximum(a, 0.0), "exp": np.exp}


class Expr:
    """An elementwise expression node: op "var" (an input array, by name), "const" (a float), or a key of SCALAR."""

    def __init__(self, op, inputs=(), name="", value=None):
        self.op, self.inputs, self.name, self.value = op, tuple(inputs), name, value

    def __add__(self, o):
        return Expr("add", (self, o))

    def __sub__(self, o):
        return Expr("sub", (self, o))

    def __mul__(self, o):
        return Expr("mul", (self, o))

    def __neg__(self):
        return Expr("neg", (self,))

    def __repr__(self):
        return f"<{self.op} {self.name or self.value or ''}>"


def var(name):
    return Expr("var", name=name)


def const(value):
    return Expr("const", value=float(value))


def relu(e):
    return Expr("relu", (e,))


def exp(e):
    return Expr("exp", (e,))


def evaluate(e, arrays):
    """The unfused way: one numpy call, and one temporary array, per node."""
    if e.op == "var":
        return np.asarray(arrays[e.name], dtype=np.float64)
    if e.op == "const":
        return e.value
    return NUMPY[e.op](*(evaluate(i, arrays) for i in e.inputs))

# %% [markdown]
# ## Task 15.1 — the schedule
#
# Return `(inputs, steps)`: `inputs` the names of the `var` nodes, **sorted**, each once (the kernel's
# arguments); `steps` the op nodes (not vars, not consts), each once, every one after its operands, `out` last —
# a topological order again (lab 13's `topo_order` idea works: keep the op nodes).
# %% [markdown] zh
# ## 任务 15.1 — 调度
#
# 返回 `(inputs, steps)`：`inputs` 是各个 `var` 节点的名字，**排好序**，每个一次（即内核的参数）；
# `steps` 是运算节点（不含 var 和 const），每个一次，每个都排在它的操作数之后，
# `out` 排最后——又是一个拓扑排序（实验 13 的 `topo_order` 思路在这里同样适用：只保留运算节点）。

# %%
# part of your build: lab 17 runs this cell
def schedule(out):
    # BEGIN SOLUTION
    names, steps, seen, stack = set(), [], set(), [(out, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            steps.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            if node.op == "var":
                names.add(node.name)
            elif node.op != "const":
                stack.append((node, True))
                stack.extend((i, False) for i in node.inputs)
    return sorted(names), steps
    # END SOLUTION


# %%
from minifw.labs.build_checks import check_fuse, check_kernel_source, check_schedule

check_schedule(schedule, globals())

# %% [markdown]
# ## Task 15.2 — the kernel's text
#
# Generate, for `relu(h + b)`:
#
# ```python
# import math
# from numba import njit
#
#
# @njit(cache=True)
# def kernel(b, h, out):
#     for i in range(out.shape[0]):
#         t0 = (h[i] + b[i])
#         t1 = max(t0, 0.0)
#         out[i] = t1
# ```
#
# The arguments are `schedule`'s inputs, then `out`; **one** loop; step `k` becomes `tk = ...` from its
# `SCALAR` template, where an operand is `name[i]` (a var), the float's `repr` (a const), or `tj` (an earlier
# step). This is the text a compiler writes — it is our own, never a user's.
# %% [markdown] zh
# ## 任务 15.2 — 内核的源代码文本
#
# 对 `relu(h + b)`，生成如下代码：
#
# ```python
# import math
# from numba import njit
#
#
# @njit(cache=True)
# def kernel(b, h, out):
#     for i in range(out.shape[0]):
#         t0 = (h[i] + b[i])
#         t1 = max(t0, 0.0)
#         out[i] = t1
# ```
#
# 参数是 `schedule` 给出的输入，再加上 `out`；只有**一个**循环；第 `k` 步按它的 `SCALAR` 模板写成 `tk = ...`，
# 其中操作数写作 `name[i]`（var）、浮点数的 `repr`（const）或 `tj`（之前的某一步）。
# 这是编译器自己生成的文本——来源是我们自己的表，绝不是用户输入的文本。

# %%
# part of your build: lab 17 runs this cell
def kernel_source(out):
    # BEGIN SOLUTION
    inputs, steps = schedule(out)
    temp = {}

    def operand(node):
        if node.op == "var":
            return f"{node.name}[i]"
        if node.op == "const":
            return repr(node.value)
        return temp[id(node)]

    lines = ["import math", "from numba import njit", "", "", "@njit(cache=True)",
             f"def kernel({', '.join(inputs)}, out):", "    for i in range(out.shape[0]):"]
    for k, step in enumerate(steps):
        lines.append(f"        t{k} = " + SCALAR[step.op].format(*(operand(i) for i in step.inputs)))
        temp[id(step)] = f"t{k}"
    lines.append(f"        out[i] = {operand(out)}")
    return "\n".join(lines) + "\n"
    # END SOLUTION


# %%
check_kernel_source(kernel_source, globals())

# %%
print(kernel_source(relu(var("h") + var("b"))))

# %% [markdown]
# ## Task 15.3 — fuse
#
# `fuse(out)` returns a callable object `f` with `f.kernel` the compiled kernel
# (`load_module(kernel_source(out)).kernel`: importing the text from a file lets numba cache the compiled
# code on disk). `f(**arrays)` broadcasts the named arrays to one shape, flattens them (contiguous float64),
# allocates `out`, runs the kernel **once**, and returns `out` in the broadcast shape.
# %% [markdown] zh
# ## 任务 15.3 — 融合
#
# `fuse(out)` 返回一个可调用对象 `f`，其中 `f.kernel` 是编译好的内核（`load_module(kernel_source(out)).kernel`：
# 从文件导入这段文本，numba 才能把编译结果缓存到磁盘上）。`f(**arrays)` 把按名字传入的数组广播成同一形状、
# 展平（连续的 float64），分配 `out`，**只运行一次**内核，然后按广播后的形状返回 `out`。

# %%
# part of your build: lab 17 runs this cell
class Fused:
    def __init__(self, out):
        # BEGIN SOLUTION
        self.inputs, _ = schedule(out)
        self.kernel = load_module(kernel_source(out)).kernel
        # END SOLUTION

    def __call__(self, **arrays):
        # BEGIN SOLUTION
        shape = np.broadcast_shapes(*(np.shape(arrays[n]) for n in self.inputs))
        flat = [np.ascontiguousarray(np.broadcast_to(np.asarray(arrays[n], dtype=np.float64), shape)).ravel()
                for n in self.inputs]
        out = np.empty(int(np.prod(shape)))
        self.kernel(*flat, out)
        return out.reshape(shape)
        # END SOLUTION


def fuse(out):
    return Fused(out)


# %%
check_fuse(fuse, globals())

# %% [markdown]
# One pass instead of five: the chain `(x·y + 1)·x − y` on a million elements, fused and unfused (on a busy
# machine the numbers move; the fused kernel saves the temporaries' memory traffic).
# %% [markdown] zh
# 一遍代替五遍：在一百万个元素上计算 `(x·y + 1)·x − y`，融合与不融合各跑一次（机器繁忙时数字会波动；
# 融合内核省下的是临时数组带来的内存读写）。

# %%
import time

chain = (var("x") * var("y") + const(1.0)) * var("x") - var("y")
f = fuse(chain)
rng = np.random.default_rng(0)
xs = {"x": rng.standard_normal(1_000_000), "y": rng.standard_normal(1_000_000)}
f(**xs)
for name, run in (("fused", lambda: f(**xs)), ("numpy", lambda: evaluate(chain, xs))):
    t0 = time.perf_counter()
    for _ in range(5):
        run()
    print(f"{name}: {(time.perf_counter() - t0) / 5 * 1e3:.2f} ms")

# %% [markdown]
# **Next:** lab 16 trains on several (simulated) machines at once: data parallelism and the all-reduce.
# %% [markdown] zh
# **下一课：** 实验 16 同时在几台（模拟的）机器上训练：数据并行与全归约。
