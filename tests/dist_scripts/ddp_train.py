"""Train a small float64 MLP for a few epochs; run alone (``single``) or under mpiexec (``ddp``).

The PyTorch DDP recipe with minifw's imports: DistributedSampler, a per-rank batch of
GLOBAL / world_size, DistributedDataParallel with small buckets (several allreduces per step).
Writes the final parameters to OUT/<mode>_rank<r>.npz.
"""

import sys

import numpy as np

import minifw as mf
import minifw.distributed as dist
from minifw import nn, optim
from minifw.data import DataLoader, DistributedSampler, TensorDataset
from minifw.nn import functional as F
from minifw.nn.parallel import DistributedDataParallel as DDP

out, mode = sys.argv[1], sys.argv[2]
GLOBAL_BATCH, EPOCHS = 32, 3
mf.set_default_dtype(mf.float64)

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 8))
y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64)
data = TensorDataset(x, y)

if mode == "ddp":
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
else:
    rank, world = 0, 1

mf.manual_seed(1234 + rank)  # different initial weights per rank: DDP must broadcast rank 0's
net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
if mode == "ddp":
    model = DDP(net, bucket_cap_mb=0.001)  # ~1 KB buckets: 3 buckets for 450 parameters
    assert len(model.bucket_sizes) > 1, model.bucket_sizes
else:
    model = net
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=7, drop_last=True)
loader = DataLoader(data, batch_size=GLOBAL_BATCH // world, sampler=sampler, drop_last=True)
for epoch in range(EPOCHS):
    sampler.set_epoch(epoch)
    for xb, yb in loader:
        opt.zero_grad()
        if epoch < EPOCHS - 1:
            F.cross_entropy(model(xb), yb).backward()
        else:  # gradient accumulation: two backwards into .grad before the step (DDP averages each)
            h = len(yb) // 2
            (F.cross_entropy(model(xb[:h]), yb[:h]) * 0.5).backward()
            (F.cross_entropy(model(xb[h:]), yb[h:]) * 0.5).backward()
        opt.step()
np.savez(f"{out}/{mode}_rank{rank}.npz", **{k: v for k, v in net.state_dict().items()})
if mode == "ddp":
    dist.destroy_process_group()
