"""Run under mpiexec: each collective once, results written to OUT/rank<r>.json for the test to check."""

import json
import sys

import numpy as np

import minifw as mf
import minifw.distributed as dist

out = sys.argv[1]
dist.init_process_group()
rank, size = dist.get_rank(), dist.get_world_size()
res = {"rank": rank, "size": size, "backend": dist.get_backend()}

t = mf.tensor(np.arange(4, dtype=np.float64) + rank)
dist.all_reduce(t)
res["sum"] = t.numpy().tolist()
t = mf.tensor(np.array([rank + 1.0]))
dist.all_reduce(t, op=dist.ReduceOp.MAX)
res["max"] = t.numpy().tolist()
t = mf.tensor(np.array([2.0 * rank]))
dist.all_reduce(t, op=dist.ReduceOp.AVG)
res["avg"] = t.numpy().tolist()
t = mf.tensor(np.full(3, 10.0 * rank + 7))
dist.broadcast(t, src=size - 1)
res["broadcast"] = t.numpy().tolist()
outs = [mf.zeros(2, dtype=mf.int64) for _ in range(size)]
dist.all_gather(outs, mf.tensor(np.array([rank, rank * rank], dtype=np.int64)))
res["gather"] = [o.numpy().tolist() for o in outs]
work = dist.all_reduce(mf.tensor(np.ones(5)), async_op=True)
res["async_wait"] = work.wait()
dist.barrier()
res["comm_seconds"] = dist.comm_seconds()
dist.destroy_process_group()
res["initialized_after_destroy"] = dist.is_initialized()
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump(res, f)
