"""Run under mpiexec: one epoch of the MLP with DDP, then the same epoch TF1-style (allreduce nodes placed by
hand); writes OUT/rank<r>.npz with both sets of final weights and both loss curves."""

import sys

import numpy as np

import minifw.distributed as dist
from minifw.compat.data_parallel import run_ddp
from minifw.compat.replicated import run_replicated

out = sys.argv[1]
dist.init_process_group()
rank = dist.get_rank()
ddp, _ = run_ddp("mlp", epochs=1, seed=3)
tf1, figures = run_replicated("mlp", epochs=1, seed=3)
res = {"tf1_losses": np.array(tf1.batch_losses), "ddp_losses": np.array(ddp.batch_losses),
       "allreduce_nodes": np.array(figures["allreduce_nodes"]), "comm": np.array(figures["comm_seconds_per_rank"])}
if rank == 0:
    res.update({f"ddp/{k}": np.asarray(v) for k, v in ddp.module.state_dict().items()})
    res.update({f"tf1/{k}": np.asarray(v) for k, v in tf1.module.state_dict().items()})
    res["tf1_test_accuracy"] = np.array(tf1.test_accuracy)
    res["ddp_test_accuracy"] = np.array(ddp.test_accuracy)
np.savez(f"{out}/rank{rank}.npz", **res)
dist.destroy_process_group()
