"""The tiered compile's child process (minifw.kernels.compile_worker): it compiles fused kernels into numba's
cache, typing each (function, argument types) pair once, and this process loads them from there."""

from __future__ import annotations

import re
import warnings

import numpy as np

from minifw.kernels.codegen import FusedSpec
from minifw.kernels.compile_worker import typing_memo, warm_in_child
from minifw.kernels.fusion import FusedKernel, generate_source, numba

# W5's cycle of ops (relu and maximum are selects), with an operand or literal where an op takes two
_EXTRA = {"mul": [("in", 1)], "add": [("lit", 0.5)], "sub": [("in", 1)], "maximum": [("in", 1)]}


def _chain_spec(n_cycles: int, literal: float = 0.5) -> FusedSpec:
    body = []
    for j, name in enumerate(["mul", "add", "relu", "sub", "maximum", "neg", "square"] * n_cycles):
        extra = [("lit", literal)] if name == "add" else _EXTRA.get(name, [])
        body.append((name, [("in", 0) if j == 0 else ("v", j - 1)] + extra, "float32"))
    return FusedSpec(1, [("float32", (True,)), ("float32", (True,))], body, [len(body) - 1])


def _private_kernel(source: str):
    """A private, uncached copy of the generated serial kernel (as FusedKernel.vectorisation compiles one)."""
    ns: dict = {}
    exec(compile(source.replace("cache=True", "cache=False"), "<test kernel>", "exec"), ns)  # noqa: S102
    return ns["kernel_ser"]


def _data(n: int = 64):
    rng = np.random.default_rng(7)
    x, y = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    x[:4] = [np.nan, -0.0, np.inf, -np.inf]
    return x, y


def _next_version_ends_in_99() -> None:
    """numba numbers every function it compiles from one process-wide counter; move it so that the next compile
    gets a number ending in 99. (numba is pinned below 0.69, where the counter lives here.)"""
    from numba.core.bytecode import FunctionIdentity

    while next(FunctionIdentity._unique_ids) % 100 != 98:
        pass


def test_the_typing_memo_types_each_pair_once_and_numba_makes_the_same_code():
    from numba.core.types.functions import BaseFunction

    spec = _chain_spec(6)
    source = generate_source(spec)
    numba()
    x, y = _data()
    _next_version_ends_in_99()  # the two copies' names then differ in length (v..99, v..100), as in a long run
    outs = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not in scope.*")  # as in FusedKernel.warm
        plain = _private_kernel(source)
        outs.append(np.empty_like(x))
        plain(x.size, x, y, outs[-1])
        original = BaseFunction.get_call_type
        with typing_memo() as memo:
            memoised = _private_kernel(source)
            outs.append(np.empty_like(x))
            memoised(x.size, x, y, outs[-1])
    assert BaseFunction.get_call_type is original  # put back after the block
    assert 0 < len(memo) < len(spec.body) // 2  # 42 ops in the body, a handful of (function, types) pairs
    sig = plain.signatures[0]
    assert memoised.signatures == [sig]

    def ir(f):
        # The two copies differ only in their mangled names' version numbers (B<length>v<number>), and so in the
        # length of any string constant that spells the name (v99 and v100 differ by one byte).
        text = re.sub(r"kernel_serB\d+v\d+", "kernel_ser", f.inspect_llvm(sig))
        return re.sub(r"\[\d+ x i8\] c\"([^\"]*kernel_ser)", r"[_ x i8] c\"\1", text)

    assert ir(memoised) == ir(plain)
    np.testing.assert_array_equal(outs[1], outs[0])


def _kernel(spec: FusedSpec) -> FusedKernel:
    return FusedKernel(spec, (64,), [(64,), (64,)], ["float32"], [(64,)], [], (64,))


def test_the_child_compiles_into_the_cache_and_this_process_loads_it_without_compiling(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFW_CACHE_DIR", str(tmp_path))
    k = _kernel(_chain_spec(2, literal=0.3125))  # a literal no other test uses: a kernel new to this process
    assert not k.on_disk() and not k.compiled()
    assert warm_in_child([k]) is None
    assert k.on_disk()
    x, y = _data()
    (out,) = k.runner()(x, y)
    stats = k.compile().stats
    assert sum(stats.cache_hits.values()) == 1 and not stats.cache_misses  # loaded, not compiled here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not in scope.*")
        reference = np.empty_like(x)
        _private_kernel(k.source)(x.size, x, y, reference)  # compiled here, without the memo
    np.testing.assert_array_equal(out, reference)
    assert not list(tmp_path.glob("kernels/warm.*"))  # the job file is gone


def test_a_child_that_fails_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIFW_CACHE_DIR", str(tmp_path))
    k = _kernel(_chain_spec(1))
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-python-here"))
    note = warm_in_child([k])
    assert note is not None and "no-python-here" in note
    assert not list(tmp_path.glob("kernels/warm.*"))
