"""The build-it-yourself track (labs 12-17): every check passes the lab's solution and fails plausible wrong
answers with a hint that says what is wrong.  The solutions are taken from the shipped notebooks (the cells a
learner writes), so these tests hold the notebooks and the checks to each other."""

import math

import numpy as np
import pytest

from minifw import labs
from minifw.labs import build_checks as bc
from minifw.labs.checks import CheckFailed


def _stub(*args, **kwargs):
    raise NotImplementedError("exercise: replace this line with your code")


def _hint(check, *args) -> str:
    with pytest.raises(CheckFailed) as e:
        check(*args)
    return str(e.value)


def _solution_namespace(number: int, skip=("check_",)) -> dict:
    """Run a solution notebook's code cells (not its check cells) in a fresh namespace."""
    ns: dict = {"__name__": f"lab{number}"}
    for cell in labs.solution(number)["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and not any(ln.startswith(skip) for ln in src.split("\n")):
            exec(compile(src, f"<lab {number}>", "exec"), ns)  # noqa: S102  our own notebook
    return ns


@pytest.fixture(scope="module")
def pieces():
    return bc.load_pieces(None, quiet=True)


# --- lab 12 ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dual():
    return _solution_namespace(12, skip=("check_", "print("))


def test_dual_arithmetic_check(dual):
    D = dual["Dual"]
    assert bc.check_dual_arithmetic(D)
    assert "not done yet" in _hint(bc.check_dual_arithmetic, _stub)

    class NoProductRule(D):
        def __mul__(self, o):
            o = dual["lift"](o)
            return NoProductRule(self.primal * o.primal, self.primal * o.tangent)

    hint = _hint(bc.check_dual_arithmetic, NoProductRule)
    assert "x * y" in hint and "expected tangent" in hint and "two terms" in hint

    class NoReflected(D):
        __radd__ = None

    assert "__r...__" in _hint(bc.check_dual_arithmetic, NoReflected)


def test_dual_functions_check(dual):
    D = dual["Dual"]
    assert bc.check_dual_functions(dual["sin"], dual["exp"], dual["log"], D)

    def sin_no_chain(x):
        return D(math.sin(x.primal), math.cos(x.primal)) if isinstance(x, D) else math.sin(x)

    hint = _hint(bc.check_dual_functions, sin_no_chain, dual["exp"], dual["log"], D)
    assert "sin(Dual(2.0, -3.0))" in hint and "chain rule" in hint
    log_swapped = lambda x: D(math.log(x.primal), x.tangent * x.primal) if isinstance(x, D) else math.log(x)  # noqa: E731
    assert "log(Dual(" in _hint(bc.check_dual_functions, dual["sin"], dual["exp"], log_swapped, D)


def test_derivative_check(dual):
    D = dual["Dual"]
    fns = (dual["sin"], dual["exp"], dual["log"])
    assert bc.check_derivative(dual["derivative"], dual["gradient"], *fns)
    assert "the primal" in _hint(bc.check_derivative, lambda f, x: f(D(x, 1.0)).primal, dual["gradient"], *fns)
    seed_all = lambda f, xs: [f(*[D(x, 1.0) for x in xs]).tangent] * len(xs)  # noqa: E731
    assert "seed one input at a time" in _hint(bc.check_derivative, dual["derivative"], seed_all, *fns)
    twice = lambda f, xs: (f(*xs), dual["gradient"](f, xs))[1]  # noqa: E731
    assert "called 4 times" in _hint(bc.check_derivative, dual["derivative"], twice, *fns)


# --- lab 13 ------------------------------------------------------------------------------------
def _tape_variant(tape, **ops):
    """A copy of the solution's Tensor with some ops replaced."""
    T = type("Tensor", (tape.Tensor,), {})
    for name, fn in ops.items():
        setattr(T, name, fn)
    return T


def test_tape_elementwise_check(pieces):
    tape = pieces.tape
    assert bc.check_tape_elementwise(tape.Tensor)
    assert "not done yet" in _hint(bc.check_tape_elementwise, _tape_variant(tape, __add__=_stub))

    def add_no_unbroadcast(a, b):
        b = tape.lift(b)
        return tape.Tensor(a.data + b.data, (a, b), lambda g: (g, g))

    hint = _hint(bc.check_tape_elementwise, _tape_variant(tape, __add__=add_no_unbroadcast))
    assert "a + row" in hint and "unbroadcast" in hint and "shape (3,)" in hint

    def mul_swapped(a, b):
        b = tape.lift(b)
        return tape.Tensor(a.data * b.data, (a, b), lambda g: (g * a.data, g * b.data))

    hint = _hint(bc.check_tape_elementwise, _tape_variant(tape, __mul__=mul_swapped))
    assert "a * b" in hint and "expected" in hint and "*other* input" in hint


def test_tape_ops_check(pieces):
    tape = pieces.tape
    assert bc.check_tape_ops(tape.Tensor)

    def matmul_bad(a, b):
        return tape.Tensor(a.data @ b.data, (a, b), lambda g: (g @ b.data.T, g.T @ a.data))

    hint = _hint(bc.check_tape_ops, _tape_variant(tape, __matmul__=matmul_bad))
    assert "cotangent of input 1 has shape (2, 3)" in hint

    def relu_leaky(a):
        return tape.Tensor(np.maximum(a.data, 0), (a,), lambda g: (g,))

    hint = _hint(bc.check_tape_ops, _tape_variant(tape, relu=relu_leaky))
    assert "relu(a)" in hint and "expected 0, got" in hint


def test_topo_order_check(pieces):
    tape = pieces.tape
    assert bc.check_topo_order(tape.topo_order, tape.Tensor)
    assert "not done yet" in _hint(bc.check_topo_order, _stub, tape.Tensor)
    assert "reversed" in _hint(bc.check_topo_order, lambda r: tape.topo_order(r)[::-1], tape.Tensor)

    def recursive(root, seen=None):
        seen = set() if seen is None else seen
        out = []
        for p in root.parents:
            if id(p) not in seen:
                out += recursive(p, seen)
        seen.add(id(root))
        return out + [root]

    assert "explicit stack" in _hint(bc.check_topo_order, recursive, tape.Tensor)

    def no_visited(root):
        out = []
        for p in root.parents:
            out += no_visited(p)
        return out + [root]

    assert "appears" in _hint(bc.check_topo_order, no_visited, tape.Tensor)


def test_backward_check(pieces):
    tape = pieces.tape
    assert bc.check_backward(tape.backward, tape.Tensor)

    def topo_order(root):  # an earlier task's stub: the hint names it, not the sweep
        raise NotImplementedError("exercise: replace this line with your code")

    def sweep(root):
        return topo_order(root)

    hint = _hint(bc.check_backward, sweep, tape.Tensor)
    assert "not done yet: topo_order() still raises NotImplementedError" in hint

    def overwrite(root):
        root.grad = np.ones_like(root.data)
        for node in reversed(tape.topo_order(root)):
            if node.vjp is not None and node.grad is not None:
                for p, g in zip(node.parents, node.vjp(node.grad)):
                    p.grad = g

    hint = _hint(bc.check_backward, overwrite, tape.Tensor)
    assert "two paths" in hint and "SUM over those paths" in hint

    def forward_order(root):
        root.grad = np.ones_like(root.data)
        for node in tape.topo_order(root):
            if node.vjp is not None and node.grad is not None:
                for p, g in zip(node.parents, node.vjp(node.grad)):
                    p.grad = g if p.grad is None else p.grad + g

    assert "is None" in _hint(bc.check_backward, forward_order, tape.Tensor)


# --- lab 14 ------------------------------------------------------------------------------------
def test_execution_order_check(pieces):
    S = vars(pieces.session)
    assert bc.check_execution_order(S["execution_order"], S)
    assert "reversed" in _hint(bc.check_execution_order, lambda f: S["execution_order"](f)[::-1], S)

    def no_visited_set(fetches):  # post-order without marking nodes: a shared node comes twice
        out, stack = [], [(f, False) for f in reversed(fetches)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                out.append(node)
            else:
                stack.append((node, True))
                stack.extend((i, False) for i in node.inputs)
        return out

    assert "more than once" in _hint(bc.check_execution_order, no_visited_set, S)
    assert "RecursionError" in _hint(bc.check_execution_order, lambda f: _recursive_order(f, set()), S)


def _recursive_order(nodes, seen):
    out = []
    for n in nodes:
        if id(n) not in seen:
            out += _recursive_order(n.inputs, seen)
            seen.add(id(n))
            out.append(n)
    return out


def test_session_check(pieces):
    S = vars(pieces.session)
    assert bc.check_session(S["Session"], S)

    class NoMemo:
        def run(self, fetches, feed_dict=None):
            def ev(n):
                if n.op == "placeholder":
                    return np.asarray(feed_dict[n], float)
                if n.op == "constant":
                    return n.value
                return S["OPS"][n.op](*(ev(i) for i in n.inputs))

            return ev(fetches) if isinstance(fetches, S["Node"]) else [ev(f) for f in fetches]

    assert "should still run each of the 5 op nodes once" in _hint(bc.check_session, NoMemo, S)

    class Unnamed(S["Session"]):
        def run(self, fetches, feed_dict=None):
            needs = [n for n in S["execution_order"]([fetches] if isinstance(fetches, S["Node"]) else fetches)
                     if n.op == "placeholder"]
            if any(n not in (feed_dict or {}) for n in needs):
                raise ValueError("missing feed")
            return super().run(fetches, feed_dict)

    assert "should name the placeholder 'x'" in _hint(bc.check_session, Unnamed, S)


def test_fold_constants_check(pieces):
    S = vars(pieces.session)
    assert bc.check_fold_constants(S["fold_constants"], S)
    Node, constant, OPS = S["Node"], S["constant"], S["OPS"]

    def one_level(fetches):
        new = {}
        for n in S["execution_order"](fetches):
            ins = [new[id(i)] for i in n.inputs]
            if n.inputs and all(i.op == "constant" for i in n.inputs):  # the ORIGINAL inputs only
                new[id(n)] = constant(OPS[n.op](*(i.value for i in ins)))
            else:
                new[id(n)] = n if not n.inputs else Node(n.op, ins)
        return [new[id(f)] for f in fetches]

    assert "fold transitively" in _hint(bc.check_fold_constants, one_level, S)

    def folds_placeholders(fetches):
        new = {}
        for n in S["execution_order"](fetches):
            ins = [new[id(i)] for i in n.inputs]
            if n.op in ("placeholder", "constant"):
                new[id(n)] = Node("constant", value=n.value)
            elif all(i.op == "constant" for i in ins):
                new[id(n)] = Node("constant", value=None)
            else:
                new[id(n)] = Node(n.op, ins)
        return [new[id(f)] for f in fetches]

    assert "placeholder" in _hint(bc.check_fold_constants, folds_placeholders, S)

    def in_place(fetches):
        folded = S["fold_constants"](fetches)
        fetches[0].inputs = folded[0].inputs
        return folded

    assert "the input graph was changed" in _hint(bc.check_fold_constants, in_place, S)


# --- lab 15 ------------------------------------------------------------------------------------
def test_schedule_check(pieces):
    F = vars(pieces.fusion)
    assert bc.check_schedule(F["schedule"], F)
    unsorted = lambda out: (list(reversed(F["schedule"](out)[0])), F["schedule"](out)[1])  # noqa: E731
    assert "sorted" in _hint(bc.check_schedule, unsorted, F)
    backwards = lambda out: (F["schedule"](out)[0], F["schedule"](out)[1][::-1])  # noqa: E731
    assert "operands first" in _hint(bc.check_schedule, backwards, F)


def test_kernel_source_check(pieces):
    F = vars(pieces.fusion)
    assert bc.check_kernel_source(F["kernel_source"], F)

    def one_loop_per_op(out):  # what an unfused backend does: a pass over memory per op
        src = F["kernel_source"](out)
        head, body = src.split("    for i in range(out.shape[0]):\n")
        lines = [ln.strip() for ln in body.strip().split("\n")]
        return head + "".join(f"    for i in range(out.shape[0]):\n        {ln}\n" for ln in lines)

    assert "ONE pass" in _hint(bc.check_kernel_source, one_loop_per_op, F)
    swapped = lambda out: F["kernel_source"](out).replace("def kernel(b, h, out)", "def kernel(h, b, out)")  # noqa: E731
    swapped_sub = lambda out: swapped(out).replace(" - ", " + ")  # noqa: E731
    assert "expected" in _hint(bc.check_kernel_source, swapped_sub, F)


@pytest.mark.slow  # compiles numba kernels (cached on disk after the first run)
def test_fuse_check(pieces):
    F = vars(pieces.fusion)
    assert bc.check_fuse(F["fuse"], F)

    class NumpyOnly:  # right numbers, but no generated kernel
        def __init__(self, out):
            self.out = out

        def __call__(self, **arrays):
            return F["evaluate"](self.out, arrays)

    assert "numba" in _hint(bc.check_fuse, NumpyOnly, F)

    class FlatOut(F["Fused"]):  # the kernel's flat output, never reshaped
        def __call__(self, **arrays):
            return super().__call__(**arrays).ravel()

    assert "expected a (2, 3) result" in _hint(bc.check_fuse, FlatOut, F)

    assert "not done yet" in _hint(bc.check_fuse, _stub, F)


# --- lab 16 ------------------------------------------------------------------------------------
def test_ring_allreduce_check(pieces):
    A = pieces.allreduce
    assert bc.check_ring_allreduce(A.ring_allreduce)

    def no_network(bufs, send):
        return [np.sum(bufs, axis=0) for _ in bufs]

    assert "nothing was sent" in _hint(bc.check_ring_allreduce, no_network)

    def to_rank0(bufs, send):  # the naive all-reduce: everyone to rank 0, rank 0 to everyone
        total = np.array(bufs[0], float)
        for r in range(1, len(bufs)):
            total = total + send(r, 0, bufs[r])
        return [total] + [send(0, r, total) for r in range(1, len(bufs))]

    hint = _hint(bc.check_ring_allreduce, to_rank0)
    assert "sent to rank 0" in hint and "only to the next" in hint
    assert "that is the mean" in _hint(bc.check_ring_allreduce,
                                       lambda b, s: [x / len(b) for x in A.ring_allreduce(b, s)])


def test_average_gradients_check(pieces):
    A = pieces.allreduce
    assert bc.check_average_gradients(A.average_gradients, A.Replica)

    def summed(replicas, send):
        flat = [np.concatenate([np.ravel(g) for g in r.grads]) for r in replicas]
        for rep, total in zip(replicas, A.ring_allreduce(flat, send)):
            rep.grads = [total[:6].reshape(3, 2), total[6:]]

    assert "divide by the world size (2)" in _hint(bc.check_average_gradients, summed, A.Replica)

    def rank0_only(replicas, send):
        saved = [r.grads for r in replicas[1:]]
        A.average_gradients(replicas, send)
        for r, g in zip(replicas[1:], saved):
            r.grads = g

    assert "not only rank 0" in _hint(bc.check_average_gradients, rank0_only, A.Replica)


def test_data_parallel_step_check(pieces):
    A = pieces.allreduce
    assert bc.check_data_parallel_step(A.data_parallel_step, A.Replica)

    def no_mean(replicas, x, y, grad_fn, lr, send):
        A.data_parallel_step(replicas, x, y, grad_fn, lr * len(replicas), send)

    assert "2x too large" in _hint(bc.check_data_parallel_step, no_mean, A.Replica)

    def rank0_steps(replicas, x, y, grad_fn, lr, send):
        world = len(replicas)
        for rep, xs, ys in zip(replicas, np.array_split(x, world), np.array_split(y, world)):
            rep.grads = grad_fn(rep.params, xs, ys)
        A.average_gradients(replicas, send)
        replicas[0].params = [p - lr * g for p, g in zip(replicas[0].params, replicas[0].grads)]

    assert "did not move" in _hint(bc.check_data_parallel_step, rank0_steps, A.Replica)


# --- lab 17: the pieces together ----------------------------------------------------------------
def test_load_pieces_takes_the_learners_notebooks_and_says_which(tmp_path, capsys):
    labs.new(14, tmp_path, lang="zh")  # the learner's (unfinished) Chinese copy of lab 14
    got = bc.load_pieces(tmp_path)
    assert got.origin["session"] == "your 14_build_session.zh.ipynb"
    assert got.origin["tape"].startswith("minifw's reference")
    assert "14_build_session.zh.ipynb" in capsys.readouterr().out
    with pytest.raises(NotImplementedError):  # their stub, not the reference solution, runs
        got.session.Session().run(got.session.constant(1.0))


@pytest.fixture(scope="module")
def capstone():
    return _solution_namespace(17)


@pytest.mark.slow  # trains the network (~1 s) and compiles the fused kernel
def test_capstone_trains_the_digits_to_95_percent_with_the_solutions(capstone):
    ns = capstone
    assert bc.check_bias_relu(ns["bias_relu"], ns["pieces"])
    assert bc.check_predict(ns["predict"], ns["pieces"])
    assert bc.check_capstone(ns["train"], ns["predict"], ns["bias_relu"], ns["pieces"])


@pytest.mark.slow
def test_capstone_checks_catch_wrong_answers(capstone):
    ns, T = capstone, capstone["pieces"].tape.Tensor

    def numpy_bias_relu(h, b):
        out = np.maximum(h.data + b.data, 0)
        return T(out, (h, b), lambda g: (g * (out > 0), (g * (out > 0)).sum(axis=0)))

    numpy_bias_relu.fused = ns["bias_relu"].fused
    assert "never called bias_relu.fused" in _hint(bc.check_bias_relu, numpy_bias_relu, ns["pieces"])

    def unsummed_b(h, b):
        out = ns["bias_relu"].fused(h=h.data, b=b.data)
        return T(out, (h, b), lambda g: (g * (out > 0), g * (out > 0)))

    unsummed_b.fused = ns["bias_relu"].fused
    assert "cotangent of b has shape" in _hint(bc.check_bias_relu, unsummed_b, ns["pieces"])

    unset = lambda h, b: ns["bias_relu"](h, b)  # noqa: E731  the cell that sets .fused failed
    assert "is not set" in _hint(bc.check_bias_relu, unset, ns["pieces"])
    assert "is not set" in _hint(bc.check_capstone, ns["train"], ns["predict"], unset, ns["pieces"])

    scores = lambda p, x: np.maximum(x / 16 @ p[0] + p[1], 0) @ p[2] + p[3]  # noqa: E731
    assert "those are the scores" in _hint(bc.check_predict, scores, ns["pieces"])
    assert "never called Session.run" in _hint(bc.check_predict, lambda p, x: scores(p, x).argmax(1), ns["pieces"])
    S = ns["pieces"].session

    def graph_predict(params, pixels, scale_pixels=True, scale=1 / 16):
        W1, b1, W2, b2 = (S.constant(p) for p in params)
        images = S.placeholder("pixels")
        first = (images * S.constant(scale)) @ W1 if scale_pixels else images @ (W1 * S.constant(scale))
        [logits] = S.fold_constants([S.relu(first + b1) @ W2 + b2])
        return S.Session().run(logits, {images: pixels}).argmax(axis=1)

    hint = _hint(bc.check_predict, graph_predict, ns["pieces"])
    assert "6 ops per call" in hint and "not the fed pixels" in hint
    hint = _hint(bc.check_predict, lambda p, x: graph_predict(p, x, False, 1.0), ns["pieces"])
    assert "trained on pixels / 16" in hint

    def alone(x, y, epochs):  # each replica on its own data, never averaged: the all-reduce is unused
        return ns["train"](x, y, 0)

    hint = _hint(bc.check_capstone, alone, ns["predict"], ns["bias_relu"], ns["pieces"])
    assert "never ran" in hint and "average_gradients" in hint and "backward" in hint

    def too_short(x, y, epochs):
        return ns["train"](x, y, 1, lr=0.01)

    assert "expected >= 95%" in _hint(bc.check_capstone, too_short, ns["predict"], ns["bias_relu"], ns["pieces"])


@pytest.mark.slow  # executes lab 17's notebook (~6 s)
def test_a_learner_who_finished_labs_13_to_16_trains_the_digits_with_their_own_notebooks(tmp_path):
    """The track's promise, end to end: finished notebooks of labs 13-16 (the solutions, saved as a learner's
    copies would be, one of them in Chinese) sit in a folder; lab 17 run there by `minifw lab check` loads their
    pieces, not minifw's reference, and every exercise passes (>= 95% on the test digits)."""
    from minifw.labs import notebooks

    for number, lang in ((13, "en"), (14, "zh"), (15, "en"), (16, "en")):
        notebooks.write(labs.solution(number, lang), tmp_path / labs.get(number).file(lang))
    notebooks.write(labs.solution(17), tmp_path / labs.get(17).filename)
    report = labs.check(17, tmp_path, lang="en")
    assert report.ok, (report.exercises, report.errors)
    text = "".join(o.get("text", "") for c in report.notebook["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []))
    assert "your 13_build_tape.ipynb" in text and "your 14_build_session.zh.ipynb" in text
    assert "reference" not in text
    assert "test accuracy" in report.exercises[-1].message
