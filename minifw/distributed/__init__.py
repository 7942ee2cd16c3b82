"""Data-parallel training on MPI, under PyTorch's ``torch.distributed`` names.

    # train.py, run with: mpiexec -n 2 python train.py
    import minifw.distributed as dist
    from minifw.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group()                 # rank and world size from mpiexec
    model = DDP(Net())                        # rank 0's weights everywhere; gradients averaged
    sampler = DistributedSampler(train)       # each rank its share of every epoch

The engine is MPI (mpi4py and the ``mpich`` wheel's ``mpiexec``), as for
Horovod and most HPC training; ``import minifw`` does not import mpi4py.
"""

from __future__ import annotations

from .activity import set_activity
from .graph_ops import allreduce
from .mpi import INSTALL_HINT, DistributedError, MPIUnavailable, find_mpiexec
from .process_group import (
    DistributedTimeout,
    ReduceOp,
    Work,
    abort,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    comm_seconds,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_backend", "all_reduce", "broadcast", "all_gather", "barrier", "ReduceOp", "Work",
           "DistributedError", "DistributedTimeout", "MPIUnavailable", "INSTALL_HINT", "find_mpiexec", "abort",
           "comm_seconds", "set_activity", "allreduce"]
