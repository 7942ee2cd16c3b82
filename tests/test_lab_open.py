"""`minifw lab open 1` starts JupyterLab (a dependency now) on the learner's copy; flags pass through (issue 16)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from minifw.tensorboard.board import free_port


@pytest.mark.slow
def test_lab_open_starts_jupyterlab_on_the_learners_copy(tmp_path):
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen([sys.executable, "-m", "minifw_cli", "lab", "open", "1", str(tmp_path / "work"),
                             "--no-browser", f"--port={port}", "--ServerApp.token=minifw-test",
                             "--ServerApp.ip=127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/01_dual_numbers.ipynb"
                                            "?content=0&token=minifw-test", timeout=2) as r:
                    answer = json.loads(r.read())
                break
            except OSError:
                time.sleep(0.5)
        assert answer is not None, f"JupyterLab did not answer on port {port} (exit {proc.poll()})"
        assert answer["name"] == "01_dual_numbers.ipynb" and answer["type"] == "notebook"
        assert (tmp_path / "work" / "01_dual_numbers.ipynb").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert "Traceback" not in out, out[-2000:]
