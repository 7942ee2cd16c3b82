"""``minifw train --workers N``: data-parallel training over MPI ranks started by the mpich wheel's mpiexec."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import minifw as mf
from minifw import distributed as dist

pytestmark = pytest.mark.slow  # each test launches real MPI ranks with mpiexec: the full tier (CI) runs them

needs_mpi = pytest.mark.skipif(not dist.is_available(),
                               reason="mpi4py is not installed (pip install 'minifw[distributed]')")


def _run(*args, timeout=120, env=None):
    return subprocess.run([sys.executable, "-m", "minifw_cli", "train", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@needs_mpi
def test_two_workers_follow_one_worker_on_the_same_global_batch(tmp_path):
    ck = tmp_path / "w2.npz"
    one = _run("--workers", "1", "--epochs", "2", "--json")
    two = _run("--workers", "2", "--epochs", "2", "--json", "--save", str(ck))
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    a, b = json.loads(one.stdout), json.loads(two.stdout)  # only rank 0 prints: one JSON object
    assert (a["world_size"], b["world_size"]) == (1, 2) and b["batch_per_rank"] == 16 and a["global_batch"] == 32
    assert b["final_loss"] == pytest.approx(a["final_loss"], rel=1e-3)  # measured: ~1e-8
    assert abs(b["test_accuracy"] - a["test_accuracy"]) <= 1 / 360 and b["test_accuracy"] > 0.8
    assert len(b["samples_per_second_per_rank"]) == 2 and min(b["samples_per_second_per_rank"]) > 0
    assert len(b["comm_seconds_per_rank"]) == 2 and min(b["comm_seconds_per_rank"]) > 0
    sd, meta = mf.checkpoint.load_with_metadata(ck)
    assert meta["world_size"] == 2 and "fc1.weight" in sd  # the plain model's names: loads without DDP


@needs_mpi
def test_killing_a_rank_ends_the_job_with_a_message_naming_it(tmp_path):
    status = tmp_path / "status"
    proc = subprocess.Popen([sys.executable, "-m", "minifw_cli", "train", "--workers", "2", "--epochs", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MINIFW_DIST_STATUS": str(status)})
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # wait until rank 1 is training
            reports = dist.activity.read(status, 2)
            if 1 in reports and "step" in reports[1]["activity"]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("rank 1 never started training")
        os.kill(reports[1]["pid"], signal.SIGKILL)
        t0 = time.time()
        out, err = proc.communicate(timeout=30)
        assert time.time() - t0 < 30
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in err and "BAD TERMINATION" not in out + err
    assert "rank 1 of 2 died (exit code 9 (killed by signal 9)) while:" in err and "of step" in err, err


@pytest.mark.slow  # two 2-rank jobs; the same equivalence is in the fast tier in test_replicated.py
@needs_mpi
def test_tf1_style_workers_follow_ddp(tmp_path):
    ck = tmp_path / "tf1.npz"
    ddp = _run("--workers", "2", "--epochs", "1", "--json")
    tf1 = _run("--workers", "2", "--epochs", "1", "--json", "--style", "tf1", "--save", str(ck))
    assert ddp.returncode == 0 and tf1.returncode == 0, ddp.stderr + tf1.stderr
    a, b = json.loads(ddp.stdout), json.loads(tf1.stdout)
    assert b["style"] == "tf1" and b["world_size"] == 2 and b["allreduce_nodes"] == 4
    assert b["final_loss"] == pytest.approx(a["final_loss"], rel=1e-5)  # float32 graph vs eager: ~1e-7
    assert mf.checkpoint.load_with_metadata(ck)[1]["style"] == "tf1"


def test_workers_refuse_other_styles_in_one_line():
    r = _run("--workers", "2", "--style", "keras")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "--workers trains with PyTorch's DistributedDataParallel" in r.stderr
    r = _run("--workers", "2", "--style", "tf1", "--model", "cnn")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "trains the MLP" in r.stderr


def test_workers_without_mpi_say_how_to_install(tmp_path):
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['mpi4py'] = None  # as if not installed\n")
    r = _run("--workers", "2", env={"PYTHONPATH": str(tmp_path)})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "pip install 'minifw[distributed]'" in r.stderr, r.stderr


@needs_mpi
def test_a_run_saved_on_two_workers_resumes_on_one_as_if_never_stopped(tmp_path):
    ck, ck2 = tmp_path / "e1.npz", tmp_path / "e2.npz"
    straight = _run("--workers", "1", "--epochs", "2", "--json")
    first = _run("--workers", "2", "--epochs", "1", "--json", "--save", str(ck))
    assert straight.returncode == 0 and first.returncode == 0, straight.stderr + first.stderr
    resumed = _run("--workers", "1", "--epochs", "2", "--json", "--resume", str(ck), "--save", str(ck2))
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(straight.stdout), json.loads(resumed.stdout)
    assert b["start_epoch"] == 1 and [e["epoch"] for e in b["epochs"]] == [2]
    assert b["final_loss"] == pytest.approx(a["final_loss"], rel=1e-6)  # measured: ~1e-9 (Adam's moments kept)
    assert b["test_accuracy"] == a["test_accuracy"]
    sd, meta = mf.checkpoint.load_with_metadata(ck2)
    assert sorted(sd) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]  # mf.load: the model alone
    assert meta["epochs"] == 2 and meta["world_size"] == 1 and meta["optimizer"]["type"] == "Adam"
    extra = mf.checkpoint.load_extra(ck2)
    assert extra["optimizer/0/exp_avg"].shape == sd["fc1.weight"].shape and int(extra["optimizer/0/step"]) > 0


def test_resume_refusals_are_one_line(tmp_path):
    from minifw.compat.data_parallel import save_training
    from minifw.compat.styles import MLP

    net = MLP()
    ck = tmp_path / "ck.npz"
    save_training(str(ck), net, mf.optim.Adam(net.parameters()), {"model": "mlp", "epochs": 3})
    for args, says in [(["--resume", str(ck)], "give --workers N as well"),
                       (["--workers", "2", "--resume", str(ck), "--epochs", "3"], "already trained 3 epochs"),
                       (["--workers", "2", "--resume", str(ck), "--model", "cnn"], "holds the 'mlp' model"),
                       (["--workers", "2", "--resume", str(tmp_path / "none.npz")], "no such checkpoint")]:
        r = _run(*args)
        assert r.returncode != 0 and "Traceback" not in r.stderr and says in r.stderr, (args, r.stderr)


@needs_mpi
def test_two_workers_reach_97_percent_on_the_digits_test_split():
    r = _run("--workers", "2", "--epochs", "30", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["world_size"] == 2 and out["test_accuracy"] >= 0.97, out["test_accuracy"]  # the bar
