# ruff: noqa: E402, B018
# (B018: a bare name ending a cell is how a notebook shows a value)
# %% [markdown]
# # Lab 14 — Build it yourself: a Graph and a Session
#
# *35–45 minutes.* **Define-then-run**, TensorFlow 1's way: first build a graph of `Node`s — placeholders
# (fed at run time), constants, and ops — *without computing anything*; then a `Session` runs the part of
# the graph that the fetched nodes need, in **topological order**. Because the whole graph is known before it
# runs, a compiler can rewrite it: **constant folding** computes, once, every node that depends only on
# constants. Three tasks:
#
# 1. **14.1** `execution_order(fetches)` (Kahn's algorithm, pruned to what is fetched);
# 2. **14.2** `Session.run(fetches, feed_dict)`;
# 3. **14.3** `fold_constants(fetches)`.
# %% [markdown] zh
# # 实验 14 — 自己动手：计算图（Graph）与会话（Session）
#
# *35–45 分钟。* TensorFlow 1 的方式——**先定义后运行**（静态图）：先用 `Node` 搭一张计算图——占位符（运行时再喂数据）、
# 常量和运算——*此时什么都不计算*；然后由 `Session` 按**拓扑排序**运行被取值节点（fetch）所需要的那部分图。
# 正因为运行前整张图已知，编译器可以改写它：**常量折叠**把只依赖常量的节点提前算好，只算一次。三个任务：
#
# 1. **14.1** `execution_order(fetches)`（Kahn 算法，只保留被取值节点需要的部分）；
# 2. **14.2** `Session.run(fetches, feed_dict)`；
# 3. **14.3** `fold_constants(fetches)`。

# %%
# part of your build: lab 17 runs this cell
from collections import deque

import numpy as np

OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "matmul": np.matmul,
       "relu": lambda x: np.maximum(x, 0.0), "exp": np.exp, "neg": np.negative}


class Node:
    """A node of the graph: an op (a key of OPS, or "placeholder" / "constant") and its input nodes."""

    def __init__(self, op, inputs=(), value=None, name=""):
        self.op, self.inputs, self.value, self.name = op, tuple(inputs), value, name

    def __add__(self, other):
        return Node("add", (self, as_node(other)))

    def __sub__(self, other):
        return Node("sub", (self, as_node(other)))

    def __mul__(self, other):
        return Node("mul", (self, as_node(other)))

    def __matmul__(self, other):
        return Node("matmul", (self, as_node(other)))

    def __repr__(self):
        return f"<{self.op}{' ' + self.name if self.name else ''}>"


def as_node(x):
    return x if isinstance(x, Node) else constant(x)


def placeholder(name):
    return Node("placeholder", name=name)


def constant(value, name=""):
    return Node("constant", value=np.asarray(value, dtype=np.float64), name=name)


def relu(x):
    return Node("relu", (x,))


def exp(x):
    return Node("exp", (x,))

# %%
x = placeholder("x")
w, b = constant([[1.0, -2.0], [0.5, 1.0]], "w"), constant([0.25, 0.5], "b")
y = relu(x @ w + b) * (constant(2.0) * constant(3.0))
y  # nothing has been computed: y is a node

# %% [markdown]
# ## Task 14.1 — the execution order
#
# Return the nodes the `fetches` (a list of nodes) depend on, each once, every node after its inputs, and
# **nothing else** (a node built but not needed must not run). Kahn's algorithm: first walk back from the
# fetches to collect the needed nodes and count, for each, how many inputs it waits for; start with the ones
# that wait for none (placeholders, constants); each time a node is emitted, the nodes that use it wait for
# one fewer. No recursion: the check runs a chain of 3,000 nodes.
# %% [markdown] zh
# ## 任务 14.1 — 执行顺序
#
# 返回 `fetches`（节点列表）所依赖的节点，每个一次，每个节点排在它的输入之后，
# 并且**不含其他节点**（建了但用不到的节点不能运行）。Kahn 算法：先从被取值节点往回走，收集需要的节点，
# 并为每个节点数出它在等待几个输入；从不等待任何输入的节点（占位符、常量）开始；每输出一个节点，
# 使用它的那些节点就少等一个。不要递归：检查会跑一条 3000 个节点的链。

