# ruff: noqa: E402
# %% [markdown]
# # Lab 6 — Kernels: a Python loop, a numba CPU kernel, a CUDA kernel
#
# *30–40 minutes.* Under every framework is a *kernel*: a loop over array elements, compiled. You
# will write one computation three times — as a Python loop, as a numba CPU kernel, and as a CUDA
# kernel with its grid of blocks of threads — and then fuse a chain of operations into one kernel.
# **Exercise 6.1:** a fused kernel that beats the unfused numpy chain.
#
# The CUDA part runs on a real GPU when there is one, and otherwise on **numba's CUDA simulator**
# (each GPU thread becomes a Python thread: slow, but the same code and the same indexing). The
# simulator must be chosen before numba is imported, so this cell comes first.

# %%
import os
import shutil

if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
print("CUDA:", "numba's simulator" if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else "a real GPU")

# %%
import time

import numpy as np
from numba import cuda, njit, prange


def best_ms(fn, *args, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


n = 200_000
rng = np.random.default_rng(0)
x = rng.standard_normal(n).astype(np.float32)
y = rng.standard_normal(n).astype(np.float32)
a = np.float32(2.5)

# %% [markdown]
# ## 1. A Python loop
#
# `out[i] = a·x[i] + y[i]` (BLAS calls it *saxpy*). One element at a time, each step interpreted.

# %%
def saxpy_python(a, x, y, out):
    for i in range(x.shape[0]):
        out[i] = a * x[i] + y[i]


out = np.empty_like(x)
t_py = best_ms(saxpy_python, a, x, y, out, repeats=1)
assert np.allclose(out, a * x + y)
print(f"Python loop: {t_py:.1f} ms for {n:,} elements")

# %% [markdown]
# ## 2. The same loop, compiled by numba for the CPU
#
# `@njit` compiles the function to machine code for the argument types it first sees (the first call
# pays the compile). `prange` splits the loop across CPU threads.

# %%
saxpy_cpu = njit(saxpy_python)


@njit(parallel=True)
def saxpy_parallel(a, x, y, out):
    for i in prange(x.shape[0]):
        out[i] = a * x[i] + y[i]


t0 = time.perf_counter()
saxpy_cpu(a, x, y, out)
print(f"first call (compiles): {(time.perf_counter() - t0) * 1e3:.0f} ms")
saxpy_parallel(a, x, y, out)
t_cpu, t_par = best_ms(saxpy_cpu, a, x, y, out), best_ms(saxpy_parallel, a, x, y, out)
t_np = best_ms(lambda: a * x + y)
print(f"numba:           {t_cpu:.3f} ms  ({t_py / t_cpu:.0f}x the Python loop)")
print(f"numba, prange:   {t_par:.3f} ms")
print(f"numpy a * x + y: {t_np:.3f} ms")

# %% [markdown]
# Compiled, the loop is as fast as numpy's — both are limited by memory bandwidth, not arithmetic.
#
# ## 3. A CUDA kernel: grid, blocks, threads
#
# A GPU runs the *body* of the loop once per thread, thousands at a time. Threads come in **blocks**
# (up to 1024 threads that can share fast memory), and blocks form a **grid**. Each thread computes
# its global index `i = blockIdx.x · blockDim.x + threadIdx.x` (`cuda.grid(1)`), and the guard
# `if i < n` handles the last, partly-filled block. The launch `kernel[blocks, threads](...)` sets the
# shape.

# %%
@cuda.jit
def saxpy_cuda(a, x, y, out):
    i = cuda.grid(1)  # = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if i < x.shape[0]:  # the last block may run past the end
        out[i] = a * x[i] + y[i]


@cuda.jit
def who_am_i(block_of, thread_of):
    i = cuda.grid(1)
    if i < block_of.shape[0]:
        block_of[i] = cuda.blockIdx.x
        thread_of[i] = cuda.threadIdx.x


m = 10  # tiny: the simulator runs every thread in Python
threads_per_block = 4
blocks = (m + threads_per_block - 1) // threads_per_block  # ceil(10 / 4) = 3 blocks, 12 threads, 2 idle
xs, ys = x[:m].copy(), y[:m].copy()
d_x, d_y = cuda.to_device(xs), cuda.to_device(ys)  # copy to the device's memory
d_out = cuda.device_array_like(xs)
saxpy_cuda[blocks, threads_per_block](a, d_x, d_y, d_out)
res = d_out.copy_to_host()
assert np.allclose(res, a * xs + ys)

block_of, thread_of = np.zeros(m, np.int32), np.zeros(m, np.int32)
who_am_i[blocks, threads_per_block](block_of, thread_of)
print(f"grid of {blocks} blocks × {threads_per_block} threads for {m} elements")
print("element i:  ", " ".join(f"{i:2d}" for i in range(m)))
print("blockIdx.x: ", " ".join(f"{v:2d}" for v in block_of))
print("threadIdx.x:", " ".join(f"{v:2d}" for v in thread_of))

# %% [markdown]
# On a real GPU, the same kernel with 256 threads per block and `ceil(n / 256)` blocks processes
# millions of elements at memory speed; the copies to and from the device (`to_device`,
# `copy_to_host`) often cost more than the kernel, which is why frameworks keep tensors on the GPU.
#
# ## 4. Fusion: one pass instead of four
#
# `(x·y + 1)·x − y` in numpy is four passes over memory, each writing a temporary array. A **fused**
# kernel reads `x` and `y` once and writes the result once. minifw's static compiler generates such
# kernels (lab 4); here is the source it generated for `a·b / (a + b)`:

# %%
from minifw import static

with static.Graph():
    pa, pb = static.placeholder((100_000,), name="a"), static.placeholder((100_000,), name="b")
    compiled = static.compile([(pa * pb) / (pa + pb)])
print(compiled.kernels()[0].source)

# %% [markdown]
# ## Exercise 6.1 — fuse the chain
#
# Write `fused(x, y, out)`, a numba kernel that computes `out[i] = (x[i]·y[i] + 1)·x[i] − y[i]` in one
# loop (use `prange` for threads). The check compares it with the unfused numpy chain on a few sizes
# (index by index) and then times both on a million elements.

# %%
from minifw.labs.checks import unfused_chain

print(f"unfused numpy chain: {best_ms(unfused_chain, x, y):.3f} ms for {n:,} elements")


@njit(parallel=True)
def fused(x, y, out):
    # BEGIN SOLUTION
    for i in prange(x.shape[0]):
        out[i] = (x[i] * y[i] + np.float32(1.0)) * x[i] - y[i]
    # END SOLUTION


# %%
from minifw.labs.checks import check_fused_kernel

check_fused_kernel(fused)

# %% [markdown]
# **Next:** lab 7 trains a network on handwritten digits and draws what happened. In a terminal,
# `minifw doctor` shows this machine's kernels, threads and CUDA status.
