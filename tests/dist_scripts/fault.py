"""Run under mpiexec -n 2: rank 1 misbehaves during DDP training (``kill``, ``hang`` or ``raise`` at step 3)."""

import os
import signal
import sys
import time

import numpy as np

import minifw as mf
import minifw.distributed as dist
from minifw import nn, optim
from minifw.nn import functional as F
from minifw.nn.parallel import DistributedDataParallel as DDP

kind = sys.argv[1]
dist.init_process_group(timeout=float(sys.argv[2]) if len(sys.argv) > 2 else None)
rank = dist.get_rank()
model = DDP(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)))
opt = optim.SGD(model.parameters(), lr=0.1)
x, y = mf.tensor(np.ones((4, 4), np.float32)), mf.tensor(np.array([0, 1, 0, 1]))
for step in range(1, 1000):
    if rank == 1 and step == 3:
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif kind == "hang":
            dist.set_activity("sleeping on purpose at step 3")
            time.sleep(600)
        else:
            raise ValueError("a bug on rank 1 at step 3")
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    time.sleep(0.01)
print("rank", rank, "finished: the fault did not stop the job", flush=True)
