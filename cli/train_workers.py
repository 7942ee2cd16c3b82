"""``minifw train --workers N``: the same training, data-parallel over N MPI ranks.

The command relaunches itself under the ``mpich`` wheel's ``mpiexec`` (one
compute thread per rank); each rank runs :func:`minifw.compat.data_parallel.run_ddp`
and only rank 0 prints, reports progress and writes the checkpoint.
"""

from __future__ import annotations

import os
import sys
import time

from minifw_cli.common import console, fail, strict_json

from minifw.i18n import _


def check(style: str, config, solver, tensorboard, workers: int, resume=None, model: str = "mlp",
          epochs=None) -> None:
    if workers < 1:
        fail(f"--workers {workers}: " + _("give at least 1"))
    if style not in ("pytorch", "tf1") or config or solver:
        fail(_("--workers trains with PyTorch's DistributedDataParallel (or TF1's hand-placed allreduce, --style "
               "tf1); it cannot be used with --style {style} or Caffe files (use --style pytorch)").format(style=style))
    if style == "tf1" and (model != "mlp" or resume):
        fail(_("--workers with --style tf1 trains the MLP from its initial weights (no --model cnn, no --resume); "
               "use --style pytorch for those"))
    if tensorboard:
        fail(_("--workers with --tensorboard is not supported yet; train without one of them"))
    if resume:
        _check_resume(resume, model, epochs)


def _check_resume(path: str, model: str, epochs) -> None:
    """Refuse a checkpoint that cannot be resumed before any rank starts (one line each)."""
    from minifw.checkpoint import load_with_metadata
    from minifw.compat.styles import RECIPES

    try:
        _weights, meta = load_with_metadata(path)
    except (OSError, ValueError) as e:  # CheckpointError is a ValueError; a missing file an OSError
        fail(f"--resume: {e}")
    if meta.get("model") != model:
        fail(f"--resume {path}: " + _("the checkpoint holds the {model} model; train it with --model {name}").format(
            model=repr(meta.get("model")), name=meta.get("model")))
    done, total = int(meta.get("epochs", 0)), epochs or RECIPES[model].epochs
    if done >= total:
        fail(f"--resume {path}: " + _("the checkpoint has already trained {done} epochs; give --epochs more than "
                                      "{done} (the total, counting those)").format(done=done))


def launch(workers: int) -> None:
    """In the command the user typed: start the ranks, each running this same command line."""
    from minifw.distributed import launch as L

    L.run([sys.executable, "-m", "minifw_cli", *sys.argv[1:]], workers,
          keep_banner="--debug" in sys.argv)


def rank_main(model: str, epochs, seed: int, save, as_json: bool, reporter_cls, resume=None,
              style: str = "pytorch") -> None:
    """In each rank: train data-parallel; rank 0 alone prints and saves."""
    import minifw as mf
    import minifw.distributed as dist
    from minifw.compat.data_parallel import run_ddp, save_training

    t0 = time.perf_counter()
    dist.init_process_group()
    try:
        rank = dist.get_rank()
        reporter = reporter_cls(_("Epoch")) if rank == 0 and not as_json else None
        if style == "tf1":
            from minifw.compat.replicated import run_replicated

            result, figures = run_replicated(model, epochs=epochs, seed=seed, reporter=reporter)
            figures["epochs_done"] = len(result.epochs)
        else:
            result, figures = run_ddp(model, epochs=epochs, seed=seed, reporter=reporter, resume=resume)
        if rank != 0:
            return
        if save:
            dist.set_activity(f"rank 0 writing {save}")
            meta = {"style": style, "model": model, "epochs": figures["epochs_done"],
                "test_accuracy": result.test_accuracy, "seed": seed, "world_size": figures["world_size"],
                "resumed_from": resume}
            if style == "tf1":  # Adam's moments live in graph variables: the weights alone, not resumable
                mf.save(result.module.state_dict(), save, metadata=meta)
            else:
                save_training(save, result.module, result.optimizer, meta)
        if as_json:
            out = result.to_json()
            out.update(figures, wall_seconds=time.perf_counter() - t0, cpus=os.cpu_count(), checkpoint=save)
            print(strict_json(out), flush=True)
            return
        from minifw_cli.train_cmd import _print_result

        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        _print_result(result, load)
        sps = figures["samples_per_second_per_rank"]
        console.print(_("{ranks} ranks · global batch {batch} ({per_rank} per rank) · samples/s per rank {speeds} · "
                        "communication {comm} s per rank").format(
                            ranks=figures["world_size"], batch=figures["global_batch"],
                            per_rank=figures["batch_per_rank"], speeds=", ".join(f"{v:.0f}" for v in sps),
                            comm=", ".join(f"{v:.2f}" for v in figures["comm_seconds_per_rank"])), highlight=False)
        if save:
            console.print(_("saved weights to {path}").format(path=save), highlight=False)
    finally:
        dist.destroy_process_group()
