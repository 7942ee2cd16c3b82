"""mf.explore rendered for real: a notebook executed with its widget state saved, opened in JupyterLab, looked
at by headless Chromium (driven over the DevTools protocol so the page gets real time to load), one click on
Next, and the screenshot checked for the highlight colour on the highlighted row and node.

Chromium is a system package (Debian: ``apt install chromium``; CI's ``.ci/run`` installs it)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import pytest

from minifw.tensorboard.board import find_chromium, free_port

pytest.importorskip("anywidget", reason="mf.explore's widgets need anywidget (the labs and test extras)")
pytest.importorskip("jupyterlab", reason="the page is JupyterLab's (the labs and test extras)")
websocket = pytest.importorskip("websocket", reason="websocket-client (the test extra) speaks DevTools to Chromium")
Image = pytest.importorskip("PIL.Image", reason="pillow (the test extra) reads the screenshot back")
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no Chromium on PATH (Debian: apt install "
                                    "chromium; CI's .ci/run installs it)")

AMBER = (255, 179, 0)  # the highlight colour of explore.css (row background, node fill)
CELL = ('import minifw as mf\nw = mf.explore("x - exp(-2*sin(4*x)**2)", x="pi/16")\nw.step = 4\nw')


def _notebook(path, data_dir) -> None:
    """Execute CELL with nbclient and save the notebook with its widget state (what JupyterLab restores),
    signed as trusted in ``data_dir`` (JupyterLab shows widgets, like any rich output, only from trusted
    notebooks: outputs you ran yourself)."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    assert "widgets" in nb.metadata
    NotebookNotary(data_dir=str(data_dir)).sign(nb)
    nbformat.write(nb, str(path))



def _stop(proc) -> None:
    """Terminate a child we started; kill it if it has not gone in 20 s."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

class _Lab:
    """``jupyter lab`` on 127.0.0.1 over ``root``, its settings, workspaces and runtime files in ``root`` too."""

    def __init__(self, root):
        self.port, self.token = free_port(), "minifw-explore-test"
        env = dict(os.environ)
        for var, sub in (("JUPYTER_CONFIG_DIR", "cfg"), ("JUPYTER_RUNTIME_DIR", "rt"), ("JUPYTER_DATA_DIR", "data"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "ws"), ("JUPYTERLAB_SETTINGS_DIR", "st")):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
            env[var] = os.path.join(root, sub)
        self.log = open(os.path.join(root, "lab.log"), "w")
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={self.port}",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=root)
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/status?token={self.token}", timeout=2)
                break
            except OSError as e:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.close()
                    raise RuntimeError(f"jupyter lab did not start: {open(self.log.name).read()[-2000:]}") from e
                time.sleep(0.3)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{path}?reset&token={self.token}"

    def close(self) -> None:
        _stop(self.proc)
        self.log.close()


class _Chromium:
    """Headless Chromium with a DevTools socket: navigate, evaluate JavaScript, take screenshots."""

    def __init__(self, size=(1400, 900)):
        self.profile = tempfile.mkdtemp()
        cmd = [find_chromium(), "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-extensions", "--disable-background-networking", "--disable-dev-shm-usage",
               f"--user-data-dir={self.profile}", f"--window-size={size[0]},{size[1]}",
               "--remote-debugging-port=0", "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ws_url = next(line.split(" on ", 1)[1].strip() for line in self.proc.stderr
                          if "DevTools listening on" in line)
            port = ws_url.split(":")[2].split("/")[0]
            page = next(t for t in json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10))
                        if t["type"] == "page")
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        except BaseException:
            self.close()
            raise
        self.n = 0

    def call(self, method: str, **params) -> dict:
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]

    def js(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 90.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.js(expression)
            if v:
                return v
            time.sleep(0.5)
        raise AssertionError(f"the page never showed {expression}")

    def screenshot(self, path) -> np.ndarray:
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return np.asarray(Image.open(path).convert("RGB")).astype(int)

    def close(self) -> None:
        if getattr(self, "ws", None) is not None:
            self.ws.close()
        _stop(self.proc)


RECT = """(() => { const e = document.querySelector(%r); if (!e) return null;
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()"""


def _amber_share(img: np.ndarray, rect) -> float:
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    box = img[max(0, y0):y1, max(0, x0):x1]
    return float((np.abs(box - np.array(AMBER)).sum(-1) < 40).mean()) if box.size else 0.0


@pytest.mark.slow  # a kernel, JupyterLab and Chromium: ~20 s
@needs_chromium
def test_jupyterlab_shows_the_highlighted_row_and_node(tmp_path):
    (tmp_path / "data").mkdir()
    _notebook(tmp_path / "explore.ipynb", tmp_path / "data")
    lab = _Lab(str(tmp_path))
    try:
        browser = _Chromium()
        try:
            browser.call("Page.enable")
            browser.call("Page.navigate", url=lab.url("explore.ipynb"))
            try:
                browser.wait_for("!!document.querySelector('.mf-explore g.mf-hl-node')")
            except AssertionError:
                browser.screenshot(tmp_path / "never.png")  # what the page showed instead, for the report
                raise
            time.sleep(0.5)  # layout settles
            # the state saved at step 4 (the 5th step): v_3's adjoint, carried back from v_4
            assert browser.js("document.querySelector('.mf-explore g.mf-hl-node > title').textContent") == "v_3"
            assert browser.js("document.querySelector('.mf-explore tr.mf-hl td').textContent") == "v̄_3"
            assert browser.js("document.querySelector('.mf-explore g.mf-hl-edge > title').textContent") == "v_3->v_4"
            img = browser.screenshot(tmp_path / "step5.png")
            node = browser.js(RECT % ".mf-explore g.mf-hl-node")
            row = browser.js(RECT % ".mf-explore tr.mf-hl")
            assert _amber_share(img, node) > 0.3 and _amber_share(img, row) > 0.3
            table = browser.js(RECT % ".mf-explore .mf-tables")
            assert _amber_share(img, table) < 0.2  # one row lit, not the whole table
            # Next, clicked in the page: the highlight moves on to v_2 (no kernel round trip needed)
            browser.js("[...document.querySelectorAll('.mf-explore button')].find(b => b.textContent === 'Next')"
                       ".click()")
            browser.wait_for("document.querySelector('.mf-explore g.mf-hl-node > title').textContent === 'v_2'",
                             timeout=15)
            assert browser.js("document.querySelector('.mf-explore tr.mf-hl td').textContent") == "v̄_2"
            img = browser.screenshot(tmp_path / "step6.png")
            assert _amber_share(img, browser.js(RECT % ".mf-explore g.mf-hl-node")) > 0.3
            # the mode switch, in the page: forward primal starts again at the input row v_0
            browser.js("const s = document.querySelector('.mf-explore select'); s.value = 'primal'; "
                       "s.dispatchEvent(new Event('change'))")
            browser.wait_for("document.querySelector('.mf-explore g.mf-hl-node > title').textContent === 'v_0'",
                             timeout=15)
            assert browser.js("document.querySelector('.mf-explore tr.mf-hl td').textContent") == "v_0"
            assert browser.js("!document.querySelector('.mf-explore g.mf-hl-edge')")
        finally:
            browser.close()
    finally:
        lab.close()
