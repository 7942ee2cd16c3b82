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
# %% [markdown] zh
# # 实验 6 — 内核：Python 循环、numba CPU 内核、CUDA 内核
#
# *30–40 分钟。* 每个框架的底下都是*内核*（kernel）：一个遍历数组元素的循环，经过编译。你会把同一个计算写三遍——
# 写成 Python 循环、写成 numba CPU 内核、写成带有线程块与网格的 CUDA 内核——然后把一串运算融合进一个内核。
# **练习 6.1：** 一个比未融合的 numpy 运算链更快的融合内核。
#
# CUDA 部分在有 GPU 时运行在真实的 GPU 上，否则运行在 **numba 的 CUDA 模拟器**上（每个 GPU 线程变成一个
# Python 线程：很慢，但代码相同，索引方式也相同）。模拟器必须在导入 numba 之前选定，所以这个单元格放在最前面。

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
# %% [markdown] zh
# ## 1. Python 循环
#
# `out[i] = a·x[i] + y[i]`（BLAS 把它叫作 *saxpy*）。一次处理一个元素，每一步都要解释执行。

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
# %% [markdown] zh
# ## 2. 同一个循环，用 numba 为 CPU 编译
#
# `@njit` 按它第一次见到的参数类型把函数编译成机器码（第一次调用要付出编译的代价）。
# `prange` 把循环拆分到多个 CPU 线程上。

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
# %% [markdown] zh
# 编译之后，这个循环和 numpy 一样快——两者受限的都是内存带宽，而不是算术运算。
#
# ## 3. CUDA 内核：网格、线程块、线程
#
# GPU 为每个线程运行一次循环的*循环体*，一次成千上万个线程。线程组成**线程块**（block，最多 1024 个线程，
# 它们可以共享高速内存），线程块再组成**网格**（grid）。每个线程计算自己的全局索引
# `i = blockIdx.x · blockDim.x + threadIdx.x`（即 `cuda.grid(1)`），守卫条件 `if i < n` 处理最后那个没有填满的
# 线程块。启动语句 `kernel[blocks, threads](...)` 决定网格的形状。

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
# %% [markdown] zh
# 在真实的 GPU 上，同一个内核用每块 256 个线程、`ceil(n / 256)` 个线程块，能以内存速度处理数百万个元素；
# 而与设备之间的数据拷贝（`to_device`、`copy_to_host`）往往比内核本身还贵，所以框架总是把张量留在 GPU 上。
#
# ## 4. 算子融合：一遍代替四遍
#
# 在 numpy 里，`(x·y + 1)·x − y` 要遍历内存四遍，每一遍都写出一个临时数组。**融合**内核只读一次 `x` 和 `y`，
# 只写一次结果。minifw 的静态编译器会生成这样的内核（实验 4）；下面是它为 `a·b / (a + b)` 生成的源代码：

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
# (index by index), then times both on a million elements, side by side (the median of 7 runs each):
# yours must be the faster. A numpy expression does not count — it allocates a temporary array per
# step, which is exactly what fusion removes — and neither does an uncompiled Python loop.
# %% [markdown] zh
# ## 练习 6.1 — 融合这条运算链
#
# 编写 `fused(x, y, out)`：一个 numba 内核，在一个循环里计算 `out[i] = (x[i]·y[i] + 1)·x[i] − y[i]`
# （用 `prange` 实现多线程）。检查程序先在几种大小上把它和未融合的 numpy 运算链逐个下标比较，然后在一百万个
# 元素上把两者交替计时（各取 7 次运行的中位数）：你的必须更快。numpy 表达式不算数——它每一步都分配一个临时数组，
# 而这正是算子融合要消除的——未经编译的 Python 循环也不算。

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
# %% [markdown] zh
# **下一步：** 实验 7 在手写数字上训练一个网络，并把训练过程画出来。在终端里，
# `minifw doctor` 会显示本机的内核、线程和 CUDA 状态。