# %%
# part of your build: lab 17 runs this cell
def execution_order(fetches):
    # BEGIN SOLUTION
    needed, users, stack = {}, {}, list(fetches)
    while stack:
        node = stack.pop()
        if id(node) in needed:
            continue
        needed[id(node)] = node
        for i in node.inputs:
            users.setdefault(id(i), []).append(node)
            stack.append(i)
    waiting = {k: len(n.inputs) for k, n in needed.items()}
    ready = deque(n for k, n in needed.items() if waiting[k] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for user in users.get(id(node), []):
            waiting[id(user)] -= 1
            if waiting[id(user)] == 0:
                ready.append(user)
    return order
    # END SOLUTION


# %%
from minifw.labs.build_checks import check_execution_order, check_fold_constants, check_session

check_execution_order(execution_order, globals())

# %% [markdown]
# ## Task 14.2 — Session.run
#
# `run(fetches, feed_dict)`: `fetches` is one node (give back its array) or a list (give back a list).
# Walk `execution_order`, keeping each node's value in a dict: a placeholder's comes from `feed_dict`
# (a missing one is an error that **names** the placeholder), a constant's is its `value`, an op's is
# `OPS[op](*input values)`. Each node runs once per call, however many nodes use it.
# %% [markdown] zh
# ## 任务 14.2 — Session.run
#
# `run(fetches, feed_dict)`：`fetches` 可以是一个节点（返回它的数组），也可以是一个列表（返回列表）。
# 按 `execution_order` 遍历，把每个节点的值存进字典：占位符的值来自 `feed_dict`（缺少时报错，
# 并且报错信息要**写出**占位符的名字），常量的值是它的 `value`，运算节点的值是 `OPS[op](*输入的值)`。
# 每次调用中每个节点只运行一次，不管有多少节点用到它。

# %%
# part of your build: lab 17 runs this cell
class Session:
    def run(self, fetches, feed_dict=None):
        # BEGIN SOLUTION
        single = isinstance(fetches, Node)
        fetch_list = [fetches] if single else list(fetches)
        feed = {**(feed_dict or {})}
        values = {}
        for node in execution_order(fetch_list):
            if node.op == "placeholder":
                if node not in feed:
                    raise KeyError(f"placeholder {node.name!r} needs a value: pass it in feed_dict")
                values[id(node)] = np.asarray(feed[node], dtype=np.float64)
            elif node.op == "constant":
                values[id(node)] = node.value
            else:
                values[id(node)] = OPS[node.op](*(values[id(i)] for i in node.inputs))
        out = [values[id(f)] for f in fetch_list]
        return out[0] if single else out
        # END SOLUTION


# %%
check_session(Session, globals())

# %%
Session().run(y, {x: [[1.0, 2.0]]})

# %% [markdown]
# ## Task 14.3 — constant folding
#
# Return **new** fetches in which every op node whose inputs are all constants has become one constant
# (computed with `OPS`). Visit nodes inputs-first (your `execution_order`), mapping each old node to its new
# one: then a node whose inputs *became* constants folds too — `2 * 3 + 1` becomes `7` in one pass.
# Placeholders are never folded (their value comes at run time), nor is anything that depends on one. Leave
# the original graph as it was: build new nodes.
# %% [markdown] zh
# ## 任务 14.3 — 常量折叠
#
# 返回**新的**被取值节点：其中所有输入全是常量的运算节点都变成一个常量（用 `OPS` 算出）。
# 按“输入在前”的顺序（你的 `execution_order`）访问节点，把每个旧节点映射到新节点：这样一个节点的输入*变成*常量之后，
# 它自己也会被折叠—— `2 * 3 + 1` 一遍就变成 `7`。占位符永远不折叠（它的值在运行时才给），依赖占位符的节点也不折叠。
# 不要改动原图：构造新节点。

# %%
# part of your build: lab 17 runs this cell
def fold_constants(fetches):
    # BEGIN SOLUTION
    new = {}
    for node in execution_order(fetches):
        inputs = [new[id(i)] for i in node.inputs]
        if node.op in ("placeholder", "constant"):
            new[id(node)] = node
        elif all(i.op == "constant" for i in inputs):
            new[id(node)] = constant(OPS[node.op](*(i.value for i in inputs)))
        else:
            new[id(node)] = Node(node.op, inputs, node.value, node.name)
    return [new[id(f)] for f in fetches]
    # END SOLUTION


# %%
check_fold_constants(fold_constants, globals())

# %%
[folded] = fold_constants([y])
print("op nodes before:", sum(n.op not in ("placeholder", "constant") for n in execution_order([y])),
      " after:", sum(n.op not in ("placeholder", "constant") for n in execution_order([folded])))
print(Session().run(folded, {x: [[1.0, 2.0]]}))

# %% [markdown]
# **Next:** lab 15 fuses a chain of elementwise nodes into one generated numba kernel.
# %% [markdown] zh
# **下一课：** 实验 15 把一串逐元素节点融合成一个自动生成的 numba 内核（算子融合）。
